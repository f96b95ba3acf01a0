// SpoolWriter / SpoolReader: recovery, the fault-injecting crash tests (nothing
// acknowledged is ever lost, nothing is ever half there), locking, and retention.
#include "spool/spool.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "spool/apply_lock.h"
#include "spool/checkpoint.h"
#include "spool/spool_test_util.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/fault_injection_env.h"
#include "util/test_util.h"

namespace docshift::spool {
namespace {

using docshift::test_util::ExpectCorruptionAt;
using docshift::test_util::ReadBytes;
using docshift::test_util::TempDir;
using docshift::test_util::WriteBytes;

using google::protobuf::util::MessageDifferencer;
namespace fs = std::filesystem;

using spool_testing::NewBatch;
using spool_testing::Opts;

pb::ApplyCheckpoint Ckpt(uint64_t applied) {
  pb::ApplyCheckpoint c;
  c.set_applied_seq(applied);
  return c;
}

// Every batch of every segment (zero-event ones included), checking that sealed
// segments are sealed and the open one ends cleanly.
Status AllBatches(Env* env, const SpoolView& view, std::vector<pb::ChangeBatch>* out) {
  for (const auto& seg : view.segments) {
    ASSIGN_OR_RETURN(auto r, SegmentReader::Open(env, seg.path));
    pb::ChangeBatch b;
    Status s;
    while ((s = r->Next(&b)).ok()) out->push_back(b);
    if (!s.IsEndOfFile()) return s;
    if (seg.sealed && !r->sealed()) return Status::Corruption(seg.path + ": not sealed");
    if (!seg.sealed && r->has_header() && r->stop() != RecordScanner::Stop::kCleanEnd) {
      return Status::Corruption(seg.path + ": open segment does not end cleanly: " +
                                r->stop_reason());
    }
  }
  return Status::OK();
}

// Events through SpoolReader, as apply reads them.
Status ReadEvents(Env* env, const std::string& dir, uint64_t from_seq, bool include_open,
                  std::vector<std::pair<uint64_t, pb::ChangeEvent>>* out) {
  SpoolView view;
  RETURN_IF_ERROR(OpenSpoolView(env, dir, &view));
  SpoolReader::Options ro;
  ro.from_seq = from_seq;
  ro.include_open_segment = include_open;
  ro.compute_file_crc = true;
  SpoolReader reader(env, &view, ro);
  pb::ChangeBatch b;
  Status s;
  while ((s = reader.Next(&b)).ok()) {
    for (int i = 0; i < b.events_size(); ++i) out->emplace_back(b.first_seq() + i, b.events(i));
  }
  return s.IsEndOfFile() ? Status::OK() : s;
}

std::vector<std::string> TempFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() == ".tmp") out.push_back(e.path().string());
  }
  return out;
}

uint64_t EventsIn(const std::vector<pb::ChangeBatch>& v, size_t n) {
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) total += static_cast<uint64_t>(v[i].events_size());
  return total;
}

TEST(SpoolTest, CreateAppendSealReopenRead) {
  TempDir dir;
  RecoveryReport report;
  auto w = SpoolWriter::Open(Opts(dir.path()), &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(report.created);
  EXPECT_EQ((*w)->resume_state().next_seq, 1u);
  EXPECT_EQ((*w)->resume_state().resume_token, "");

  pb::ChangeBatch b1 = NewBatch(3, "t1"), b2 = NewBatch(0, "t2"), b3 = NewBatch(2, "t3");
  ASSERT_TRUE((*w)->Append(&b1).ok());
  EXPECT_EQ(b1.first_seq(), 1u);
  // Not acknowledged before Sync.
  EXPECT_EQ((*w)->resume_state().resume_token, "");
  EXPECT_EQ((*w)->next_seq(), 4u);
  ASSERT_TRUE((*w)->Append(&b2).ok());
  EXPECT_EQ(b2.first_seq(), 4u);
  ASSERT_TRUE((*w)->Sync().ok());
  EXPECT_EQ((*w)->resume_state().resume_token, "t2");
  EXPECT_EQ((*w)->resume_state().next_seq, 4u);
  ASSERT_TRUE((*w)->SealOpenSegment(100).ok());
  ASSERT_EQ((*w)->manifest().segments.size(), 1u);
  ASSERT_TRUE((*w)->Append(&b3).ok());
  ASSERT_TRUE((*w)->Close(200).ok());
  w->reset();

  report = RecoveryReport();
  w = SpoolWriter::Open(Opts(dir.path()), &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_FALSE(report.created);
  EXPECT_EQ(report.ToString(), "clean");
  EXPECT_EQ((*w)->resume_state().next_seq, 6u);
  EXPECT_EQ((*w)->resume_state().resume_token, "t3");
  EXPECT_EQ((*w)->manifest().segments.size(), 2u);
  EXPECT_EQ((*w)->manifest().segments[1].file_name(), SegmentFileName(4));

  std::vector<std::pair<uint64_t, pb::ChangeEvent>> ev;
  ASSERT_TRUE(ReadEvents(Env::Default(), dir.path(), 1, true, &ev).ok());
  ASSERT_EQ(ev.size(), 5u);
  for (size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i].first, i + 1);
  EXPECT_TRUE(MessageDifferencer::Equals(ev[0].second, b1.events(0)));
  EXPECT_TRUE(MessageDifferencer::Equals(ev[4].second, b3.events(1)));
  // From the middle of a batch.
  ev.clear();
  ASSERT_TRUE(ReadEvents(Env::Default(), dir.path(), 3, true, &ev).ok());
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].first, 3u);
  EXPECT_TRUE(MessageDifferencer::Equals(ev[0].second, b1.events(2)));
}

