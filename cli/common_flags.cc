// Flags shared by several commands. Name and default are a compatibility contract.
#include <gflags/gflags.h>

DEFINE_string(spool, "", "Spool directory (segments, manifest, checkpoints).");
DEFINE_int32(parallel, 4, "snapshot/verify/reconcile/cutover: _id ranges copied or compared at "
                          "once, across collections; each uses one connection to each side.");
DEFINE_uint64(docs_per_range, 100000, "snapshot/verify/reconcile: split collections into _id ranges "
                                      "of about this many documents (copied or compared in "
                                      "parallel, recorded when done; bounds verify's memory per "
                                      "range).");
