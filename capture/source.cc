#include "capture/source.h"

#include <thread>

#include "status/reporter.h"
#include "util/backoff.h"

namespace docshift::capture {

bool ItemQueue::Push(SourceItem item) {
  const size_t b = item.bytes();
  std::unique_lock<std::mutex> l(mu_);
  space_.wait(l, [&] { return bytes_ + b <= max_bytes_ || bytes_ == 0 || closed_; });
  if (closed_) return false;
  bytes_ += b;
  q_.push_back(std::move(item));
  ready_.notify_one();
  return true;
}

bool ItemQueue::Pop(SourceItem* out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  if (!ready_.wait_for(l, timeout, [&] { return !q_.empty(); })) return false;
  *out = std::move(q_.front());
  q_.pop_front();
  bytes_ -= out->bytes();
  space_.notify_all();
  return true;
}

bool ItemQueue::Empty() {
  std::lock_guard<std::mutex> l(mu_);
  return q_.empty();
}

void ItemQueue::Close() {
  std::lock_guard<std::mutex> l(mu_);
  closed_ = true;
  space_.notify_all();
  ready_.notify_all();
}

void SourceContext::NoteError(const std::string& message) {
  if (reporter != nullptr) reporter->NoteError(message);
}

void SourceContext::Fail(const Status& s) {
  std::lock_guard<std::mutex> l(mu);
  if (fatal.ok()) fatal = s;
  stopping = true;
}

Status SourceContext::ResumePositionError(const Status& s) const {
  return s.WithContext("spool " + opts->spool_dir + " (--source_kind " + opts->source_kind + ")");
}

bool SourceContext::SleepUnlessStopped(int64_t ms) const {
  return docshift::SleepUnlessStopped(ms, [this] { return Stopped(); });
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

CaughtUpFlag::CaughtUpFlag(SourceContext* ctx) : ctx_(ctx) {
  std::lock_guard<std::mutex> l(ctx_->flags_mu_);
  ctx_->flags_.insert(this);
}

CaughtUpFlag::~CaughtUpFlag() {
  std::lock_guard<std::mutex> l(ctx_->flags_mu_);
  ctx_->flags_.erase(this);
}

bool SourceContext::AllCaughtUp(int64_t now_ms, int64_t fresh_ms) {
  std::lock_guard<std::mutex> l(flags_mu_);
  for (const CaughtUpFlag* f : flags_) {
    const int64_t at = f->caught_up_at_ms();
    if (at < 0 || now_ms - at > fresh_ms) return false;
  }
  return true;
}

bool ReaderThread::JoinBy(std::chrono::steady_clock::time_point deadline) {
  if (!thread_.joinable()) return true;
  while (!done_->load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (done_->load()) {
    thread_.join();
    return true;
  }
  thread_.detach();
  return false;
}

Status HistoryLostStatus(const std::string& what, const std::string& detail) {
  return Status::FailedPrecondition(
      what + ": the source no longer holds the position this spool resumes from (" + detail +
      "); the spool is no longer continuous with the source. Take a new snapshot into a new "
      "spool (docshift snapshot); nothing was skipped");
}

}  // namespace docshift::capture