// Capture's namespace filter is recorded in SpoolCreated; a restart with the same filter
// opens the spool, one with another filter is refused naming both, and a spool that
// recorded none (older docshift) opens with any.
TEST(SpoolTest, RecordsTheNamespaceFilterAndRefusesAnother) {
  TempDir dir;
  pb::NamespaceFilterSpec f;
  f.add_include("shop.*");
  f.add_exclude("shop.tmp");
  SpoolWriterOptions o = Opts(dir.path());
  o.namespace_filter = &f;
  {
    auto w = SpoolWriter::Open(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  SpoolView view;
  ASSERT_TRUE(OpenSpoolView(Env::Default(), dir.path(), &view).ok());
  ASSERT_TRUE(view.manifest.created.has_namespace_filter());
  EXPECT_TRUE(MessageDifferencer::Equals(view.manifest.created.namespace_filter(), f));
  EXPECT_EQ(DescribeNamespaceFilter(f), "--include 'shop.*' --exclude 'shop.tmp'");
  EXPECT_EQ(DescribeNamespaceFilter(pb::NamespaceFilterSpec()),
            "no --include/--exclude (every namespace)");

  EXPECT_TRUE(SpoolWriter::Open(o).ok());  // the same filter
  pb::NamespaceFilterSpec other;
  other.add_include("shop.*");
  o.namespace_filter = &other;
  auto refused = SpoolWriter::Open(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsFailedPrecondition());
  EXPECT_NE(refused.status().message().find("was captured with --include 'shop.*' --exclude "
                                            "'shop.tmp', not --include 'shop.*'; restart capture"),
            std::string::npos)
      << refused.status().ToString();

  TempDir old_dir;  // no filter recorded: any filter opens it, none is recorded later
  ASSERT_TRUE(SpoolWriter::Open(Opts(old_dir.path())).ok());
  SpoolWriterOptions o2 = Opts(old_dir.path());
  o2.namespace_filter = &other;
  EXPECT_TRUE(SpoolWriter::Open(o2).ok());
  SpoolView old_view;
  ASSERT_TRUE(OpenSpoolView(Env::Default(), old_dir.path(), &old_view).ok());
  EXPECT_FALSE(old_view.manifest.created.has_namespace_filter());
}

TEST(SpoolTest, RecordsTheDynamoNumberModeAndRefusesAnother) {
  TempDir dir;
  SpoolWriterOptions o = Opts(dir.path());
  o.dynamodb_numbers = "string";
  ASSERT_TRUE(SpoolWriter::Open(o).ok());
  SpoolView view;
  ASSERT_TRUE(OpenSpoolView(Env::Default(), dir.path(), &view).ok());
  EXPECT_EQ(view.manifest.created.dynamodb_numbers(), "string");
  EXPECT_TRUE(SpoolWriter::Open(o).ok());  // the same mode
  o.dynamodb_numbers = "decimal";
  auto refused = SpoolWriter::Open(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsFailedPrecondition());
  EXPECT_NE(refused.status().message().find("was captured with --dynamodb_numbers=string, not decimal"),
            std::string::npos)
      << refused.status().ToString();

  // None recorded (a spool from before the mode existed) means decimal, its only mode.
  TempDir old_dir;
  ASSERT_TRUE(SpoolWriter::Open(Opts(old_dir.path())).ok());
  SpoolWriterOptions o2 = Opts(old_dir.path());
  o2.dynamodb_numbers = "decimal";
  EXPECT_TRUE(SpoolWriter::Open(o2).ok());
  o2.dynamodb_numbers = "double";
  EXPECT_TRUE(SpoolWriter::Open(o2).status().IsFailedPrecondition());
}

TEST(SpoolTest, ReaderCanSkipTheOpenSegment) {
  TempDir dir;
  auto w = SpoolWriter::Open(Opts(dir.path()));
  ASSERT_TRUE(w.ok());
  pb::ChangeBatch b1 = NewBatch(2, "a"), b2 = NewBatch(2, "b");
  ASSERT_TRUE((*w)->Append(&b1).ok());
  ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
  ASSERT_TRUE((*w)->Append(&b2).ok());
  ASSERT_TRUE((*w)->Sync().ok());
  std::vector<std::pair<uint64_t, pb::ChangeEvent>> ev;
  ASSERT_TRUE(ReadEvents(Env::Default(), dir.path(), 1, false, &ev).ok());
  EXPECT_EQ(ev.size(), 2u);
  ev.clear();
  ASSERT_TRUE(ReadEvents(Env::Default(), dir.path(), 1, true, &ev).ok());
  EXPECT_EQ(ev.size(), 4u);
  SpoolView view;
  ASSERT_TRUE(OpenSpoolView(Env::Default(), dir.path(), &view).ok());
  ASSERT_EQ(view.segments.size(), 2u);
  EXPECT_TRUE(view.segments[0].sealed);
  EXPECT_FALSE(view.segments[1].sealed);
  EXPECT_EQ(view.segments[1].first_seq, 3u);
}

TEST(SpoolTest, RollsBySize) {
  TempDir dir;
  SpoolWriterOptions o = Opts(dir.path());
  o.segment_max_bytes = 400;
  auto w = SpoolWriter::Open(o);
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 20; ++i) {
    pb::ChangeBatch b = NewBatch(2, "t" + std::to_string(i), 300);
    ASSERT_TRUE((*w)->Append(&b).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    ASSERT_TRUE((*w)->MaybeRoll(i).ok());
  }
  EXPECT_GT((*w)->manifest().segments.size(), 2u);
  std::vector<std::pair<uint64_t, pb::ChangeEvent>> ev;
  ASSERT_TRUE(ReadEvents(Env::Default(), dir.path(), 1, true, &ev).ok());
  ASSERT_EQ(ev.size(), 40u);
  for (size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i].first, i + 1);
}

// ---- Crash tests: FaultInjectionEnv drops every unsynced byte and unsynced file name ----

// Reopens a crashed spool and checks it against what was appended: the surviving batches
// are exactly a run of `appended` (whole batches, never half) that includes every
// acknowledged one; resume state matches the last surviving batch; sequence numbers
// continue contiguously; a further append, seal and reopen are clean.
void VerifyAfterCrash(FaultInjectionEnv* env, const SpoolWriterOptions& o,
                      const std::vector<pb::ChangeBatch>& appended, size_t acked,
                      uint64_t max_applied, RecoveryReport* recovery = nullptr) {
  RecoveryReport report;
  auto w = SpoolWriter::Open(o, &report);
  if (recovery) *recovery = report;
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(TempFiles(o.dir).empty());

  SpoolView view;
  ASSERT_TRUE(OpenSpoolView(env, o.dir, &view).ok());
  EXPECT_TRUE(view.unexpected_files.empty());
  std::vector<pb::ChangeBatch> got;
  Status s = AllBatches(env, view, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();

  size_t k0 = 0;  // index in `appended` of the first surviving batch
  if (got.empty()) {
    ASSERT_EQ(acked, 0u) << "acknowledged batches lost; recovery: " << report.ToString();
  } else {
    k0 = appended.size();
    for (size_t i = 0; i < appended.size(); ++i) {
      if (MessageDifferencer::Equals(appended[i], got[0])) k0 = i;
    }
    ASSERT_LT(k0, appended.size()) << "first surviving batch was never appended";
    // Only retention removes batches from the front, and only applied ones.
    if (k0 > 0) {
      EXPECT_LE(appended[k0].first_seq() - 1, max_applied);
    }
  }
  const size_t k = k0 + got.size();
  ASSERT_LE(k, appended.size());
  for (size_t j = 0; j < got.size(); ++j) {
    ASSERT_TRUE(MessageDifferencer::Equals(got[j], appended[k0 + j]))
        << "batch " << k0 + j << " differs after recovery";
  }
  ASSERT_GE(k, acked) << "acknowledged batch lost; recovery: " << report.ToString();

  // Resume where the last surviving batch left off.
  const uint64_t next = 1 + EventsIn(appended, k);
  EXPECT_EQ((*w)->resume_state().next_seq, next);
  EXPECT_EQ((*w)->next_seq(), next);
  EXPECT_EQ((*w)->resume_state().resume_token, k == 0 ? "" : appended[k - 1].resume_token())
      << "recovery: " << report.ToString();

  // What apply sees: contiguous events, no corruption.
  std::vector<std::pair<uint64_t, pb::ChangeEvent>> ev;
  s = ReadEvents(env, o.dir, 1, true, &ev);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (size_t i = 1; i < ev.size(); ++i) ASSERT_EQ(ev[i].first, ev[i - 1].first + 1);
  if (!ev.empty()) {
    EXPECT_EQ(ev.back().first, next - 1);
  }

  // Capture continues contiguously.
  pb::ChangeBatch more = NewBatch(2, "after-recovery");
  ASSERT_TRUE((*w)->Append(&more).ok());
  EXPECT_EQ(more.first_seq(), next);
  ASSERT_TRUE((*w)->Close(1).ok());
  w->reset();
  report = RecoveryReport();
  w = SpoolWriter::Open(o, &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(report.ToString(), "clean");
  EXPECT_EQ((*w)->resume_state().next_seq, next + 2);
  EXPECT_EQ((*w)->resume_state().resume_token, "after-recovery");
  ev.clear();
  s = ReadEvents(env, o.dir, 1, true, &ev);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev.back().first, next + 1);
  for (size_t i = 1; i < ev.size(); ++i) ASSERT_EQ(ev[i].first, ev[i - 1].first + 1);
}

TEST(SpoolCrashTest, UnsyncedBatchesAreLostSyncedAreKept) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  const SpoolWriterOptions o = Opts(dir.path(), &env);
  std::vector<pb::ChangeBatch> appended;
  {
    auto w = SpoolWriter::Open(o);
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 3; ++i) {
      pb::ChangeBatch b = NewBatch(2, "synced-" + std::to_string(i));
      ASSERT_TRUE((*w)->Append(&b).ok());
      appended.push_back(b);
    }
    ASSERT_TRUE((*w)->Sync().ok());
    for (int i = 0; i < 2; ++i) {
      pb::ChangeBatch b = NewBatch(2, "unsynced-" + std::to_string(i));
      ASSERT_TRUE((*w)->Append(&b).ok());
      appended.push_back(b);
    }
    EXPECT_EQ((*w)->resume_state().resume_token, "synced-2");
  }
  ASSERT_TRUE(env.SimulateCrash().ok());
  {
    SpoolView view;
    ASSERT_TRUE(OpenSpoolView(&env, dir.path(), &view).ok());
    std::vector<pb::ChangeBatch> got;
    ASSERT_TRUE(AllBatches(&env, view, &got).ok());
    EXPECT_EQ(got.size(), 3u);  // this Env drops unsynced bytes exactly
  }
  VerifyAfterCrash(&env, o, appended, 3, 0);
}

