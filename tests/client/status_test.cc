#include "client/status.h"

#include <gtest/gtest.h>

namespace ner::client {
namespace {

TEST(ClientStatusTest, EveryGrpcCodeMapsToTheAbslCodeOfTheSameNameAndNumber) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status =
        FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), "why"));
    EXPECT_EQ(static_cast<int>(status.code()), code);
    EXPECT_EQ(status.message(), "why");
  }
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "")).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "")).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(ClientStatusTest, InBandStatusNeverReadsAsOkAndDistrustsUnknownNumbers) {
  v1::RpcStatus proto;
  proto.set_code(3);
  proto.set_message("bad utf-8");
  EXPECT_EQ(FromRpcStatus(proto), absl::InvalidArgumentError("bad utf-8"));
  proto.set_code(0);
  EXPECT_EQ(FromRpcStatus(proto).code(), absl::StatusCode::kUnknown);
  proto.set_code(99);
  EXPECT_EQ(FromRpcStatus(proto).code(), absl::StatusCode::kUnknown);
  proto.set_code(-1);
  EXPECT_EQ(FromRpcStatus(proto).code(), absl::StatusCode::kUnknown);
}

TEST(ClientStatusTest, CodeNamesAreTheGrpcSpelling) {
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kResourceExhausted), "RESOURCE_EXHAUSTED");
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kOk), "OK");
  EXPECT_STREQ(StatusCodeName(static_cast<absl::StatusCode>(42)), "UNKNOWN");
}

}  // namespace
}  // namespace ner::client
