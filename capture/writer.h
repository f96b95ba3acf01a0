// The one capture loop, the same for every kind of source: pops what the source's readers
// queue, keeps or drops each event by the namespace filter, groups events into batches
// (by events, bytes and time), appends each batch with the source's combined position as
// its resume token and fsyncs it (group commit) before that position counts as reached;
// writes a new spool's starting position before reporting ready; waits out a full disk;
// seals segments by size and age; prunes by retention; reports progress and status.
//
// Thread safety: runs on the calling thread; the source's readers only touch ctx.
#pragma once

#include "capture/capture.h"
#include "capture/source.h"
#include "spool/spool.h"
#include "util/status.h"

namespace docshift::capture {

// Starts source at the spool's durable position and runs until opts.stop, a fatal source
// error (ctx->Fail) or a spool error; then stops the readers, makes what was read durable
// and seals the open segment. REQUIRES: ctx->opts == &opts, ctx->queue set.
Status RunWriter(const CaptureOptions& opts, spool::SpoolWriter* writer, ChangeSource* source,
                 SourceContext* ctx);

}  // namespace docshift::capture