// SyncAsync (pipelined group commit): a batch counts only once its sync has completed,
// and what is appended while a sync runs is not covered by it.
TEST(SpoolCrashTest, SyncAsyncCoversOnlyWhatWasAppendedBefore) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  const SpoolWriterOptions o = Opts(dir.path(), &env);
  std::vector<pb::ChangeBatch> appended;
  {
    auto w = SpoolWriter::Open(o);
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch a = NewBatch(2, "a");
    ASSERT_TRUE((*w)->Append(&a).ok());
    appended.push_back(a);
    ASSERT_TRUE((*w)->Sync().ok());
    pb::ChangeBatch b = NewBatch(2, "b");
    ASSERT_TRUE((*w)->Append(&b).ok());
    appended.push_back(b);
    ASSERT_TRUE((*w)->SyncAsync().ok());
    pb::ChangeBatch c = NewBatch(2, "c");  // appended while b's sync may be running
    ASSERT_TRUE((*w)->Append(&c).ok());
    appended.push_back(c);
    ASSERT_TRUE((*w)->WaitSync().ok());
    EXPECT_EQ((*w)->resume_state().resume_token, "b");
    EXPECT_EQ((*w)->resume_state().next_seq, 5u);
    pb::ChangeBatch d = NewBatch(2, "d");
    ASSERT_TRUE((*w)->Append(&d).ok());
    appended.push_back(d);
    ASSERT_TRUE((*w)->SyncAsync().ok());  // covers c and d
    ASSERT_TRUE((*w)->WaitSync().ok());
    EXPECT_EQ((*w)->resume_state().resume_token, "d");
    pb::ChangeBatch e = NewBatch(2, "e");  // never synced
    ASSERT_TRUE((*w)->Append(&e).ok());
    appended.push_back(e);
  }
  ASSERT_TRUE(env.SimulateCrash().ok());
  VerifyAfterCrash(&env, o, appended, 4, 0);
}

// A crash before the first Sync loses everything, including the new segment's name.
TEST(SpoolCrashTest, CrashBeforeAnySync) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  const SpoolWriterOptions o = Opts(dir.path(), &env);
  std::vector<pb::ChangeBatch> appended;
  {
    auto w = SpoolWriter::Open(o);
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch b = NewBatch(4, "never-synced");
    ASSERT_TRUE((*w)->Append(&b).ok());
    appended.push_back(b);
  }
  ASSERT_TRUE(env.SimulateCrash().ok());
  VerifyAfterCrash(&env, o, appended, 0, 0);
}

struct RandomRun {
  std::vector<pb::ChangeBatch> appended;
  size_t acked = 0;
  uint64_t max_applied = 0;
  int disk_full_errors = 0;
  int segments_pruned = 0;
};

// Random appends, syncs, rolls, seals, prunes and disk-full failures, then a crash.
void RunRandomOps(uint32_t seed, FaultInjectionEnv* env, const SpoolWriterOptions& o,
                  RandomRun* run) {
  std::mt19937 rng(seed);
  auto w = SpoolWriter::Open(o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  bool budget_armed = false;
  int64_t now = 1'000'000;
  const int ops = 1 + static_cast<int>(rng() % 80);
  for (int op = 0; op < ops; ++op) {
    now += 1000;
    const uint32_t r = rng() % 100;
    Status s;
    std::string what;
    if (r < 50) {
      what = "append";
      pb::ChangeBatch b =
          NewBatch(static_cast<int>(rng() % 4), "tok-" + std::to_string(seed) + "-" +
                                                     std::to_string(op),
                   rng() % 300);
      s = (*w)->Append(&b);
      if (s.ok()) run->appended.push_back(b);
    } else if (r < 63) {
      what = "sync";
      s = (*w)->Sync();
    } else if (r < 73) {
      what = "maybe-roll";
      s = (*w)->MaybeRoll(now);
    } else if (r < 79) {
      what = "seal";
      s = (*w)->SealOpenSegment(now);
    } else if (r < 87) {
      env->SetWriteBudget(static_cast<int64_t>(rng() % 400));
      budget_armed = true;
    } else if (r < 94) {
      env->SetWriteBudget(-1);
      budget_armed = false;
    } else {
      what = "prune";
      const uint64_t applied = rng() % (*w)->resume_state().next_seq;
      s = WriteCheckpoint(env, o.dir, "apply", Ckpt(applied));
      if (s.ok()) {
        run->max_applied = std::max(run->max_applied, applied);
        auto pr = (*w)->Prune(0, now);
        s = pr.status();
        if (pr.ok()) run->segments_pruned += pr->segments_deleted;
      }
    }
    // Failures only come from the full disk, and never once space is back.
    if (!s.ok()) {
      run->disk_full_errors++;
      ASSERT_TRUE(budget_armed) << "op " << op << " " << what << ": " << s.ToString();
      ASSERT_TRUE(s.IsIOError()) << "op " << op << " " << what << ": " << s.ToString();
    }
    // What the writer acknowledges: a prefix of the appended batches, exactly.
    const ResumeState& rs = (*w)->resume_state();
    if (!rs.resume_token.empty()) {
      size_t i = 0;
      while (i < run->appended.size() && run->appended[i].resume_token() != rs.resume_token) ++i;
      ASSERT_LT(i, run->appended.size()) << "acknowledged token was never appended";
      ASSERT_EQ(rs.next_seq, 1 + EventsIn(run->appended, i + 1));
      run->acked = std::max(run->acked, i + 1);
    }
  }
  // The process dies here: nothing more is written, unsynced state is dropped.
}

// SimulateCrash, then, as a real disk may, keep part of what was not synced: a random
// prefix of the lost bytes of a file, or zeros where they were (unwritten extents).
void CrashKeepingSomeUnsyncedBytes(FaultInjectionEnv* env, const std::string& dir,
                                   uint32_t seed) {
  std::mt19937 rng(seed * 7717u);
  std::vector<std::pair<std::string, std::string>> before;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) before.emplace_back(e.path().string(), ReadBytes(e.path()));
  }
  ASSERT_TRUE(env->SimulateCrash().ok());
  for (const auto& [path, old] : before) {
    if (!fs::exists(path) || rng() % 3 == 0) continue;
    const std::string now = ReadBytes(path);
    if (now.size() >= old.size() || old.compare(0, now.size(), now) != 0) continue;
    const size_t lost = old.size() - now.size();
    const size_t keep = 1 + rng() % lost;
    const bool zeros = rng() % 4 == 0;
    WriteBytes(path, now + (zeros ? std::string(keep, '\0') : old.substr(now.size(), keep)));
  }
}

