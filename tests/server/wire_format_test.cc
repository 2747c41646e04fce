#include "server/wire_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace ner::server {
namespace {

using ::testing::HasSubstr;

// Serialises `request`, then turns every '#' into the byte 0xFF (not UTF-8), which protobuf
// would refuse to do itself.
template <typename Request>
std::string WithBadBytes(const Request& request) {
  std::string bytes = request.SerializeAsString();
  std::replace(bytes.begin(), bytes.end(), '#', '\xff');
  return bytes;
}

void AddDocument(v1::RecognizeRequest* request, const std::string& id, const std::string& text) {
  v1::Document* document = request->add_documents();
  document->set_id(id);
  document->set_text(text);
}

TEST(WireFormatTest, ValidRequestsParseAsUsual) {
  v1::RecognizeRequest sent;
  AddDocument(&sent, "a", "张三在北京。");
  sent.mutable_options()->set_model("m");
  v1::RecognizeRequest parsed;
  std::vector<MalformedDocument> malformed;
  ASSERT_TRUE(ParseRequest(sent.SerializeAsString(), &parsed, &malformed).ok());
  EXPECT_EQ(parsed.SerializeAsString(), sent.SerializeAsString());
  EXPECT_TRUE(malformed.empty());
}

TEST(WireFormatTest, NamesTheDocumentAndByteOfBadText) {
  v1::RecognizeRequest sent;
  AddDocument(&sent, "a", "张三");
  AddDocument(&sent, "b", "ab#c");
  AddDocument(&sent, "c", "李四");
  AddDocument(&sent, "bad#id", "x");
  sent.mutable_options()->add_entity_types("PER");
  v1::RecognizeRequest parsed;
  std::vector<MalformedDocument> malformed;
  ASSERT_TRUE(ParseRequest(WithBadBytes(sent), &parsed, &malformed).ok());
  ASSERT_EQ(parsed.documents_size(), 2);
  EXPECT_EQ(parsed.documents(0).id(), "a");
  EXPECT_EQ(parsed.documents(1).id(), "c");
  EXPECT_EQ(parsed.options().entity_types(0), "PER");
  ASSERT_EQ(malformed.size(), 2u);
  EXPECT_EQ(malformed[0].index, 1);
  EXPECT_EQ(malformed[0].id, "b");
  EXPECT_EQ(malformed[0].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(malformed[0].status.message()),
              HasSubstr("document 1 (id \"b\"): invalid UTF-8 at byte 2"));
  EXPECT_EQ(malformed[1].index, 3);
  EXPECT_EQ(malformed[1].id, "");
  EXPECT_THAT(std::string(malformed[1].status.message()),
              HasSubstr("document 3: the id is not UTF-8"));
}

TEST(WireFormatTest, StreamMessagesToo) {
  v1::RecognizeStreamRequest sent;
  v1::Document* document = sent.add_documents();
  document->set_id("x");
  document->set_text("#");
  v1::RecognizeStreamRequest parsed;
  std::vector<MalformedDocument> malformed;
  ASSERT_TRUE(ParseRequest(WithBadBytes(sent), &parsed, &malformed).ok());
  EXPECT_EQ(parsed.documents_size(), 0);
  EXPECT_FALSE(parsed.has_options());
  ASSERT_EQ(malformed.size(), 1u);
  EXPECT_THAT(std::string(malformed[0].status.message()), HasSubstr("at byte 0"));
}

TEST(WireFormatTest, RejectsWhatCannotBeRead) {
  v1::RecognizeRequest parsed;
  std::vector<MalformedDocument> malformed;
  EXPECT_EQ(ParseRequest("\xff\xff\xff", &parsed, &malformed).code(),
            absl::StatusCode::kInvalidArgument);
  v1::RecognizeRequest sent;
  sent.mutable_options()->set_model("m#");
  const absl::Status status = ParseRequest(WithBadBytes(sent), &parsed, &malformed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("options"));
}

TEST(WireFormatTest, ParseMessageRefusesWhatProtobufRefusesWithTheType) {
  v1::TrainRequest sent;
  sent.set_output_model("m");
  sent.mutable_train()->mutable_inline_documents()->add_documents()->set_text("张三");
  v1::TrainRequest parsed;
  ASSERT_TRUE(ParseMessage(sent.SerializeAsString(), &parsed).ok());
  EXPECT_EQ(parsed.SerializeAsString(), sent.SerializeAsString());

  sent.mutable_train()->mutable_inline_documents()->mutable_documents(0)->set_text("张#");
  const absl::Status bad_text = ParseMessage(WithBadBytes(sent), &parsed);
  EXPECT_EQ(bad_text.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_text.message()), HasSubstr("ner.v1.TrainRequest"));
  EXPECT_THAT(std::string(bad_text.message()), HasSubstr("UTF-8"));
  v1::WatchTrainJobRequest watch;
  EXPECT_EQ(ParseMessage("\xff\xff\xff", &watch).code(), absl::StatusCode::kInvalidArgument);
}

TEST(WireFormatTest, ByteBuffersRoundTrip) {
  v1::RecognizeRequest sent;
  AddDocument(&sent, "a", "张三");
  EXPECT_EQ(ToBytes(ToByteBuffer(sent)), sent.SerializeAsString());
  EXPECT_EQ(ToBytes(grpc::ByteBuffer()), "");
}

}  // namespace
}  // namespace ner::server
