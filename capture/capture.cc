#include "capture/capture.h"

#include <glog/logging.h>

#include <algorithm>

#include "aws/dynamodb_types.h"
#include "aws/dynamodb_uri.h"
#include "capture/dynamodb_source.h"
#include "capture/source.h"
#include "capture/writer.h"
#include "mongo/mongo_util.h"
#include "spool/spool.h"

namespace docshift::capture {

namespace {

constexpr size_t kQueueBytes = 64u << 20;
constexpr int64_t kDynamoCheckRetryMs = 10'000;

StatusOr<std::unique_ptr<spool::SpoolWriter>> OpenSpool(const CaptureOptions& opts, const std::string& source_id) {
  spool::SpoolWriterOptions so;
  so.dir = opts.spool_dir;
  so.source_id = source_id;
  so.source_kind = opts.source_kind;
  so.segment_max_bytes = opts.segment_max_bytes;
  so.segment_max_age_ms = opts.segment_max_age_ms;
  so.zstd_level = opts.zstd_level;
  pb::NamespaceFilterSpec filter;
  std::vector<std::string> inc = opts.namespaces.include, exc = opts.namespaces.exclude;
  std::sort(inc.begin(), inc.end());
  std::sort(exc.begin(), exc.end());
  for (const auto& g : inc) filter.add_include(g);
  for (const auto& g : exc) filter.add_exclude(g);
  so.namespace_filter = &filter;
  // Capture converts DynamoDB items as it reads them (the events hold documents, as for
  // every source, and apply never needs the key schema or the conversion rules), so the
  // mode is part of what the spool holds: recorded, and checked on every restart, like
  // the namespace filter. Converting at apply time from source_record would let a mode
  // change mid-spool silently mix two conversions on the target.
  if (opts.source_kind == "dynamodb") so.dynamodb_numbers = opts.dynamodb_numbers;
  spool::RecoveryReport report;
  ASSIGN_OR_RETURN(auto writer, spool::SpoolWriter::Open(so, &report));
  LOG(INFO) << "capture: spool " << opts.spool_dir << " opened (" << report.ToString() << "), next sequence "
            << writer->next_seq();
  return writer;
}

// Readers still blocked in the network use these; everything they read is already
// discarded (the queue is closed) and the spool is sealed. Leave them to the exit.
void LeaveToExit(std::unique_ptr<ItemQueue> queue, std::unique_ptr<SourceContext> ctx,
                 std::unique_ptr<ChangeSource> source) {
  LOG(WARNING) << "capture: stopped without waiting for readers blocked in the network";
  (void)queue.release();
  (void)ctx.release();
  (void)source.release();
}

// DynamoDB Streams (capture/dynamodb_source.h): no MongoDB client involved.
Status RunDynamoCapture(const CaptureOptions& opts) {
  ASSIGN_OR_RETURN(aws::DynamoUri uri, aws::ParseDynamoUri(opts.source_uri, "--source"));
  ASSIGN_OR_RETURN(aws::DynamoClientOptions copts, aws::DynamoClientOptionsFromEnv(aws::ProcessEnv(), uri.region));
  copts.stop = opts.stop;
  {
    // Every table must exist, be reachable and have a stream capture can read before a
    // spool is created for it; an endpoint that does not answer is reported in seconds.
    aws::DynamoClientOptions check = copts;
    check.retry_for_ms = kDynamoCheckRetryMs;
    ASSIGN_OR_RETURN(auto client, aws::DynamoClient::New(check));
    for (const auto& t : uri.tables) {
      aws::CallError err;
      auto desc = client->DescribeTable(t, &err);
      if (!desc.ok() && err.kind == aws::CallErrorKind::kAuth) {
        // A runtime failure (exit 3), as snapshot and verify report it, not a usage error:
        // the message (the endpoint, the refusal, the key id, never the secret) says why.
        return Status::FailedPrecondition("the DynamoDB endpoint refused the credentials: " +
                                          desc.status().message());
      }
      RETURN_IF_ERROR(desc.status());
      RETURN_IF_ERROR(CheckCapturable(*desc));
    }
  }
  const std::string source_id = aws::DynamoIdentity(copts.region, copts.dynamodb_endpoint);
  ASSIGN_OR_RETURN(auto writer, OpenSpool(opts, source_id));
  LOG(INFO) << "capture: DynamoDB tables " << opts.source_uri.substr(opts.source_uri.rfind('/') + 1) << " in "
            << copts.region << " (" << copts.credentials.Redacted() << ")";
  auto queue = std::make_unique<ItemQueue>(kQueueBytes);
  auto ctx = std::make_unique<SourceContext>();
  ctx->opts = &opts;
  ctx->queue = queue.get();
  std::unique_ptr<ChangeSource> source = NewDynamoSource(ctx.get(), copts, uri.tables);
  Status s = RunWriter(opts, writer.get(), source.get(), ctx.get());
  if (ctx->readers_left_running) LeaveToExit(std::move(queue), std::move(ctx), std::move(source));
  return s;
}

}  // namespace

Status RunCapture(const CaptureOptions& opts) {
  if (opts.source_uri.empty()) return Status::InvalidArgument("--source is required: the source's connection string");
  if (opts.spool_dir.empty()) return Status::InvalidArgument("--spool is required: the spool directory");
  const std::string& kind = opts.source_kind;
  if (kind != "mongo" && kind != "cosmos" && kind != "oplog" && kind != "dynamodb") {
    return Status::InvalidArgument("--source_kind '" + kind + "' is not one of mongo, cosmos, oplog, dynamodb");
  }
  if ((kind == "dynamodb") != aws::IsDynamoUri(opts.source_uri)) {
    return Status::InvalidArgument(kind == "dynamodb"
                                       ? "--source_kind dynamodb needs a dynamodb://REGION/TABLE[,TABLE...] --source"
                                       : "--source: a dynamodb:// source is captured with --source_kind dynamodb "
                                         "(the default for such a URI); drop --source_kind " + kind);
  }
  if (opts.ttl_deletes != "apply" && opts.ttl_deletes != "skip") {
    return Status::InvalidArgument("--ttl_deletes '" + opts.ttl_deletes + "' is not one of apply, skip");
  }
  if (!aws::ParseNumberMode(opts.dynamodb_numbers).ok() || opts.dynamodb_numbers.empty()) {
    return Status::InvalidArgument("--dynamodb_numbers '" + opts.dynamodb_numbers +
                                   "' is not one of decimal, string, double");
  }
  if (opts.scope != "deployment" && opts.scope != "database" && opts.scope != "collection") {
    return Status::InvalidArgument("--scope '" + opts.scope + "' is not one of deployment, database, collection");
  }
  if (opts.show_expanded_events != "auto" && opts.show_expanded_events != "on" && opts.show_expanded_events != "off") {
    return Status::InvalidArgument("--show_expanded_events '" + opts.show_expanded_events + "' is not one of auto, on, off");
  }
  if (opts.change_stream_cursor != "auto" && opts.change_stream_cursor != "raw") {
    return Status::InvalidArgument("--change_stream_cursor '" + opts.change_stream_cursor + "' is not one of auto, raw");
  }
  if (kind != "mongo" && opts.show_expanded_events == "on") {
    return Status::InvalidArgument("--show_expanded_events=on needs --source_kind mongo (MongoDB 6.0+ change streams); "
                                   "drop it or use --show_expanded_events=auto");
  }
  if (kind == "dynamodb") return RunDynamoCapture(opts);
  ASSIGN_OR_RETURN(auto uri, mongo::ParseUri(opts.source_uri, "--source"));
  const int32_t stall_ms = mongo::ApplyStallTimeout(uri.get());
  if (kind == "oplog" && stall_ms > 0 && stall_ms <= opts.oplog_max_await_ms + 2'000) {
    return Status::InvalidArgument(
        "--source: socketTimeoutMS=" + std::to_string(stall_ms) + " is not above --oplog_max_await (" +
        std::to_string(opts.oplog_max_await_ms) + " ms) plus 2 s: every idle read would time out; "
        "raise socketTimeoutMS in the URI or lower --oplog_max_await");
  }
  const std::string source_id = mongo::EndpointIdentity(uri.get(), kind);
  const std::string redacted = mongo::RedactUri(opts.source_uri);

  ASSIGN_OR_RETURN(auto pool, mongo::NewPool(uri.get(), kInitialPoolSize));
  {
    mongo::PooledClient c(pool.get());
    RETURN_IF_ERROR(mongo::PingAtStart(c.get(), "source " + redacted));
  }
  ASSIGN_OR_RETURN(auto writer, OpenSpool(opts, source_id));

  if (kind == "cosmos") {
    LOG(WARNING) << "capture: Azure Cosmos DB for MongoDB change streams report no deletes; "
                 << "deleted documents stay on the target until a reconciliation pass";
  }
  if (!writer->resume_state().resume_token.empty()) {
    LOG(INFO) << "capture: resuming from the spool's last durable position";
  } else if (opts.start_at != 0) {
    LOG(INFO) << "capture: new spool, starting at cluster time " << (opts.start_at >> 32) << "."
              << (opts.start_at & 0xffffffffu);
  } else {
    LOG(INFO) << "capture: new spool, starting from now";
  }

  auto queue = std::make_unique<ItemQueue>(kQueueBytes);
  auto ctx = std::make_unique<SourceContext>();
  ctx->opts = &opts;
  ctx->queue = queue.get();
  std::unique_ptr<ChangeSource> source =
      kind == "oplog" ? NewOplogSource(ctx.get(), pool.get()) : NewChangeStreamSource(ctx.get(), pool.get());
  Status s = RunWriter(opts, writer.get(), source.get(), ctx.get());
  if (ctx->readers_left_running) {
    LeaveToExit(std::move(queue), std::move(ctx), std::move(source));
    (void)pool.release();
  }
  return s;
}

}  // namespace docshift::capture