TEST(SpoolCrashTest, RandomizedCrashesLoseNothingAcknowledged) {
  // How often the interesting paths ran, so that the test cannot quietly stop covering them.
  int runs_with_disk_full = 0, runs_with_prune = 0, torn_open_segments = 0,
      seals_finished_by_recovery = 0, sealed_segments = 0;
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    FaultInjectionEnv env(Env::Default());
    SpoolWriterOptions o = Opts(dir.path(), &env);
    o.segment_max_bytes = 400 + (seed * 7919) % 3000;
    RandomRun run;
    RunRandomOps(seed, &env, o, &run);
    if (HasFatalFailure()) return;
    {
      SpoolView view;
      ASSERT_TRUE(OpenSpoolView(&env, dir.path(), &view).ok());
      sealed_segments += static_cast<int>(view.manifest.segments.size());
    }
    CrashKeepingSomeUnsyncedBytes(&env, dir.path(), seed);
    if (HasFatalFailure()) return;
    RecoveryReport report;
    VerifyAfterCrash(&env, o, run.appended, run.acked, run.max_applied, &report);
    if (HasFatalFailure()) return;
    runs_with_disk_full += run.disk_full_errors > 0;
    runs_with_prune += run.segments_pruned > 0;
    torn_open_segments += report.open_segment_truncated_bytes > 0;
    seals_finished_by_recovery += report.open_segment_sealed_by_recovery;
  }
  RecordProperty("runs_with_disk_full", runs_with_disk_full);
  RecordProperty("runs_with_prune", runs_with_prune);
  RecordProperty("torn_open_segments", torn_open_segments);
  RecordProperty("seals_finished_by_recovery", seals_finished_by_recovery);
  RecordProperty("sealed_segments", sealed_segments);
  std::printf("disk-full runs %d, prune runs %d, torn open segments %d, seals finished by "
              "recovery %d, sealed segments %d\n",
              runs_with_disk_full, runs_with_prune, torn_open_segments,
              seals_finished_by_recovery, sealed_segments);
  EXPECT_GE(runs_with_disk_full, 40);
  EXPECT_GE(runs_with_prune, 10);
  EXPECT_GE(sealed_segments, 200);
  EXPECT_GE(torn_open_segments, 20);
}

// Disk full at every byte of a seal (footer, end magic, manifest record) and of the next
// segment's creation: then either a crash right there, or space comes back and capture
// carries on.
TEST(SpoolCrashTest, DiskFullAtEveryPointOfASeal) {
  for (int64_t budget = 0; budget < 420; budget += 3) {
    for (bool crash_at_once : {true, false}) {
      SCOPED_TRACE("budget " + std::to_string(budget) + (crash_at_once ? " crash" : " resume"));
      TempDir dir;
      FaultInjectionEnv env(Env::Default());
      const SpoolWriterOptions o = Opts(dir.path(), &env);
      std::vector<pb::ChangeBatch> appended;
      size_t acked = 0;
      {
        auto w = SpoolWriter::Open(o);
        ASSERT_TRUE(w.ok());
        for (int i = 0; i < 2; ++i) {
          pb::ChangeBatch b = NewBatch(2, "before-" + std::to_string(i));
          ASSERT_TRUE((*w)->Append(&b).ok());
          appended.push_back(b);
        }
        ASSERT_TRUE((*w)->Sync().ok());
        acked = appended.size();
        env.SetWriteBudget(budget);
        Status s = (*w)->SealOpenSegment(10);
        pb::ChangeBatch b = NewBatch(1, "next");
        Status a = (*w)->Append(&b);
        if (a.ok()) appended.push_back(b);
        Status y = (*w)->Sync();
        if (a.ok() && y.ok()) acked = appended.size();
        if (!crash_at_once) {
          env.SetWriteBudget(-1);
          pb::ChangeBatch c = NewBatch(3, "after-space-is-back");
          Status st = (*w)->Append(&c);
          ASSERT_TRUE(st.ok()) << "seal: " << s.ToString() << " append: " << a.ToString()
                               << " then: " << st.ToString();
          appended.push_back(c);
          st = (*w)->SealOpenSegment(20);
          ASSERT_TRUE(st.ok()) << st.ToString();
          acked = appended.size();
          EXPECT_EQ((*w)->resume_state().resume_token, "after-space-is-back");
        }
      }
      ASSERT_TRUE(env.SimulateCrash().ok());
      VerifyAfterCrash(&env, o, appended, acked, 0);
      if (HasFatalFailure()) return;
    }
  }
}

