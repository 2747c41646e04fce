#include "model/runtime.h"

#include <malloc.h>
#include <sched.h>
#include <stdlib.h>

#include <future>
#include <optional>
#include <thread>

#include <ATen/Parallel.h>
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "model/intra_op_threads.h"

namespace ner::model {
namespace {

using ::testing::HasSubstr;

TEST(RuntimeTest, RejectsNonPositiveThreadCounts) {
  RuntimeOptions options;
  options.intra_op_threads = 0;
  EXPECT_FALSE(options.Validate().ok());
  options.intra_op_threads = 1;
  options.inter_op_threads = -1;
  EXPECT_FALSE(ConfigureRuntime(options).ok());
}

TEST(RuntimeTest, SetsIntraOpThreadsAndDescribesTheRuntime) {
  RuntimeOptions options;
  options.intra_op_threads = 1;
  ASSERT_TRUE(ConfigureRuntime(options).ok());
  EXPECT_EQ(at::get_num_threads(), 1);
  const RuntimeInfo info = GetRuntimeInfo();
  EXPECT_EQ(info.intra_op_threads, 1);
  EXPECT_EQ(info.cores, OnlineCores());
  EXPECT_GE(OnlineCores(), 1);
  EXPECT_THAT(DescribeRuntime(info), HasSubstr("intra-op threads: 1 of "));
  EXPECT_THAT(DescribeRuntime(info), HasSubstr("malloc: "));
  EXPECT_THAT(DescribeRuntime(info), HasSubstr("bf16 BiLSTM products: "));
  EXPECT_FALSE(info.bf16_products.empty());
}

// A parallel operation (at::parallel_for over 1M elements), then the thread's team size.
int ThreadsAfterAParallelOp() {
  at::Tensor x = at::ones({1 << 20});
  x.add_(1);
  return at::get_num_threads();
}

// The batcher-worker / Train-job situation: a thread fixes its count, another thread sets a
// different one before the first has run anything parallel. Plain at::set_num_threads would
// lose the first thread's count at its first parallel op (LibTorch's lazy per-thread init).
TEST(IntraOpThreadsTest, AThreadKeepsItsCountWhenAnotherChangesIt) {
  const int before = at::get_num_threads();
  std::promise<void> pinned, changed;
  std::future<void> changed_future = changed.get_future();
  int worker_threads = 0;
  std::thread worker([&] {
    SetThreadIntraOpThreads(1);
    pinned.set_value();
    changed_future.wait();
    worker_threads = ThreadsAfterAParallelOp();
  });
  pinned.get_future().wait();
  std::thread trainer([&] {
    SetThreadIntraOpThreads(3);
    EXPECT_EQ(ThreadsAfterAParallelOp(), 3);
    changed.set_value();
  });
  trainer.join();
  worker.join();
  EXPECT_EQ(worker_threads, 1);
  // A thread that fixed nothing takes the latest default.
  int fresh_threads = 0;
  std::thread fresh([&] { fresh_threads = ThreadsAfterAParallelOp(); });
  fresh.join();
  EXPECT_EQ(fresh_threads, 3);
  SetThreadIntraOpThreads(before);
}

// Serving threads take ConfigureRuntime's count once, whatever the default became since.
TEST(IntraOpThreadsTest, ServingThreadsUseTheConfiguredCount) {
  RuntimeOptions options;
  options.intra_op_threads = 2;
  ASSERT_TRUE(ConfigureRuntime(options).ok());
  std::thread([] { SetThreadIntraOpThreads(4); }).join();  // e.g. a Train job
  int serving = 0;
  std::thread([&] {
    UseServingIntraOpThreads();
    serving = ThreadsAfterAParallelOp();
  }).join();
  EXPECT_EQ(serving, 2);
  options.intra_op_threads = 1;
  ASSERT_TRUE(ConfigureRuntime(options).ok());
}

TEST(RuntimeTest, ReadsTheCpuLimitOfACgroup) {
  EXPECT_EQ(CpuLimitFromCgroupCpuMax("max 100000\n"), std::nullopt);
  EXPECT_EQ(CpuLimitFromCgroupCpuMax("200000 100000\n"), 2);
  EXPECT_EQ(CpuLimitFromCgroupCpuMax("150000 100000"), 2);  // 1.5 CPUs: two threads
  EXPECT_EQ(CpuLimitFromCgroupCpuMax("50000 100000"), 1);
  EXPECT_EQ(CpuLimitFromCgroupCpuMax("-1 100000"), std::nullopt);  // cgroup v1: no quota
  EXPECT_EQ(CpuLimitFromCgroupCpuMax(""), std::nullopt);
  EXPECT_EQ(CpuLimitFromCgroupCpuMax("100000"), std::nullopt);
  EXPECT_EQ(CpuLimitFromCgroupCpuMax("abc 100000"), std::nullopt);
  EXPECT_EQ(CpuLimitFromCgroupCpuMax("100000 0"), std::nullopt);
}

TEST(RuntimeTest, OnlineCoresRespectsTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_GE(OnlineCores(), 1);
  EXPECT_LE(OnlineCores(), CPU_COUNT(&set));
}

#if defined(__GLIBC__)
// Blocks glibc has handed out with mmap (returned to the kernel on free, faulted in again on
// the next allocation) rather than from its heap.
size_t MmappedBlocks() { return mallinfo2().hblks; }

TEST(RuntimeTest, RetainsFreedBlocksInTheHeap) {
  ::unsetenv("GLIBC_TUNABLES");
  ASSERT_TRUE(ConfigureRuntime(RuntimeOptions{}).ok());
  if (absl::StrContains(GetRuntimeInfo().malloc, "refused")) {
    GTEST_SKIP() << "malloc is not glibc's here (a sanitizer's?): " << GetRuntimeInfo().malloc;
  }
  EXPECT_THAT(GetRuntimeInfo().malloc, HasSubstr("mmap threshold 32 MiB"));
  // glibc's own default threshold starts at 128 KiB: a 4 MiB block would be mmapped.
  const size_t before = MmappedBlocks();
  void* block = ::malloc(4 << 20);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(MmappedBlocks(), before) << "a 4 MiB block was mmapped";
  ::free(block);
  // Larger ones too, in the main thread's heap (a big embedding's gradient, every step).
  void* huge = ::malloc(64 << 20);
  ASSERT_NE(huge, nullptr);
  EXPECT_EQ(MmappedBlocks(), before) << "a 64 MiB block was mmapped";
  ::free(huge);
}

TEST(RuntimeTest, LeavesMallocAloneWhenAskedOrWhenGlibcTunablesSetsIt) {
  RuntimeOptions options;
  options.retain_freed_memory = false;
  ASSERT_TRUE(ConfigureRuntime(options).ok());
  EXPECT_EQ(GetRuntimeInfo().malloc, "glibc defaults");

  ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
  ASSERT_TRUE(ConfigureRuntime(RuntimeOptions{}).ok());
  EXPECT_THAT(GetRuntimeInfo().malloc, HasSubstr("from GLIBC_TUNABLES=glibc.malloc.hugetlb=1"));
  ::unsetenv("GLIBC_TUNABLES");
}
#endif

}  // namespace
}  // namespace ner::model
