// The bad-input matrix of Recognize and RecognizeStream: malformed, hostile and tricky texts
// through the real gRPC API, each with its documented status (docs/api.md), and the server still
// answering a normal request after every row. Texts that are accepted keep the offset invariant
// exactly and are covered by the pieces the model ran on. (Train: bad_train_input_test.cc.)

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/recognizer.h"
#include "model/utf8.h"
#include "tests/server/server_test_util.h"

namespace ner::server {
namespace {

using ::testing::HasSubstr;
using testing::TestServer;
using namespace std::string_literals;  // "...\0..."s keeps the NUL

constexpr int kMaxDocuments = 4;
constexpr int64_t kMaxDocumentBytes = 128 * 1024;  // above the 100 KB sentence
constexpr int64_t kLongSentenceBytes = 100 * 1024;

// `text` padded with spaces to exactly `bytes` bytes.
std::string PaddedTo(std::string text, int64_t bytes) {
  text.resize(static_cast<size_t>(bytes), ' ');
  return text;
}

// At least `bytes` bytes of `unit` repeated: no punctuation, no whitespace, one sentence.
std::string Repeated(const std::string& unit, int64_t bytes) {
  std::string text;
  while (static_cast<int64_t>(text.size()) < bytes) text += unit;
  return text;
}

// Where a row goes on RecognizeStream.
enum class OnStream {
  kNone,      // unary only (the problem is the request as a whole)
  kDocument,  // the document's response carries the outcome; the stream goes on
  kMessage,   // the stream ends with the code
};

struct Row {
  std::string name;
  std::vector<std::string> texts;
  grpc::StatusCode code;
  std::string message;  // a substring of the error message; empty = not checked
  OnStream stream = OnStream::kDocument;
  std::string model;             // options.model
  std::vector<std::string> ids;  // empty = "d0", "d1", ...
};

// The matrix. Rows with code OK are accepted texts whose offsets are checked.
const std::vector<Row>& Rows() {
  using grpc::StatusCode;
  constexpr auto kBad = StatusCode::INVALID_ARGUMENT;
  // One row to a line or two reads as a table.
  // clang-format off
  static const auto* rows = new std::vector<Row>{
      // Empty and blank texts are valid documents without entities.
      {"empty text", {""}, StatusCode::OK, ""},
      {"ASCII whitespace only", {" \t\r\n\v\f "}, StatusCode::OK, ""},
      {"Unicode whitespace only", {"\u3000\u00A0\u2028\u2003\u0085"}, StatusCode::OK, ""},
      {"no documents", {}, kBad, "the request has no documents", OnStream::kNone},
      // Invalid UTF-8 (RFC 3629): the message names the document, the byte and the reason.
      {"overlong slash", {"ab\xC0\xAF"}, kBad,
       "document 0 (id \"d0\"): invalid UTF-8 at byte 2 (0xC0): overlong encoding"},
      {"overlong NUL", {"\xC0\x80"}, kBad, "at byte 0 (0xC0): overlong encoding"},
      {"overlong three bytes", {"张\xE0\x80\xAF"}, kBad, "at byte 3 (0xE0): overlong encoding"},
      {"overlong four bytes", {"\xF0\x80\x80\xAF"}, kBad, "at byte 0 (0xF0): overlong encoding"},
      {"high surrogate", {"张三\xED\xA0\x80"}, kBad, "at byte 6 (0xED): encoded surrogate"},
      {"low surrogate", {"\xED\xBF\xBF"}, kBad, "at byte 0 (0xED): encoded surrogate"},
      {"surrogate pair as CESU-8", {"\xED\xA0\xBD\xED\xB8\x80"}, kBad, "encoded surrogate"},
      {"above U+10FFFF", {"\xF4\x90\x80\x80"}, kBad, "code point above U+10FFFF"},
      {"truncated at the end", {"张三\xE5\xBC"}, kBad,
       "at byte 6 (0xE5): truncated sequence at end of input"},
      {"truncated in the middle", {"\xE5\xBC张三"}, kBad, "at byte 0 (0xE5): truncated sequence"},
      {"truncated emoji", {"\xF0\x9F\x98张"}, kBad, "at byte 0 (0xF0): truncated sequence"},
      {"lone continuation byte", {"张\x80三"}, kBad,
       "at byte 3 (0x80): unexpected continuation byte"},
      {"invalid lead byte", {"\xFF\xFE"}, kBad, "at byte 0 (0xFF): invalid lead byte"},
      {"third document bad", {"张三在北京。", "ok", "\x80"}, kBad,
       "document 2 (id \"d2\"): invalid UTF-8 at byte 0", OnStream::kNone},
      {"id not UTF-8", {"张三"}, kBad, "document 0: the id is not UTF-8", OnStream::kNone, "",
       {"\xFF"}},
      {"model name not UTF-8", {"张三"}, kBad, "the options do not parse", OnStream::kMessage,
       "\xC0\xAF"},
      // NUL and control characters are valid UTF-8: accepted, never tokens, never end a text.
      {"NUL inside", {"张三\0在北京\0\0大学工作。"s}, StatusCode::OK, ""},
      {"NUL only", {"\0"s}, StatusCode::OK, ""},
      {"control characters", {"\x01\x1B[31m张三\x7F在\u0085北京\u200B大学\uFEFF工作\u2028。"},
       StatusCode::OK, ""},
      // Tricky but valid scripts.
      {"emoji ZWJ sequences", {"👩‍💻张三在北京👨‍👩‍👧‍👦大学🇨🇳，👍🏽李四1️⃣去上海🏳️‍🌈。"},
       StatusCode::OK, ""},
      {"combining marks", {"e\u0301张\u0301三在北京a\u0300\u0301\u0302大学工作。\u0301"},
       StatusCode::OK, ""},
      {"full-width", {"ＡＢＣ１２３，张三在北京大学工作！ｈｅｌｌｏ　ｗｏｒｌｄ"}, StatusCode::OK, ""},
      {"Traditional", {"張三在臺北市政府工作，李四去香港中文大學讀書。"}, StatusCode::OK, ""},
      // One sentence without punctuation: hard-cut into pieces, never refused. (The tiny model
      // takes ~20 s on the CJK one, so it runs once: streams prepare documents the same way.)
      {"100 KB CJK sentence", {Repeated("张三在北京大学工作李四去上海", kLongSentenceBytes)},
       StatusCode::OK, "", OnStream::kNone},
      {"100 KB Latin word", {Repeated("abcdefghij", kLongSentenceBytes)}, StatusCode::OK, ""},
      // Limits.
      {"text at the size limit", {PaddedTo("张三在北京大学工作。", kMaxDocumentBytes)},
       StatusCode::OK, ""},
      {"text one byte over", {PaddedTo("张三在北京大学工作。", kMaxDocumentBytes + 1)}, kBad,
       "the text has 131073 bytes, more than the server's limit of 131072"},
      {"documents at the limit", {"张三", "李四", "王五", "赵六"}, StatusCode::OK, ""},
      {"one document over the limit", {"张三", "李四", "王五", "赵六", "钱七"}, kBad,
       "5 documents, more than the server's limit of 4", OnStream::kMessage},
      {"duplicate ids", {"张三", "李四"}, kBad, "id \"x\" is not unique", OnStream::kNone, "",
       {"x", "x"}},
      {"unknown model", {"张三"}, StatusCode::NOT_FOUND, "no model named 'nope'",
       OnStream::kMessage, "nope"},
  };
  // clang-format on
  return *rows;
}

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerConfig config = testing::TestConfig();
    config.limits.max_documents = kMaxDocuments;
    config.limits.max_document_bytes = kMaxDocumentBytes;
    absl::StatusOr<std::unique_ptr<TestServer>> server = TestServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not start"; }