// The segment is sealed on disk but the process died before the manifest append: recovery
// finishes the seal, and resumes from the sealed segment's last token.
TEST(SpoolRecoveryTest, CrashBetweenSealAndManifestAppend) {
  TempDir dir;
  const std::string manifest = JoinPath(dir.path(), kManifestFile);
  uint64_t manifest_size = 0;
  {
    auto w = SpoolWriter::Open(Opts(dir.path()));
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch b1 = NewBatch(2, "t1"), b2 = NewBatch(3, "t2"), b3 = NewBatch(1, "t3");
    ASSERT_TRUE((*w)->Append(&b1).ok());
    ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
    ASSERT_TRUE((*w)->Append(&b2).ok());
    ASSERT_TRUE((*w)->Append(&b3).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    manifest_size = fs::file_size(manifest);
    ASSERT_TRUE((*w)->SealOpenSegment(2).ok());
  }
  fs::resize_file(manifest, manifest_size);  // the manifest append never happened
  RecoveryReport report;
  auto w = SpoolWriter::Open(Opts(dir.path()), &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(report.open_segment_found);
  EXPECT_TRUE(report.open_segment_sealed_by_recovery);
  ASSERT_EQ((*w)->manifest().segments.size(), 2u);
  EXPECT_EQ((*w)->manifest().segments[1].first_seq(), 3u);
  EXPECT_EQ((*w)->manifest().segments[1].last_seq(), 6u);
  EXPECT_EQ((*w)->manifest().segments[1].file_crc32c(),
            [&] {
              std::string b = ReadBytes(JoinPath(JoinPath(dir.path(), kSegmentsDir),
                                                 SegmentFileName(3)));
              return crc32c::Value(b.data(), b.size());
            }());
  EXPECT_EQ((*w)->next_seq(), 7u);
  EXPECT_EQ((*w)->resume_state().next_seq, 7u);
  EXPECT_EQ((*w)->resume_state().resume_token, "t3");
  pb::ChangeBatch b4 = NewBatch(1, "t4");
  ASSERT_TRUE((*w)->Append(&b4).ok());
  EXPECT_EQ(b4.first_seq(), 7u);
  ASSERT_TRUE((*w)->Close(3).ok());
  w->reset();
  report = RecoveryReport();
  w = SpoolWriter::Open(Opts(dir.path()), &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(report.ToString(), "clean");
  EXPECT_EQ((*w)->manifest().segments.size(), 3u);
}

TEST(SpoolRecoveryTest, TornManifestTailIsTruncated) {
  TempDir dir;
  const std::string manifest = JoinPath(dir.path(), kManifestFile);
  {
    auto w = SpoolWriter::Open(Opts(dir.path()));
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch b = NewBatch(2, "t1");
    ASSERT_TRUE((*w)->Append(&b).ok());
    ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
  }
  const uint64_t good = fs::file_size(manifest);
  WriteBytes(manifest, ReadBytes(manifest) + std::string("\x40\x00\x00\x00\x12\x34", 6));
  RecoveryReport report;
  auto w = SpoolWriter::Open(Opts(dir.path()), &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(report.manifest_tail_truncated);
  EXPECT_EQ(fs::file_size(manifest), good);
  EXPECT_EQ((*w)->resume_state().resume_token, "t1");
  pb::ChangeBatch b = NewBatch(1, "t2");
  ASSERT_TRUE((*w)->Append(&b).ok());
  ASSERT_TRUE((*w)->SealOpenSegment(2).ok());
  ManifestState st;
  ASSERT_TRUE(ReadManifest(Env::Default(), manifest, &st).ok());
  EXPECT_FALSE(st.torn_tail);
  EXPECT_EQ(st.segments.size(), 2u);
}

TEST(SpoolRecoveryTest, TempFilesAreRemoved) {
  TempDir dir;
  { ASSERT_TRUE(SpoolWriter::Open(Opts(dir.path())).ok()); }
  WriteBytes(JoinPath(dir.path(), "MANIFEST.tmp"), "half a compaction");
  WriteBytes(JoinPath(JoinPath(dir.path(), kSegmentsDir), "x.tmp"), "junk");
  RecoveryReport report;
  auto w = SpoolWriter::Open(Opts(dir.path()), &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(report.temp_files_removed, 2);
  EXPECT_TRUE(TempFiles(dir.path()).empty());
}

TEST(SpoolRecoveryTest, InterruptedSegmentCreationIsRemoved) {
  for (size_t keep : {size_t{0}, size_t{5}, kPreambleSize, kPreambleSize + 7}) {
    SCOPED_TRACE("bytes kept " + std::to_string(keep));
    TempDir dir;
    const std::string segs = JoinPath(dir.path(), kSegmentsDir);
    std::string created;
    {
      auto w = SpoolWriter::Open(Opts(dir.path()));
      ASSERT_TRUE(w.ok());
      pb::ChangeBatch b = NewBatch(2, "t1");
      ASSERT_TRUE((*w)->Append(&b).ok());
      ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
      pb::ChangeBatch c = NewBatch(0, "t2");
      ASSERT_TRUE((*w)->Append(&c).ok());  // creates segment 3
      created = ReadBytes(JoinPath(segs, SegmentFileName(3)));
    }
    WriteBytes(JoinPath(segs, SegmentFileName(3)), created.substr(0, keep));
    RecoveryReport report;
    auto w = SpoolWriter::Open(Opts(dir.path()), &report);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_TRUE(report.empty_open_segment_removed);
    EXPECT_FALSE(fs::exists(JoinPath(segs, SegmentFileName(3))));
    EXPECT_EQ((*w)->next_seq(), 3u);
    EXPECT_EQ((*w)->resume_state().resume_token, "t1");
    pb::ChangeBatch d = NewBatch(1, "t3");
    ASSERT_TRUE((*w)->Append(&d).ok());
    EXPECT_EQ(d.first_seq(), 3u);
  }
}

TEST(SpoolRecoveryTest, TornTailOfOpenSegmentIsTruncated) {
  TempDir dir;
  const std::string seg = JoinPath(JoinPath(dir.path(), kSegmentsDir), SegmentFileName(1));
  {
    auto w = SpoolWriter::Open(Opts(dir.path()));
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch b = NewBatch(2, "t1");
    ASSERT_TRUE((*w)->Append(&b).ok());
    ASSERT_TRUE((*w)->Sync().ok());
  }
  const uint64_t good = fs::file_size(seg);
  std::string partial;
  EncodeRecord(kRecordBatch, std::string(100, 'x'), &partial);
  WriteBytes(seg, ReadBytes(seg) + partial.substr(0, 40));
  RecoveryReport report;
  auto w = SpoolWriter::Open(Opts(dir.path()), &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(report.open_segment_found);
  EXPECT_EQ(report.open_segment_truncated_bytes, 40u);
  EXPECT_EQ(fs::file_size(seg), good);
  EXPECT_EQ((*w)->resume_state().resume_token, "t1");
  EXPECT_EQ((*w)->next_seq(), 3u);
  pb::ChangeBatch c = NewBatch(1, "t2");
  ASSERT_TRUE((*w)->Append(&c).ok());
  ASSERT_TRUE((*w)->Close(5).ok());
  std::vector<std::pair<uint64_t, pb::ChangeEvent>> ev;
  ASSERT_TRUE(ReadEvents(Env::Default(), dir.path(), 1, true, &ev).ok());
  EXPECT_EQ(ev.size(), 3u);
}

// A bad record with a valid one after it, in the open segment: never truncated.
TEST(SpoolRecoveryTest, CorruptOpenSegmentIsRefused) {
  TempDir dir;
  const std::string seg = JoinPath(JoinPath(dir.path(), kSegmentsDir), SegmentFileName(1));
  uint64_t second = 0;
  {
    auto w = SpoolWriter::Open(Opts(dir.path()));
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch b = NewBatch(2, "t1");
    ASSERT_TRUE((*w)->Append(&b).ok());
    ASSERT_TRUE((*w)->Sync().ok());
    second = fs::file_size(seg);
    pb::ChangeBatch c = NewBatch(2, "t2");
    ASSERT_TRUE((*w)->Append(&c).ok());
    pb::ChangeBatch d = NewBatch(2, "t3");
    ASSERT_TRUE((*w)->Append(&d).ok());
    ASSERT_TRUE((*w)->Sync().ok());
  }
  std::string bytes = ReadBytes(seg);
  bytes[second + kRecordHeaderSize + 4] ^= 1;
  WriteBytes(seg, bytes);
  auto w = SpoolWriter::Open(Opts(dir.path()));
  ASSERT_FALSE(w.ok());
  ExpectCorruptionAt(w.status(), SegmentFileName(1), second);
  EXPECT_EQ(ReadBytes(seg), bytes);  // nothing was cut
}

TEST(SpoolRecoveryTest, OrphanOfRecordedDeletionIsRemoved) {
  TempDir dir;
  const std::string segs = JoinPath(dir.path(), kSegmentsDir);
  std::string first_segment;
  {
    auto w = SpoolWriter::Open(Opts(dir.path()));
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 3; ++i) {
      pb::ChangeBatch b = NewBatch(2, "t" + std::to_string(i));
      ASSERT_TRUE((*w)->Append(&b).ok());
      ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
    }
    first_segment = ReadBytes(JoinPath(segs, SegmentFileName(1)));
    ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "a", Ckpt(2)).ok());
    auto pr = (*w)->Prune(0, 10);
    ASSERT_TRUE(pr.ok());
    ASSERT_EQ(pr->segments_deleted, 1);
  }
  // The unlink after the recorded deletion did not happen.
  WriteBytes(JoinPath(segs, SegmentFileName(1)), first_segment);
  RecoveryReport report;
  auto w = SpoolWriter::Open(Opts(dir.path()), &report);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(report.orphan_segments_removed, 1);
  EXPECT_FALSE(fs::exists(JoinPath(segs, SegmentFileName(1))));
  EXPECT_EQ((*w)->next_seq(), 7u);
}

TEST(SpoolRecoveryTest, UnexpectedSegmentFilesAreCorruption) {
  TempDir dir;
  const std::string segs = JoinPath(dir.path(), kSegmentsDir);
  {
    auto w = SpoolWriter::Open(Opts(dir.path()));
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 2; ++i) {
      pb::ChangeBatch b = NewBatch(2, "t" + std::to_string(i));
      ASSERT_TRUE((*w)->Append(&b).ok());
      ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
    }
  }
  const std::string copy = ReadBytes(JoinPath(segs, SegmentFileName(3)));
  // Ahead of the next sequence (5): a gap.
  for (uint64_t seq : {uint64_t{50}, uint64_t{2}}) {
    SCOPED_TRACE(seq);
    const std::string stray = JoinPath(segs, SegmentFileName(seq));
    WriteBytes(stray, copy);
    auto w = SpoolWriter::Open(Opts(dir.path()));
    ASSERT_FALSE(w.ok());
    EXPECT_TRUE(w.status().IsCorruption()) << w.status().ToString();
    EXPECT_NE(w.status().message().find(SegmentFileName(seq)), std::string::npos)
        << w.status().ToString();
    fs::remove(stray);
  }
  // The right next sequence is fine: it is the open segment (here a bad one).
  ASSERT_TRUE(SpoolWriter::Open(Opts(dir.path())).ok());
}

TEST(SpoolRecoveryTest, MissingManifestOrSealedSegmentIsCorruption) {
  TempDir dir;
  const std::string segs = JoinPath(dir.path(), kSegmentsDir);
  {
    auto w = SpoolWriter::Open(Opts(dir.path()));
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch b = NewBatch(2, "t");
    ASSERT_TRUE((*w)->Append(&b).ok());
    ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
  }
  const std::string seg = JoinPath(segs, SegmentFileName(1));
  const std::string bytes = ReadBytes(seg);
  fs::remove(seg);
  auto w = SpoolWriter::Open(Opts(dir.path()));
  ASSERT_TRUE(w.status().IsCorruption()) << w.status().ToString();
  EXPECT_NE(w.status().message().find(SegmentFileName(1)), std::string::npos);
  WriteBytes(seg, bytes);
  const std::string manifest = JoinPath(dir.path(), kManifestFile);
  fs::rename(manifest, manifest + ".saved");
  w = SpoolWriter::Open(Opts(dir.path()));
  ASSERT_TRUE(w.status().IsCorruption()) << w.status().ToString();
  EXPECT_NE(w.status().message().find("MANIFEST"), std::string::npos);
  SpoolView view;
  EXPECT_TRUE(OpenSpoolView(Env::Default(), dir.path(), &view).IsNotFound());
}

TEST(SpoolTest, OtherSourceIsRefused) {
  TempDir dir;
  { ASSERT_TRUE(SpoolWriter::Open(Opts(dir.path())).ok()); }
  SpoolWriterOptions o = Opts(dir.path());
  o.source_id = "mongodb:other/h2:27017";
  auto w = SpoolWriter::Open(o);
  ASSERT_TRUE(w.status().IsFailedPrecondition()) << w.status().ToString();
  EXPECT_NE(w.status().message().find("mongodb:rs0/h1:27017"), std::string::npos);
}

TEST(SpoolTest, EmptyDirIsInvalid) {
  SpoolWriterOptions o = Opts("");
  EXPECT_TRUE(SpoolWriter::Open(o).status().IsInvalidArgument());
}

TEST(SpoolLockTest, SecondWriterInProcessIsBusy) {
  TempDir dir;
  auto w1 = SpoolWriter::Open(Opts(dir.path()));
  ASSERT_TRUE(w1.ok());
  auto w2 = SpoolWriter::Open(Opts(dir.path()));
  ASSERT_TRUE(w2.status().IsBusy()) << w2.status().ToString();
  EXPECT_NE(w2.status().message().find("pid " + std::to_string(getpid())), std::string::npos)
      << w2.status().ToString();
  w1->reset();
  EXPECT_TRUE(SpoolWriter::Open(Opts(dir.path())).ok());
}

TEST(SpoolLockTest, SecondWriterInAnotherProcessIsBusy) {
  TempDir dir;
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    close(release[1]);
    auto w = SpoolWriter::Open(Opts(dir.path()));
    char c = w.ok() ? 'y' : 'n';
    if (write(ready[1], &c, 1) != 1) _exit(2);
    if (read(release[0], &c, 1) < 0) _exit(3);  // returns at EOF: the parent is done
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto w = SpoolWriter::Open(Opts(dir.path()));
  EXPECT_TRUE(w.status().IsBusy()) << w.status().ToString();
  EXPECT_NE(w.status().message().find("pid " + std::to_string(child)), std::string::npos)
      << w.status().ToString();
  close(release[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(ready[0]);
  EXPECT_TRUE(SpoolWriter::Open(Opts(dir.path())).ok());  // released when the holder died
}

// ---- Reading a damaged sealed segment ----

class SealedCorruptionTest : public testing::Test {
 protected:
  void SetUp() override {
    auto w = SpoolWriter::Open(Opts(dir_.path()));
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 3; ++i) {
      pb::ChangeBatch b = NewBatch(2, "t" + std::to_string(i));
      ASSERT_TRUE((*w)->Append(&b).ok());
    }
    ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
    pb::ChangeBatch b = NewBatch(2, "open");
    ASSERT_TRUE((*w)->Append(&b).ok());
    ASSERT_TRUE((*w)->Close(2).ok());
    path_ = JoinPath(JoinPath(dir_.path(), kSegmentsDir), SegmentFileName(1));
    bytes_ = ReadBytes(path_);
    SpoolView view;
    ASSERT_TRUE(OpenSpoolView(Env::Default(), dir_.path(), &view).ok());
    SpoolReader reader(Env::Default(), &view, SpoolReader::Options());
    pb::ChangeBatch got;
    std::string name;
    uint64_t off = 0;
    while (reader.Next(&got, &name, &off).ok()) {
      if (name == SegmentFileName(1)) offsets_.push_back(off);
    }
    ASSERT_EQ(offsets_.size(), 3u);
    footer_ = offsets_[2] + kRecordHeaderSize + DecodeFixed32(bytes_.data() + offsets_[2]);
  }

  // Reads everything; returns the first error and how many events came before it.
  Status ReadAll(size_t* events) {
    std::vector<std::pair<uint64_t, pb::ChangeEvent>> ev;
    SpoolView view;
    RETURN_IF_ERROR(OpenSpoolView(Env::Default(), dir_.path(), &view));
    SpoolReader reader(Env::Default(), &view, SpoolReader::Options());
    pb::ChangeBatch b;
    Status s;
    *events = 0;
    while ((s = reader.Next(&b)).ok()) *events += static_cast<size_t>(b.events_size());
    return s;
  }

  TempDir dir_;
  std::string path_, bytes_;
  std::vector<uint64_t> offsets_;
  uint64_t footer_ = 0;
};

TEST_F(SealedCorruptionTest, IntactReadsEverything) {
  size_t n = 0;
  EXPECT_TRUE(ReadAll(&n).IsEndOfFile());
  EXPECT_EQ(n, 8u);
}

TEST_F(SealedCorruptionTest, ChecksumMismatchInMiddleBatch) {
  std::string b = bytes_;
  b[offsets_[1] + kRecordHeaderSize + 5] ^= 0x10;
  WriteBytes(path_, b);
  size_t n = 0;
  ExpectCorruptionAt(ReadAll(&n), SegmentFileName(1), offsets_[1]);
  EXPECT_EQ(n, 2u);
}

TEST_F(SealedCorruptionTest, ChecksumMismatchInLastBatch) {
  std::string b = bytes_;
  b[offsets_[2] + kRecordHeaderSize + 5] ^= 0x10;
  WriteBytes(path_, b);
  size_t n = 0;
  ExpectCorruptionAt(ReadAll(&n), SegmentFileName(1), offsets_[2]);
  EXPECT_EQ(n, 4u);
}

// A torn tail is never acceptable in a sealed segment.
TEST_F(SealedCorruptionTest, TruncatedInLastBatch) {
  WriteBytes(path_, bytes_.substr(0, offsets_[2] + 15));
  size_t n = 0;
  ExpectCorruptionAt(ReadAll(&n), SegmentFileName(1), offsets_[2]);
  EXPECT_EQ(n, 4u);
}

TEST_F(SealedCorruptionTest, FooterMissing) {
  WriteBytes(path_, bytes_.substr(0, footer_));
  size_t n = 0;
  ExpectCorruptionAt(ReadAll(&n), SegmentFileName(1), footer_);
}

TEST_F(SealedCorruptionTest, EndMagicMissing) {
  WriteBytes(path_, bytes_.substr(0, bytes_.size() - kSegmentEndMagic.size()));
  size_t n = 0;
  ExpectCorruptionAt(ReadAll(&n), SegmentFileName(1), footer_);
}

// Garbage in the footer of a sealed segment is no torn tail.
TEST_F(SealedCorruptionTest, FooterChecksumMismatch) {
  std::string b = bytes_;
  b[footer_ + kRecordHeaderSize + 1] ^= 0x01;
  WriteBytes(path_, b);
  size_t n = 0;
  ExpectCorruptionAt(ReadAll(&n), SegmentFileName(1), footer_);
}

TEST_F(SealedCorruptionTest, ReplacedByAnotherValidSegment) {
  // A sealed segment with fewer events than the manifest says.
  TempDir other;
  {
    auto w = SpoolWriter::Open(Opts(other.path()));
    ASSERT_TRUE(w.ok());
    pb::ChangeBatch b = NewBatch(1, "x");
    ASSERT_TRUE((*w)->Append(&b).ok());
    ASSERT_TRUE((*w)->SealOpenSegment(1).ok());
  }
  WriteBytes(path_, ReadBytes(JoinPath(JoinPath(other.path(), kSegmentsDir), SegmentFileName(1))));
  size_t n = 0;
  Status s = ReadAll(&n);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(SegmentFileName(1)), std::string::npos) << s.ToString();
}

// ---- Retention ----

// Seals `segments` segments of 2 events each, sealed at wall time 1000 + i.
std::unique_ptr<SpoolWriter> SpoolWithSegments(const SpoolWriterOptions& o, int segments) {
  auto w = SpoolWriter::Open(o);
  EXPECT_TRUE(w.ok());
  for (int i = 0; i < segments; ++i) {
    pb::ChangeBatch b = NewBatch(2, "t" + std::to_string(i));
    EXPECT_TRUE((*w)->Append(&b).ok());
    EXPECT_TRUE((*w)->SealOpenSegment(1000 + i).ok());
  }
  return std::move(w).value();
}

std::vector<uint64_t> LiveFirstSeqs(const std::string& dir) {
  SpoolView view;
  EXPECT_TRUE(OpenSpoolView(Env::Default(), dir, &view).ok());
  std::vector<uint64_t> out;
  for (const auto& s : view.segments) out.push_back(s.first_seq);
  return out;
}

TEST(SpoolPruneTest, NothingWithoutCheckpoint) {
  TempDir dir;
  auto w = SpoolWithSegments(Opts(dir.path()), 5);
  auto r = w->Prune(0, 1'000'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_deleted, 0);
  EXPECT_EQ(r->checkpoints, 0);
  EXPECT_EQ(LiveFirstSeqs(dir.path()).size(), 5u);
}

TEST(SpoolPruneTest, OnlyWhatEveryApplyPassed) {
  TempDir dir;
  auto w = SpoolWithSegments(Opts(dir.path()), 5);  // 1-2, 3-4, 5-6, 7-8, 9-10
  pb::ChangeBatch open = NewBatch(2, "open");
  ASSERT_TRUE(w->Append(&open).ok());
  ASSERT_TRUE(w->Sync().ok());
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "a", Ckpt(5)).ok());
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "b", Ckpt(3)).ok());
  auto r = w->Prune(0, 1'000'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->checkpoints, 2);
  EXPECT_EQ(r->min_applied_seq, 3u);
  EXPECT_EQ(r->segments_deleted, 1);  // 1-2 only: 3-4 is not fully applied by "b"
  EXPECT_GT(r->bytes_deleted, 0u);
  EXPECT_EQ(LiveFirstSeqs(dir.path()), (std::vector<uint64_t>{3, 5, 7, 9, 11}));
  EXPECT_FALSE(fs::exists(JoinPath(JoinPath(dir.path(), kSegmentsDir), SegmentFileName(1))));

  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "b", Ckpt(100)).ok());
  r = w->Prune(0, 1'000'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_deleted, 1);  // 3-4; 5-6 has last_seq 6 > 5
  EXPECT_EQ(LiveFirstSeqs(dir.path()), (std::vector<uint64_t>{5, 7, 9, 11}));

  // Everything applied: still never the newest sealed segment, never the open one.
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "a", Ckpt(100)).ok());
  r = w->Prune(0, 1'000'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_deleted, 2);
  EXPECT_EQ(LiveFirstSeqs(dir.path()), (std::vector<uint64_t>{9, 11}));
  r = w->Prune(0, 1'000'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_deleted, 0);

  // Deleted segments are gone for readers; the rest reads from the first live one.
  std::vector<std::pair<uint64_t, pb::ChangeEvent>> ev;
  ASSERT_TRUE(ReadEvents(Env::Default(), dir.path(), 1, true, &ev).ok());
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev.front().first, 9u);
  w.reset();
  auto w2 = SpoolWriter::Open(Opts(dir.path()));
  ASSERT_TRUE(w2.ok()) << w2.status().ToString();
  EXPECT_EQ((*w2)->next_seq(), 13u);
  EXPECT_EQ((*w2)->resume_state().resume_token, "open");
}

