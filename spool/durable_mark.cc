#include "spool/durable_mark.h"

#include <chrono>
#include <utility>

#include "proto/spool.pb.h"
#include "spool/checkpoint.h"
#include "spool/format.h"
#include "spool/record.h"

namespace docshift::spool {
namespace {

std::string MarkPath(const std::string& dir) { return JoinPath(dir, kDurableMarkFile); }

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

DurableMark ReadDurableMark(Env* env, const std::string& spool_dir) {
  pb::DurableMark m;
  if (!ReadStateFile(env, MarkPath(spool_dir), kDurableMarkMagic, kRecordDurableMark, &m).ok()) {
    return {};
  }
  return {m.segment_first_seq(), m.durable_bytes()};
}

uint64_t ReadableBytes(const DurableMark& mark, uint64_t segment_first_seq, bool sealed) {
  if (sealed || mark.segment_first_seq > segment_first_seq) return kNoReadLimit;
  if (mark.segment_first_seq == segment_first_seq) return mark.durable_bytes;
  return 0;
}

DurableMarkPublisher::DurableMarkPublisher(Env* env, std::string spool_dir)
    : env_(env), path_(MarkPath(spool_dir)) {}

Status DurableMarkPublisher::Publish(uint64_t segment_first_seq, uint64_t durable_bytes) {
  std::lock_guard<std::mutex> l(mu_);
  // Never backwards, and never the same mark twice (the first one is always published).
  if (published_ && std::make_pair(segment_first_seq, durable_bytes) <=
                        std::make_pair(last_.segment_first_seq, last_.durable_bytes)) {
    return Status::OK();
  }
  pb::DurableMark m;
  m.set_segment_first_seq(segment_first_seq);
  m.set_durable_bytes(durable_bytes);
  m.set_published_wall_ms(WallMs());
  std::string buf = EncodePreamble(kDurableMarkMagic);
  EncodeRecord(kRecordDurableMark, m.SerializeAsString(), &buf);
  RETURN_IF_ERROR_CTX(env_->PublishFile(path_, buf), "publishing the spool's durable mark");
  last_ = {segment_first_seq, durable_bytes};
  published_ = true;
  return Status::OK();
}

}  // namespace docshift::spool
