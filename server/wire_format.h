#ifndef NER_SERVER_WIRE_FORMAT_H_
#define NER_SERVER_WIRE_FORMAT_H_

#include <grpcpp/support/byte_buffer.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "ner/v1/ner.pb.h"

namespace ner::server {

// Recognition requests as they arrive on the wire. Recognize and RecognizeStream are served as
// raw (ByteBuffer) methods so that a document whose text is not UTF-8 gets a useful answer:
// protobuf refuses such a proto3 string and fails the whole message without saying where (the
// client would see an empty error), whereas here the document is named with the byte offset of
// the bad sequence, as the API promises. Pure functions; thread-safe.

// A document of the message that could not be taken as it is.
struct MalformedDocument {
  int index = 0;        // position among the message's documents
  std::string id;       // as sent when it is valid UTF-8, else empty
  absl::Status status;  // INVALID_ARGUMENT naming the document, the field and the byte offset
};

// Parses `bytes` into `request`. When protobuf accepts them this is just ParseFromString.
// Otherwise the message is walked field by field: documents that parse are kept (in order),
// the others are left out and reported in `malformed`. INVALID_ARGUMENT when the bytes are not
// a protobuf message or the options do not parse.
absl::Status ParseRequest(absl::string_view bytes, v1::RecognizeRequest* request,
                          std::vector<MalformedDocument>* malformed);
absl::Status ParseRequest(absl::string_view bytes, v1::RecognizeStreamRequest* request,
                          std::vector<MalformedDocument>* malformed);

// Parses `bytes` into `message`, a request of an RPC served raw for this reason alone (Train,
// WatchTrainJob): where gRPC's callback API answers a request protobuf refuses with
// UNIMPLEMENTED and no message, this is INVALID_ARGUMENT naming the message type.
absl::Status ParseMessage(absl::string_view bytes, google::protobuf::MessageLite* message);

// The bytes of a ByteBuffer, contiguous.
std::string ToBytes(const grpc::ByteBuffer& buffer);
// A serialised message as a ByteBuffer.
grpc::ByteBuffer ToByteBuffer(const google::protobuf::MessageLite& message);

}  // namespace ner::server

#endif  // NER_SERVER_WIRE_FORMAT_H_