// A running apply (its lock held) protects what it reads from prune (apply_lock.h), even
// before it wrote a checkpoint: issue #16, prune deleted the segments a starting apply
// was about to read.
TEST(SpoolPruneTest, RunningApplyWithoutRecordedStartKeepsEverything) {
  TempDir dir;
  auto w = SpoolWithSegments(Opts(dir.path()), 5);  // 1-2, 3-4, 5-6, 7-8, 9-10
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "done", Ckpt(100)).ok());
  auto fresh = ApplyLock::Acquire(Env::Default(), dir.path(), "fresh");  // starting up
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  auto r = w->Prune(0, 1'000'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->running_applies, 1);
  EXPECT_EQ(r->segments_deleted, 0);
  EXPECT_EQ(LiveFirstSeqs(dir.path()).size(), 5u);
}

TEST(SpoolPruneTest, RunningApplyKeepsFromItsRecordedStart) {
  TempDir dir;
  auto w = SpoolWithSegments(Opts(dir.path()), 5);
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "done", Ckpt(100)).ok());
  auto replay = ApplyLock::Acquire(Env::Default(), dir.path(), "replay");
  ASSERT_TRUE(replay.ok());
  {
    auto pl = LockPrune(Env::Default(), dir.path());
    ASSERT_TRUE(pl.ok());
    ASSERT_TRUE((*replay)->RecordStart(6).ok());  // reads 6 on: 5-6 must stay
  }
  auto r = w->Prune(0, 1'000'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->lowest_running_start, 6u);
  EXPECT_EQ(r->min_applied_seq, 5u);
  EXPECT_EQ(r->segments_deleted, 2);
  EXPECT_EQ(LiveFirstSeqs(dir.path()), (std::vector<uint64_t>{5, 7, 9}));
  // Once it has stopped, its stale lock file protects nothing.
  replay->reset();
  r = w->Prune(0, 1'000'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->running_applies, 0);
  EXPECT_EQ(LiveFirstSeqs(dir.path()), (std::vector<uint64_t>{9}));
}