  static std::vector<v1::Document> Documents(const Row& row) {
    std::vector<v1::Document> documents;
    for (size_t i = 0; i < row.texts.size(); ++i) {
      v1::Document& document = documents.emplace_back();
      document.set_id(row.ids.empty() ? absl::StrCat("d", i) : row.ids[i]);
      document.set_text(row.texts[i]);
    }
    return documents;
  }

  // A normal request still succeeds.
  static void ExpectStillServing() {
    grpc::ClientContext context;
    v1::RecognizeRequest request;
    request.add_documents()->set_text("张三在北京大学工作。");
    v1::RecognizeResponse response;
    const grpc::Status status = server_->stub().Recognize(&context, request, &response);
    EXPECT_TRUE(status.ok()) << "after the row: " << status.error_message();
    EXPECT_EQ(response.results_size(), 1);
  }

  // Every entity of `result` is sorted, inside `text`, and
  // text[begin_char, end_char) == entity.text == bytes [begin_byte, end_byte).
  static void ExpectExactOffsets(const std::string& text, const v1::DocumentResult& result) {
    const std::u32string code_points = model::DecodeUtf8(text)->code_points;
    int last_end = 0;
    for (const v1::Entity& e : result.entities()) {
      ASSERT_LE(last_end, e.begin_char()) << "sorted, not overlapping";
      ASSERT_LT(e.begin_char(), e.end_char());
      ASSERT_LE(e.end_char(), static_cast<int>(code_points.size()));
      ASSERT_LE(0, e.begin_byte());
      ASSERT_LT(e.begin_byte(), e.end_byte());
      ASSERT_LE(e.end_byte(), static_cast<int>(text.size()));
      EXPECT_EQ(e.text(), model::EncodeUtf8(
                              code_points.substr(e.begin_char(), e.end_char() - e.begin_char())));
      EXPECT_EQ(e.text(), text.substr(e.begin_byte(), e.end_byte() - e.begin_byte()));
      last_end = e.end_char();
    }
  }

