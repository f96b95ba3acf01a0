// This process's own CPU time (user + system, every thread, from getrusage(RUSAGE_SELF)),
// for the figure apply and capture print when they end: CPU per event, which excludes
// the time spent blocked on the network or the disk (issue #15). Thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace docshift {

struct CpuTimes {
  double user_s = 0;
  double sys_s = 0;
  double total_s() const { return user_s + sys_s; }
};

// User and system CPU seconds this process has used so far, all threads together.
// Zeros if getrusage fails (it cannot for RUSAGE_SELF on Linux).
CpuTimes ProcessCpuTimes();

// "cpu 1.234 s user+sys (user 1.100 s, sys 0.134 s), 61.7 us/event, wall 5.678 s":
// the tail of a final log line. The per-event figure is omitted when events is 0.
std::string CpuSummary(const CpuTimes& cpu, double wall_s, uint64_t events);

}  // namespace docshift
