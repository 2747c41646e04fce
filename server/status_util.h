#ifndef NER_SERVER_STATUS_UTIL_H_
#define NER_SERVER_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "ner/v1/ner.pb.h"

namespace ner::server {

// The one place where absl::Status and gRPC statuses meet (see STYLE.md, "Errors"). Every
// absl::StatusCode maps to the gRPC code of the same meaning (and the same google.rpc.Code
// number); the message is kept verbatim. A code outside the enum maps to UNKNOWN. Payloads are
// not carried. All functions are pure and thread-safe.

// absl -> gRPC, for the server's RPC handlers.
grpc::Status ToGrpcStatus(const absl::Status& status);

// gRPC -> absl, for the client library. The inverse of ToGrpcStatus.
absl::Status FromGrpcStatus(const grpc::Status& status);

// absl -> the in-band RpcStatus of streamed responses (RecognizeStreamResponse.error,
// TrainEvent.error), and back.
v1::RpcStatus ToRpcStatusProto(const absl::Status& status);
absl::Status FromRpcStatusProto(const v1::RpcStatus& status);

}  // namespace ner::server

#endif  // NER_SERVER_STATUS_UTIL_H_