TEST(ApplyLockTest, SecondApplyOfANameIsRefusedWithTheHoldersPid) {
  TempDir dir;
  auto first = ApplyLock::Acquire(Env::Default(), dir.path(), "a");
  ASSERT_TRUE(first.ok());
  {
    auto pl = LockPrune(Env::Default(), dir.path());
    ASSERT_TRUE(pl.ok());
    ASSERT_TRUE((*first)->RecordStart(42).ok());
  }
  auto second = ApplyLock::Acquire(Env::Default(), dir.path(), "a");
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();
  const std::string pid = "pid " + std::to_string(getpid()) + ")";
  EXPECT_NE(second.status().message().find(pid), std::string::npos) << second.status().message();
  EXPECT_TRUE(ApplyLock::Acquire(Env::Default(), dir.path(), "b").ok());  // another name
  first->reset();
  EXPECT_TRUE(ApplyLock::Acquire(Env::Default(), dir.path(), "a").ok());
}

TEST(ApplyLockTest, PruneLockWaitsThenNamesTheHolder) {
  TempDir dir;
  auto held = LockPrune(Env::Default(), dir.path());
  ASSERT_TRUE(held.ok());
  auto again = LockPrune(Env::Default(), dir.path(), /*timeout_ms=*/100);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsBusy());
  EXPECT_NE(again.status().message().find(std::to_string(getpid())), std::string::npos);
}

