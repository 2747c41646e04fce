#include "client/retry.h"

#include <gtest/gtest.h>

#include "client/client_options.h"

namespace ner::client {
namespace {

TEST(RetryTest, OnlyUnavailableAndResourceExhaustedAreRetried) {
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("")));
  EXPECT_TRUE(IsRetryable(absl::ResourceExhaustedError("")));
  for (const absl::Status& s :
       {absl::InvalidArgumentError(""), absl::NotFoundError(""), absl::DeadlineExceededError(""),
        absl::InternalError(""), absl::UnauthenticatedError(""), absl::CancelledError(""),
        absl::PermissionDeniedError(""), absl::UnimplementedError(""), absl::OkStatus()}) {
    EXPECT_FALSE(IsRetryable(s)) << s;
  }
}

TEST(RetryTest, CeilingGrowsExponentiallyUpToTheCap) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.backoff_multiplier = 2;
  policy.max_backoff = absl::Milliseconds(700);
  struct Case {
    int retry;
    absl::Duration ceiling;
  };
  for (const Case& c : {Case{1, absl::Milliseconds(100)}, Case{2, absl::Milliseconds(200)},
                        Case{3, absl::Milliseconds(400)}, Case{4, absl::Milliseconds(700)},
                        Case{60, absl::Milliseconds(700)}, Case{10000, absl::Milliseconds(700)}}) {
    EXPECT_EQ(BackoffCeiling(policy, c.retry), c.ceiling) << "retry " << c.retry;
  }
}

TEST(RetryTest, FullJitterDrawsBelowTheCeilingAndNoJitterWaitsIt) {
  RetryPolicy policy;
  policy.initial_backoff = absl::Milliseconds(100);
  policy.max_backoff = absl::Seconds(10);
  EXPECT_EQ(RetryDelay(policy, 3, 0.0), absl::ZeroDuration());
  EXPECT_EQ(RetryDelay(policy, 3, 0.5), absl::Milliseconds(200));
  policy.full_jitter = false;
  EXPECT_EQ(RetryDelay(policy, 3, 0.0), absl::Milliseconds(400));

  policy.full_jitter = true;
  Backoff backoff(policy);
  bool spread = false;
  for (int i = 0; i < 200; ++i) {
    const absl::Duration d = backoff.Delay(2);
    ASSERT_GE(d, absl::ZeroDuration());
    ASSERT_LT(d, absl::Milliseconds(200));
    spread |= d < absl::Milliseconds(100);
  }
  EXPECT_TRUE(spread);
}

TEST(RetryTest, OptionsAreValidated) {
  ClientOptions options;
  EXPECT_TRUE(options.Validate().ok());
  options.retry.max_attempts = 0;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = ClientOptions();
  options.retry.backoff_multiplier = 0.5;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = ClientOptions();
  options.retry.max_backoff = absl::Milliseconds(1);
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = ClientOptions();
  options.deadline = absl::ZeroDuration();
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = ClientOptions();
  options.tls = TlsOptions();
  options.tls->cert_chain_file = "cert.pem";  // and no key
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = ClientOptions();
  options.bearer_token = "abc\ndef";
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = ClientOptions();
  options.target = "";
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ner::client
