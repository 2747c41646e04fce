#include "server/status_util.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ner::server {
namespace {

struct CodeCase {
  absl::StatusCode absl_code;
  grpc::StatusCode grpc_code;
};

// Every absl::StatusCode, with the gRPC code of the same meaning.
const std::vector<CodeCase>& AllCodes() {
  static const auto* const cases = new std::vector<CodeCase>{
      {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
      {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
      {absl::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
      {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
      {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
      {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
  };
  return *cases;
}

TEST(StatusUtilTest, TableCoversEveryErrorCode) {
  // google.rpc.Code has 16 error codes (1..16); the table must name each once.
  std::vector<bool> seen(17, false);
  for (const CodeCase& c : AllCodes()) {
    const int n = static_cast<int>(c.grpc_code);
    ASSERT_GE(n, 1);
    ASSERT_LE(n, 16);
    EXPECT_FALSE(seen[n]) << n;
    seen[n] = true;
  }
  EXPECT_EQ(AllCodes().size(), 16u);
}

TEST(StatusUtilTest, ToGrpcStatusMapsEveryCodeAndKeepsTheMessage) {
  for (const CodeCase& c : AllCodes()) {
    const absl::Status status(c.absl_code, "what went wrong: 文本");
    const grpc::Status grpc_status = ToGrpcStatus(status);
    EXPECT_EQ(grpc_status.error_code(), c.grpc_code) << status;
    EXPECT_EQ(grpc_status.error_message(), "what went wrong: 文本") << status;
  }
}

TEST(StatusUtilTest, FromGrpcStatusMapsEveryCodeAndKeepsTheMessage) {
  for (const CodeCase& c : AllCodes()) {
    const grpc::Status grpc_status(c.grpc_code, "queue full");
    const absl::Status status = FromGrpcStatus(grpc_status);
    EXPECT_EQ(status.code(), c.absl_code) << static_cast<int>(c.grpc_code);
    EXPECT_EQ(status.message(), "queue full");
  }
}

TEST(StatusUtilTest, RoundTripsThroughGrpc) {
  for (const CodeCase& c : AllCodes()) {
    const absl::Status status(c.absl_code, "m");
    EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(status)), status);
  }
}

TEST(StatusUtilTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_TRUE(FromRpcStatusProto(ToRpcStatusProto(absl::OkStatus())).ok());
  EXPECT_EQ(ToRpcStatusProto(absl::OkStatus()).code(), 0);
}

TEST(StatusUtilTest, CodeOutsideTheEnumIsUnknown) {
  const absl::Status odd(static_cast<absl::StatusCode>(42), "odd");
  EXPECT_EQ(ToGrpcStatus(odd).error_code(), grpc::StatusCode::UNKNOWN);

  v1::RpcStatus proto;
  proto.set_code(99);
  proto.set_message("from a newer server");
  EXPECT_EQ(FromRpcStatusProto(proto), absl::UnknownError("from a newer server"));
  proto.set_code(-3);
  EXPECT_EQ(FromRpcStatusProto(proto).code(), absl::StatusCode::kUnknown);
}

TEST(StatusUtilTest, RpcStatusProtoCarriesTheGoogleRpcCode) {
  for (const CodeCase& c : AllCodes()) {
    const absl::Status status(c.absl_code, "document 7: invalid UTF-8 at byte 3");
    const v1::RpcStatus proto = ToRpcStatusProto(status);
    EXPECT_EQ(proto.code(), static_cast<int>(c.grpc_code));
    EXPECT_EQ(proto.message(), "document 7: invalid UTF-8 at byte 3");
    EXPECT_EQ(FromRpcStatusProto(proto), status);
  }
}

}  // namespace
}  // namespace ner::server
