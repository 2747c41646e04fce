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

}  // namespace
}  // namespace ner::server
