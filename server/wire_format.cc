#include "server/wire_format.h"

#include <grpcpp/support/slice.h>

#include "absl/strings/str_cat.h"
#include "google/protobuf/unknown_field_set.h"
#include "model/utf8.h"

namespace ner::server {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Field numbers shared by RecognizeRequest and RecognizeStreamRequest, and of Document.
constexpr int kDocumentsField = 1;
constexpr int kOptionsField = 2;
constexpr int kIdField = 1;
constexpr int kTextField = 2;

// Why `bytes`, a Document that protobuf refused, is malformed.
MalformedDocument Diagnose(const std::string& bytes, int index) {
  MalformedDocument malformed;
  malformed.index = index;
  UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) {
    malformed.status = absl::InvalidArgumentError(
        absl::StrCat("document ", index, " is not a valid Document message"));
    return malformed;
  }
  std::string id, text;
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& field = fields.field(i);
    if (field.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    if (field.number() == kIdField) id = field.length_delimited();
    if (field.number() == kTextField) text = field.length_delimited();
  }
  if (absl::Status s = model::ValidateUtf8(id); !s.ok()) {
    malformed.status = absl::InvalidArgumentError(
        absl::StrCat("document ", index, ": the id is not UTF-8: ", s.message()));
    return malformed;
  }
  malformed.id = id;
  const std::string name = id.empty() ? absl::StrCat("document ", index)
                                      : absl::StrCat("document ", index, " (id \"", id, "\")");
  if (absl::Status s = model::ValidateUtf8(text); !s.ok()) {
    malformed.status = absl::InvalidArgumentError(absl::StrCat(name, ": ", s.message()));
  } else {
    malformed.status = absl::InvalidArgumentError(absl::StrCat(name, " is malformed"));
  }
  return malformed;
}

template <typename Request>
absl::Status ParseLeniently(absl::string_view bytes, Request* request,
                            std::vector<MalformedDocument>* malformed) {
  request->Clear();
  malformed->clear();
  if (request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::OkStatus();
  }
  request->Clear();
  UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("the request is not a valid protobuf message");
  }
  int index = 0;
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& field = fields.field(i);
    if (field.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    if (field.number() == kDocumentsField) {
      v1::Document document;
      if (document.ParseFromString(field.length_delimited())) {
        *request->add_documents() = std::move(document);
      } else {
        malformed->push_back(Diagnose(field.length_delimited(), index));
      }
      ++index;
    } else if (field.number() == kOptionsField) {
      if (!request->mutable_options()->MergeFromString(field.length_delimited())) {
        return absl::InvalidArgumentError("the options do not parse (every string must be UTF-8)");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseRequest(absl::string_view bytes, v1::RecognizeRequest* request,
                          std::vector<MalformedDocument>* malformed) {
  return ParseLeniently(bytes, request, malformed);
}

absl::Status ParseRequest(absl::string_view bytes, v1::RecognizeStreamRequest* request,
                          std::vector<MalformedDocument>* malformed) {
  return ParseLeniently(bytes, request, malformed);
}

absl::Status ParseMessage(absl::string_view bytes, google::protobuf::MessageLite* message) {
  if (message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the request does not parse as a ", message->GetTypeName(),
                   " (is every string, e.g. an inline document's text, valid UTF-8?)"));
}

std::string ToBytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) return bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

grpc::ByteBuffer ToByteBuffer(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace ner::server
