#include "bucket/log.h"

#include <utility>

#include "aws/s3_client.h"
#include "spool/checkpoint.h"
#include "spool/format.h"
#include "spool/segment.h"

namespace docshift::bucket {
namespace {

Status Bad(const std::string& where, const std::string& what) {
  return Status::Corruption(where + ": " + what);
}

}  // namespace

Status ApplyLogRecord(const pb::BucketLogRecord& rec, const std::string& where, LogState* state) {
  const uint64_t expected = state->last_number + 1;
  if (rec.number() != expected) {
    return Bad(where, "log record says it is number " + std::to_string(rec.number()) + ", expected " +
                          std::to_string(expected));
  }
  if (expected == 1 && rec.kind_case() != pb::BucketLogRecord::kCreated) {
    return Bad(where, "the first log record does not say which spool this is (no SpoolCreated)");
  }
  switch (rec.kind_case()) {
    case pb::BucketLogRecord::kCreated:
      if (expected != 1) return Bad(where, "SpoolCreated in log record " + std::to_string(expected) + ", not 1");
      state->created = rec.created();
      break;
    case pb::BucketLogRecord::kShipperStarted:
      state->shipper = rec.shipper_started();
      break;
    case pb::BucketLogRecord::kSealed: {
      const pb::SegmentSealed& s = rec.sealed();
      uint64_t named = 0;
      if (!spool::ParseSegmentFileName(s.file_name(), &named) || named != s.first_seq()) {
        return Bad(where, "segment file name '" + s.file_name() + "' is not its first sequence " +
                              std::to_string(s.first_seq()));
      }
      if (s.first_seq() != state->next_seq || s.last_seq() < s.first_seq()) {
        return Bad(where, "segment " + s.file_name() + " holds sequences " + std::to_string(s.first_seq()) + ".." +
                              std::to_string(s.last_seq()) + " but the log continues at " +
                              std::to_string(state->next_seq));
      }
      state->segments.push_back(s);
      state->committed_wall_ms[s.first_seq()] = rec.written_wall_ms();
      state->next_seq = s.last_seq() + 1;
      break;
    }
    case pb::BucketLogRecord::kDeleted: {
      const pb::SegmentDeleted& d = rec.deleted();
      size_t i = 0;
      while (i < state->segments.size() && state->segments[i].file_name() != d.file_name()) ++i;
      if (i == state->segments.size() || state->segments[i].first_seq() != d.first_seq() ||
          state->segments[i].last_seq() != d.last_seq()) {
        return Bad(where, "deletion of segment " + d.file_name() + ", which the log does not hold");
      }
      if (i != 0) {
        return Bad(where, "deletion of segment " + d.file_name() + " before the older " +
                              state->segments.front().file_name());
      }
      state->deleted_through_seq = d.last_seq();
      state->committed_wall_ms.erase(d.first_seq());
      state->segments.erase(state->segments.begin());
      break;
    }
    case pb::BucketLogRecord::KIND_NOT_SET:
      return Bad(where, "log record " + std::to_string(expected) + " holds nothing docshift knows");
  }
  state->last_number = expected;
  state->writer_id = rec.writer_id();
  state->last_written_wall_ms = rec.written_wall_ms();
  return Status::OK();
}

std::string EncodeLogRecord(const pb::BucketLogRecord& rec) {
  std::string buf = spool::EncodePreamble(spool::kBucketLogMagic);
  spool::EncodeRecord(spool::kRecordBucketLog, rec.SerializeAsString(), &buf);
  return buf;
}

Status DecodeLogRecord(std::string_view body, const std::string& where, pb::BucketLogRecord* rec) {
  return spool::DecodeStateFile(body, where, spool::kBucketLogMagic, spool::kRecordBucketLog, rec);
}

std::string EncodeStateObject(std::string_view magic, spool::RecordType type,
                              const google::protobuf::MessageLite& msg) {
  std::string buf = spool::EncodePreamble(magic);
  spool::EncodeRecord(type, msg.SerializeAsString(), &buf);
  return buf;
}

size_t FirstSegmentAtOrAfter(const LogState& state, uint64_t seq) {
  size_t i = 0;
  while (i < state.segments.size() && state.segments[i].last_seq() < seq) ++i;
  return i;
}

Status BucketLog::ReadRecord(uint64_t n, pb::BucketLogRecord* rec) {
  const std::string key = loc_.LogKey(n);
  aws::S3Error err;
  auto got = s3_->GetObject(loc_.bucket, key, {}, &err);
  if (!got.ok()) {
    if (err.kind == aws::S3ErrorKind::kNotFound && err.code != "NoSuchBucket") {
      return Status::Corruption("s3://" + loc_.bucket + "/" + key + ": log record " + std::to_string(n) +
                                " was listed but is gone: the commit log has a gap (a log record was deleted)");
    }
    return got.status();
  }
  return DecodeLogRecord(got->body, "s3://" + loc_.bucket + "/" + key, rec);
}

Status BucketLog::Refresh(LogState* state) {
  aws::ListOptions lo;
  lo.prefix = loc_.LogDir();
  if (state->last_number > 0) lo.start_after = loc_.LogKey(state->last_number);
  ASSIGN_OR_RETURN(auto listed, s3_->ListObjectsV2(loc_.bucket, lo));
  for (const auto& obj : listed) {
    const std::string url = "s3://" + loc_.bucket + "/" + obj.key;
    const auto n = ParseLogNumber(std::string_view(obj.key).substr(lo.prefix.size()));
    if (!n || obj.key.size() != lo.prefix.size() + kLogNumberDigits) {
      return Status::Corruption(url + ": an object in the commit log whose name is not a record number "
                                "(20 digits); nothing but docshift may write under " + loc_.Url("log/"));
    }
    const uint64_t expected = state->last_number + 1;
    if (*n != expected) {
      return Status::Corruption(url + ": the commit log has a gap: record " + std::to_string(expected) +
                                " is missing (" + loc_.Url("log/") + "); a log record was deleted");
    }
    pb::BucketLogRecord rec;
    RETURN_IF_ERROR(ReadRecord(*n, &rec));
    RETURN_IF_ERROR(ApplyLogRecord(rec, url, state));
  }
  return Status::OK();
}

Status BucketLog::Append(pb::BucketLogRecord rec, const std::string& writer_id, int64_t now_ms, LogState* state) {
  const uint64_t n = state->last_number + 1;
  rec.set_number(n);
  rec.set_writer_id(writer_id);
  rec.set_written_wall_ms(now_ms);
  const std::string url = "s3://" + loc_.bucket + "/" + loc_.LogKey(n);
  // Fold first, on a copy: a record that would not follow is never written.
  LogState next = *state;
  RETURN_IF_ERROR(ApplyLogRecord(rec, url, &next));
  aws::S3Error err;
  auto put = s3_->CreateObject(loc_.bucket, loc_.LogKey(n), EncodeLogRecord(rec), writer_id, &err);
  if (!put.ok()) {
    if (err.kind != aws::S3ErrorKind::kPreconditionFailed) return put.status();
    // Lost the race: name the winner.
    std::string who = "another writer";
    pb::BucketLogRecord theirs;
    if (ReadRecord(n, &theirs).ok()) {
      who = "writer " + theirs.writer_id();
      LogState probe = *state;
      Status ps = Refresh(&probe);
      if (ps.ok() && !probe.shipper.host().empty()) {
        who += " (a shipper on host " + probe.shipper.host() + ", pid " + std::to_string(probe.shipper.pid()) + ")";
      }
    }
    return Status::FailedPrecondition(url + " was created first by " + who + ": another shipper writes to " +
                                      loc_.ToString() + " now, so this one stops (run one shipper per spool)");
  }
  *state = std::move(next);
  return Status::OK();
}

}  // namespace docshift::bucket
