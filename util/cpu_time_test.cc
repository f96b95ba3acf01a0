// ProcessCpuTimes counts this process's own CPU, every thread; CpuSummary's format is what
// bench/cpu.sh parses from apply's final line.
#include "util/cpu_time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace docshift {
namespace {

// Spins until this process has used `cpu_s` more CPU seconds (bounded by a wall deadline).
double Spin(double cpu_s) {
  const CpuTimes start = ProcessCpuTimes();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  volatile uint64_t x = 1;
  while (ProcessCpuTimes().total_s() - start.total_s() < cpu_s && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 100000; ++i) x = x * 6364136223846793005ull + 1;
  }
  return ProcessCpuTimes().total_s() - start.total_s();
}

TEST(CpuTimeTest, GrowsWithWorkAndNotWithSleep) {
  EXPECT_GE(Spin(0.05), 0.05);
  const CpuTimes before = ProcessCpuTimes();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Sleeping is not CPU: well under the 200 ms slept.
  EXPECT_LT(ProcessCpuTimes().total_s() - before.total_s(), 0.1);
}

TEST(CpuTimeTest, CountsOtherThreads) {
  const CpuTimes before = ProcessCpuTimes();
  std::thread t([] { Spin(0.05); });
  t.join();
  EXPECT_GE(ProcessCpuTimes().total_s() - before.total_s(), 0.05);
}

TEST(CpuTimeTest, SummaryFormat) {
  CpuTimes c;
  c.user_s = 1.1;
  c.sys_s = 0.134;
  EXPECT_EQ(CpuSummary(c, 5.678, 20000), "cpu 1.234 s user+sys (user 1.100 s, sys 0.134 s), 61.7 us/event, wall 5.678 s");
  EXPECT_EQ(CpuSummary(c, 2, 0), "cpu 1.234 s user+sys (user 1.100 s, sys 0.134 s), wall 2.000 s");
}

}  // namespace
}  // namespace docshift