  // The model ran on pieces that cover every character it could tag: pieces in order, at most
  // the segment size each, and only characters that make no token (whitespace, controls) left
  // between them; without those the pieces tile the text. Every entity lies inside one piece,
  // and the entities inside the first, middle and last piece equal that piece recognised alone,
  // so no piece was lost or shifted on the way. (Only three pieces: the tiny model runs about
  // 1,700 characters a second on one thread.)
  static void ExpectCovered(const std::string& text, const v1::DocumentResult& result) {
    const std::shared_ptr<const ServedModel> model = *server_->registry().Get("");
    const model::Recognizer& recognizer = *model->recognizer;
    const model::PreparedDocument document = *recognizer.Prepare(text);
    const std::vector<model::PreparedPiece>& pieces = document.pieces;
    const std::u32string_view code_points(document.decoded.code_points);
    const int32_t max_piece = recognizer.checkpoint().config.SegmentChars();
    EXPECT_LE(max_piece, 512);
    auto expect_no_tokens = [&](int32_t begin, int32_t end) {
      EXPECT_TRUE(recognizer.tokenizer().Tokenize(code_points.substr(begin, end - begin)).empty())
          << "characters [" << begin << ", " << end << ") were not run";
    };
    int32_t covered = 0;
    for (const model::PreparedPiece& piece : pieces) {
      ASSERT_LE(covered, piece.begin_char);
      EXPECT_LE(piece.end_char - piece.begin_char, max_piece);
      expect_no_tokens(covered, piece.begin_char);
      covered = piece.end_char;
    }
    expect_no_tokens(covered, static_cast<int32_t>(code_points.size()));

    std::vector<std::vector<const v1::Entity*>> by_piece(pieces.size());
    for (const v1::Entity& e : result.entities()) {
      const auto piece = std::find_if(pieces.begin(), pieces.end(), [&](const auto& p) {
        return p.begin_char <= e.begin_char() && e.end_char() <= p.end_char;
      });
      ASSERT_NE(piece, pieces.end())
          << "entity [" << e.begin_char() << ", " << e.end_char() << ") is in no piece";
      by_piece[piece - pieces.begin()].push_back(&e);
    }
    if (pieces.empty()) return;
    for (const size_t i : {size_t{0}, pieces.size() / 2, pieces.size() - 1}) {
      const auto alone = recognizer.RunBatch({&pieces[i]}, {&document});
      ASSERT_TRUE(alone.ok()) << alone.status();
      const std::vector<model::RecognizedEntity>& want = alone->front();
      ASSERT_EQ(by_piece[i].size(), want.size()) << "piece " << i;
      for (size_t j = 0; j < want.size(); ++j) {
        EXPECT_EQ(by_piece[i][j]->type(), want[j].type);
        EXPECT_EQ(by_piece[i][j]->begin_char(), want[j].begin_char);
        EXPECT_EQ(by_piece[i][j]->end_char(), want[j].end_char);
      }
    }
  }

