// Flags shared by several commands. Name and default are a compatibility contract.
#include <gflags/gflags.h>

DEFINE_string(spool, "", "Spool directory (segments, manifest, checkpoints).");
DEFINE_int32(parallel, 4, "snapshot/verify/reconcile/cutover: _id ranges copied or compared at "
                          "once, across collections; each uses one connection to each side.");
DEFINE_uint64(docs_per_range, 100000, "snapshot/verify/reconcile: split collections into _id ranges "
                                      "of about this many documents (copied or compared in "
                                      "parallel, recorded when done; bounds verify's memory per "
                                      "range).");
DEFINE_int64(max_docs_per_s, 0, "snapshot/verify/reconcile: load control: documents per second "
                                "for the whole process, all threads together (snapshot: written to "
                                "the target; verify/reconcile: read from the source); 0 = no limit.");
DEFINE_int64(max_mb_per_s, 0, "snapshot/verify/reconcile: load control: MB (10^6 bytes of BSON) per "
                              "second for the whole process, counted as --max_docs_per_s; 0 = no "
                              "limit.");
DEFINE_string(name, "apply", "Name of the apply: its checkpoint (checkpoints/NAME.ckpt), "
                             "dead-letter file (deadletter/NAME.dlq) and status file "
                             "(status/apply-NAME.status) in the spool.");
DEFINE_int32(metrics_port, 0, "Serve Prometheus metrics at http://127.0.0.1:PORT/metrics "
                              "(and /progress; loopback only; 0 = off): the same as "
                              "--http_listen=127.0.0.1:PORT. `docshift status` needs no port: "
                              "it reads the status files in the spool.");
DEFINE_string(http_listen, "", "capture/apply: serve GET /metrics (Prometheus) and GET /progress "
                               "(`status --json` of this spool: state, lags, can_cutover) on "
                               "HOST:PORT; a bare PORT is 127.0.0.1:PORT. An address beyond "
                               "loopback is logged as a warning. Empty: off (or --metrics_port).");

DEFINE_string(transforms, "", "apply/snapshot/verify/cutover: JSON file of per-namespace rules "
                              "that reshape documents on their way to the target (rename, drop, "
                              "defaults, epoch -> date, _id from fields; README \"Transforms\"). "
                              "Give verify and cutover the file apply and snapshot use.");
DEFINE_bool(stop_when_drained, false, "apply/ship: exit once everything in the spool is applied "
                                      "(apply) or committed to the bucket (ship), instead of "
                                      "following the spool.");
DEFINE_string(region, "", "ship, apply/snapshot --spool s3://...: the bucket's AWS region (default: AWS_REGION, "
                          "AWS_DEFAULT_REGION, or the profile's region).");
