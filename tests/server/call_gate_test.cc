#include "server/call_gate.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/synchronization/notification.h"

namespace ner::server {
namespace {

TEST(CallGateTest, CountsAdmittedCallsUntilTheyLeave) {
  CallGate gate;
  EXPECT_EQ(gate.in_progress(), 0);
  ASSERT_TRUE(gate.Enter().ok());
  ASSERT_TRUE(gate.Enter().ok());
  EXPECT_EQ(gate.in_progress(), 2);
  gate.Leave();
  EXPECT_EQ(gate.in_progress(), 1);
  gate.Leave();
  EXPECT_EQ(gate.in_progress(), 0);
  EXPECT_TRUE(gate.AwaitIdle(absl::Now()));
}

TEST(CallGateTest, ClosedRefusesNewCallsWithUnavailableAndKeepsTheAdmittedOnes) {
  CallGate gate;
  ASSERT_TRUE(gate.Enter().ok());
  gate.Close();
  gate.Close();  // idempotent
  const absl::Status refused = gate.Enter();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.message().find("shutting down"), absl::string_view::npos) << refused;
  EXPECT_EQ(gate.in_progress(), 1);  // the refusal is not counted
  gate.Leave();
  EXPECT_EQ(gate.in_progress(), 0);
}

TEST(CallGateTest, AwaitIdleReturnsWhenTheLastCallLeavesOrAtTheDeadline) {
  CallGate gate;
  ASSERT_TRUE(gate.Enter().ok());
  gate.Close();
  const absl::Time start = absl::Now();
  EXPECT_FALSE(gate.AwaitIdle(start + absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));

  absl::Notification waiting;
  std::thread leaver([&] {
    waiting.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(20));
    gate.Leave();
  });
  waiting.Notify();
  EXPECT_TRUE(gate.AwaitIdle(absl::Now() + absl::Seconds(30)));
  EXPECT_EQ(gate.in_progress(), 0);
  leaver.join();
}

TEST(CallGateTest, CloseCallsEachListenerOnceUnlessRemoved) {
  CallGate gate;
  int first = 0;
  int second = 0;
  int removed = 0;
  ASSERT_TRUE(gate.Enter().ok());
  const int64_t a = gate.AddCloseListener([&] {
    ++first;
    // A listener may end its call and unregister itself: the gate's lock is not held.
    gate.Leave();
    gate.RemoveCloseListener(1);
  });
  const int64_t b = gate.AddCloseListener([&] { ++second; });
  const int64_t c = gate.AddCloseListener([&] { ++removed; });
  EXPECT_NE(a, 0);
  EXPECT_NE(b, 0);
  EXPECT_NE(a, b);
  gate.RemoveCloseListener(c);
  gate.RemoveCloseListener(0);  // a no-op
  gate.Close();
  gate.Close();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(gate.in_progress(), 0);
  // Once closed, nothing is registered: the caller learns that it drains already.
  EXPECT_EQ(gate.AddCloseListener([&] { ++removed; }), 0);
  EXPECT_EQ(removed, 0);
}

}  // namespace
}  // namespace ner::server
