// Google Benchmark microbenchmarks of the spool's CPU primitives: crc32c and the batch
// codec (serialize + zstd, and decompress + parse) on synthetic batches.
//
//   build/bench/micro_bench --benchmark_filter=Codec
#include <benchmark/benchmark.h>

#include <string>

#include "bench/synth.h"
#include "spool/segment.h"
#include "util/crc32c.h"

namespace docshift::bench {
namespace {

void BM_Crc32c(benchmark::State& state) {
  std::string data(static_cast<size_t>(state.range(0)), 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + (i >> 7));
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = crc32c::Extend(crc, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32c)->Arg(4096)->Arg(64 << 10)->Arg(1 << 20);

pb::ChangeBatch MakeBatch(int events, bool nested) {
  SynthConfig cfg;
  cfg.shape = nested ? DocShape::kNested : DocShape::kYcsb;
  pb::ChangeBatch b;
  FillBatch(cfg, 0, events, &b);
  b.set_first_seq(1);
  return b;
}

void BM_CodecEncode(benchmark::State& state) {
  const pb::ChangeBatch b = MakeBatch(static_cast<int>(state.range(0)), state.range(1) != 0);
  spool::BatchCodec codec(1);
  std::string out;
  uint64_t raw = 0;
  for (auto _ : state) {
    if (!codec.Encode(b, &out, &raw).ok()) state.SkipWithError("encode failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw));
  state.counters["ratio"] = static_cast<double>(raw) / static_cast<double>(out.size());
}
BENCHMARK(BM_CodecEncode)->ArgNames({"events", "nested"})->Args({100, 0})->Args({100, 1});

void BM_CodecDecode(benchmark::State& state) {
  const pb::ChangeBatch b = MakeBatch(static_cast<int>(state.range(0)), state.range(1) != 0);
  spool::BatchCodec codec(1);
  std::string frame;
  uint64_t raw = 0;
  if (!codec.Encode(b, &frame, &raw).ok()) {
    state.SkipWithError("encode failed");
    return;
  }
  pb::ChangeBatch out;
  for (auto _ : state) {
    if (!codec.Decode(frame, "mem", 0, &out).ok()) state.SkipWithError("decode failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * b.events_size());
}
BENCHMARK(BM_CodecDecode)->ArgNames({"events", "nested"})->Args({100, 0})->Args({100, 1});

void BM_Synth(benchmark::State& state) {
  SynthConfig cfg;
  cfg.shape = state.range(0) ? DocShape::kNested : DocShape::kYcsb;
  pb::ChangeBatch b;
  uint64_t next = 0;
  for (auto _ : state) {
    FillBatch(cfg, next, 100, &b);
    next += 100;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 100);
}
BENCHMARK(BM_Synth)->ArgName("nested")->Arg(0)->Arg(1);

}  // namespace
}  // namespace docshift::bench

BENCHMARK_MAIN();
