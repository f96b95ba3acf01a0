// Flags shared by several commands. Name and default are a compatibility contract.
#include <gflags/gflags.h>

DEFINE_string(spool, "", "Spool directory (segments, manifest, checkpoints).");
