#ifndef NER_CLIENT_STATUS_H_
#define NER_CLIENT_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "ner/v1/ner.pb.h"

namespace ner::client {

// gRPC -> absl for the client: every grpc::StatusCode maps to the absl::StatusCode of the same
// name (and number), the message is kept verbatim; a code outside the enum is UNKNOWN. The
// server's inverse is server/status_util.h (the client does not link the server). Pure.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The in-band status of a streamed item (RecognizeStreamResponse.error, TrainEvent.error). A
// number off the wire outside the enum is UNKNOWN; code 0 (never sent in an error) is UNKNOWN
// too, so an error never reads as OK. Pure.
absl::Status FromRpcStatus(const v1::RpcStatus& status);

// "INVALID_ARGUMENT" for absl::StatusCode::kInvalidArgument (the gRPC spelling, used in output
// files and tables). Pure.
const char* StatusCodeName(absl::StatusCode code);

}  // namespace ner::client

#endif  // NER_CLIENT_STATUS_H_