  static void ExpectGoodResult(const std::string& text, const v1::DocumentResult& result) {
    ExpectExactOffsets(text, result);
    ExpectCovered(text, result);
  }

  static TestServer* server_;
};

TestServer* BadInputTest::server_ = nullptr;

TEST_F(BadInputTest, RecognizeAnswersEachRowWithItsCodeAndGoesOn) {
  int short_text_entities = 0;  // entities of accepted texts under 1,000 bytes
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.name);
    v1::RecognizeRequest request;
    for (v1::Document& document : Documents(row)) *request.add_documents() = document;
    request.mutable_options()->set_model(row.model);
    grpc::ClientContext context;
    v1::RecognizeResponse response;
    const grpc::Status status = server_->stub().Recognize(&context, request, &response);
    EXPECT_EQ(status.error_code(), row.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(row.message));
    if (status.ok() && row.code == grpc::StatusCode::OK) {
      ASSERT_EQ(response.results_size(), request.documents_size());
      for (int d = 0; d < response.results_size(); ++d) {
        EXPECT_EQ(response.results(d).id(), request.documents(d).id());
        ExpectGoodResult(request.documents(d).text(), response.results(d));
        if (request.documents(d).text().size() < 1000) {
          short_text_entities += response.results(d).entities_size();
        }
      }
    }
    ExpectStillServing();
  }
  // The random tiny model tags something in the tricky texts, so their offsets were checked.
  EXPECT_GT(short_text_entities, 50);
}

// The stream's outcome for one message: responses by id, and the final status.
struct StreamOutcome {
  std::map<std::string, v1::RecognizeStreamResponse> responses;
  grpc::Status status;
};

StreamOutcome SendOneMessage(TestServer& server, const v1::RecognizeStreamRequest& message) {
  grpc::ClientContext context;
  auto stream = server.stub().RecognizeStream(&context);
  stream->Write(message);  // may fail when the server ends the stream first
  stream->WritesDone();
  StreamOutcome outcome;
  v1::RecognizeStreamResponse response;
  while (stream->Read(&response)) outcome.responses[response.id()] = response;
  outcome.status = stream->Finish();
  return outcome;
}

TEST_F(BadInputTest, RecognizeStreamAnswersEachRowInBandOrEndsAndGoesOn) {
  for (const Row& row : Rows()) {
    if (row.stream == OnStream::kNone) continue;
    SCOPED_TRACE(row.name);
    v1::RecognizeStreamRequest message;
    for (v1::Document& document : Documents(row)) *message.add_documents() = document;
    message.mutable_options()->set_model(row.model);
    const StreamOutcome outcome = SendOneMessage(*server_, message);
    if (row.stream == OnStream::kMessage) {
      EXPECT_EQ(outcome.status.error_code(), row.code) << outcome.status.error_message();
      EXPECT_THAT(outcome.status.error_message(), HasSubstr(row.message));
    } else {
      EXPECT_TRUE(outcome.status.ok()) << outcome.status.error_message();
      ASSERT_EQ(outcome.responses.size(), row.texts.size());
      for (const v1::Document& document : message.documents()) {
        const auto it = outcome.responses.find(document.id());
        ASSERT_NE(it, outcome.responses.end()) << document.id();
        const v1::RecognizeStreamResponse& response = it->second;
        if (row.code == grpc::StatusCode::OK) {
          ASSERT_TRUE(response.has_result()) << response.error().message();
          ExpectGoodResult(document.text(), response.result());
        } else {
          ASSERT_TRUE(response.has_error());
          EXPECT_EQ(response.error().code(), static_cast<int>(row.code));
          EXPECT_THAT(response.error().message(), HasSubstr(row.message));
        }
      }
    }
    ExpectStillServing();
  }
}

}  // namespace
}  // namespace ner::server