TEST(SpoolPruneTest, RespectsAge) {
  TempDir dir;
  auto w = SpoolWithSegments(Opts(dir.path()), 4);  // sealed at 1000..1003
  ASSERT_TRUE(WriteCheckpoint(Env::Default(), dir.path(), "a", Ckpt(100)).ok());
  auto r = w->Prune(/*retention_ms=*/500, /*now_ms=*/1400);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_deleted, 0);
  r = w->Prune(500, 1500);  // only the first is 500 ms old
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_deleted, 1);
  r = w->Prune(500, 100000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_deleted, 2);
  EXPECT_EQ(LiveFirstSeqs(dir.path()), (std::vector<uint64_t>{7}));
}

// Past 64 recorded deletions the manifest is compacted; the next sequence survives it.
TEST(SpoolPruneTest, CompactionKeepsNextSeq) {
  for (int rounds : {1, 2}) {
    SCOPED_TRACE(rounds);
    TempDir dir;
    FaultInjectionEnv env(Env::Default());
    const SpoolWriterOptions o = Opts(dir.path(), &env);
    const std::string manifest = JoinPath(dir.path(), kManifestFile);
    {
      auto w = SpoolWithSegments(o, 70);  // seq 1..140
      if (rounds == 2) {
        ASSERT_TRUE(WriteCheckpoint(&env, dir.path(), "a", Ckpt(80)).ok());
        auto r = w->Prune(0, 1'000'000);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->segments_deleted, 40);
        ManifestState st;
        ASSERT_TRUE(ReadManifest(&env, manifest, &st).ok());
        EXPECT_EQ(st.deleted.size(), 40u);  // not yet compacted
      }
      ASSERT_TRUE(WriteCheckpoint(&env, dir.path(), "a", Ckpt(1000)).ok());
      auto r = w->Prune(0, 1'000'000);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->segments_deleted, rounds == 2 ? 29 : 69);
      ManifestState st;
      ASSERT_TRUE(ReadManifest(&env, manifest, &st, true).ok());
      EXPECT_TRUE(st.deleted.empty());
      EXPECT_EQ(st.entries.size(), 2u);  // created + the newest sealed segment
      EXPECT_EQ(st.next_seq_after_sealed(), 141u);
      EXPECT_TRUE(w->manifest().deleted.empty());
      pb::ChangeBatch b = NewBatch(1, "unsynced");
      ASSERT_TRUE(w->Append(&b).ok());
    }
    ASSERT_TRUE(env.SimulateCrash().ok());
    auto w = SpoolWriter::Open(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->next_seq(), 141u);
    EXPECT_EQ((*w)->resume_state().resume_token, "t69");
    // The newest sealed segment, and the open one whose header was synced at creation.
    EXPECT_EQ(LiveFirstSeqs(dir.path()), (std::vector<uint64_t>{139, 141}));
    pb::ChangeBatch b = NewBatch(3, "more");
    ASSERT_TRUE((*w)->Append(&b).ok());
    EXPECT_EQ(b.first_seq(), 141u);
    ASSERT_TRUE((*w)->Close(5).ok());
    w->reset();
    w = SpoolWriter::Open(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ((*w)->next_seq(), 144u);
    std::vector<std::pair<uint64_t, pb::ChangeEvent>> ev;
    ASSERT_TRUE(ReadEvents(&env, dir.path(), 1, true, &ev).ok());
    ASSERT_EQ(ev.size(), 5u);
    EXPECT_EQ(ev.front().first, 139u);
    EXPECT_EQ(ev.back().first, 143u);
  }
}

}  // namespace
}  // namespace docshift::spool
