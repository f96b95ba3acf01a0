#include "util/cpu_time.h"

#include <sys/resource.h>

#include <cstdio>

namespace docshift {

namespace {
double Seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }
}  // namespace

CpuTimes ProcessCpuTimes() {
  CpuTimes t;
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return t;
  t.user_s = Seconds(ru.ru_utime);
  t.sys_s = Seconds(ru.ru_stime);
  return t;
}

std::string CpuSummary(const CpuTimes& cpu, double wall_s, uint64_t events) {
  char buf[192];
  int n = std::snprintf(buf, sizeof(buf), "cpu %.3f s user+sys (user %.3f s, sys %.3f s), ", cpu.total_s(),
                        cpu.user_s, cpu.sys_s);
  std::string out(buf, static_cast<size_t>(n));
  if (events > 0) {
    n = std::snprintf(buf, sizeof(buf), "%.1f us/event, ", cpu.total_s() * 1e6 / static_cast<double>(events));
    out.append(buf, static_cast<size_t>(n));
  }
  n = std::snprintf(buf, sizeof(buf), "wall %.3f s", wall_s);
  out.append(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace docshift
