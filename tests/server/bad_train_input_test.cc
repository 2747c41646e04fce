// The bad-input matrix of Train: malformed configurations are refused by the RPC, malformed data
// fails the job with the code and a message naming the dataset (and the line), each through the
// real gRPC API; the server goes on recognising after every row and still trains at the end.

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/server/server_test_util.h"

namespace ner::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestServer;

// Files under the data root: name -> contents.
const std::vector<std::pair<std::string, std::string>>& DataFiles() {
  static const auto* files = new std::vector<std::pair<std::string, std::string>>{
      {"empty.jsonl", ""},
      {"blank.jsonl", "\n  \n\t\n"},
      {"broken_json.jsonl",
       "{\"text\": \"张三在北京。\"}\n{\"text\": \"李四去上海。\", \"entities\": [\n"},
      {"no_text.jsonl", "{\"sentence\": \"张三在北京。\", \"labels\": [\"B-PER\"]}\n"},
      {"bad_entity.jsonl",
       "{\"text\": \"张三\", \"entities\": [{\"start\": 0, \"end\": 9, \"type\": \"PER\"}]}\n"},
      {"bad_utf8.jsonl", "{\"text\": \"张三\xC0\xAF\"}\n"},
      {"no_tag.bmes", "张 B-PER\n三 E-PER\n在\n"},
      {"three_columns.bmes", "张 B-PER\n三 E PER\n"},
      {"unknown_scheme.bmes", "张 B-PER\n三 X-PER\n"},
      {"mixed_schemes.bmes", "张 B-PER\n三 M-PER\n丰 I-PER\n"},
  };
  return *files;
}

struct Row {
  std::string name;
  std::function<void(v1::TrainRequest&)> change;
  grpc::StatusCode code;
  std::string message;  // a substring of the error message
  // True: the RPC refuses the request (no job). False: the job ends FAILED with the code.
  bool refused = true;
};

void TrainOn(v1::TrainRequest& request, const std::string& path) {
  request.mutable_train()->set_path("bad_input/" + path);
}

const std::vector<Row>& Rows() {
  using grpc::StatusCode;
  using R = v1::TrainRequest;
  static const auto* rows = new std::vector<Row>{
      {"negative epochs", [](R& r) { r.mutable_hyperparameters()->set_epochs(-1); },
       StatusCode::INVALID_ARGUMENT, "hyperparameters.epochs must be in [1, 100], not -1"},
      {"zero epochs", [](R& r) { r.mutable_hyperparameters()->set_epochs(0); },
       StatusCode::INVALID_ARGUMENT, "hyperparameters.epochs"},
      {"epochs over the limit", [](R& r) { r.mutable_hyperparameters()->set_epochs(101); },
       StatusCode::INVALID_ARGUMENT, "hyperparameters.epochs"},
      {"negative batch size", [](R& r) { r.mutable_hyperparameters()->set_batch_size(-4); },
       StatusCode::INVALID_ARGUMENT, "batch_size"},
      {"unknown variant", [](R& r) { r.set_variant("bmes-crf"); }, StatusCode::INVALID_ARGUMENT,
       "variant"},
      {"unknown preset", [](R& r) { r.mutable_hyperparameters()->set_preset("huge"); },
       StatusCode::INVALID_ARGUMENT, "preset"},
      {"unknown adversarial method",
       [](R& r) {
         r.mutable_hyperparameters()->mutable_adversarial()->set_method(
             static_cast<v1::AdversarialMethod>(42));
       },
       StatusCode::INVALID_ARGUMENT, "adversarial.method"},
      {"unknown promote policy", [](R& r) { r.set_promote(static_cast<v1::PromotePolicy>(9)); },
       StatusCode::INVALID_ARGUMENT, "promote"},
      {"unknown train format",
       [](R& r) { r.mutable_train()->set_format(static_cast<v1::DataFormat>(42)); },
       StatusCode::INVALID_ARGUMENT, "train: the dataset's format 42 is unknown"},
      {"unknown dev format",
       [](R& r) { r.mutable_dev()->set_format(static_cast<v1::DataFormat>(-1)); },
       StatusCode::INVALID_ARGUMENT, "dev: the dataset's format -1 is unknown"},
      // Data problems are found by the job.
      {"empty file", [](R& r) { TrainOn(r, "empty.jsonl"); }, StatusCode::INVALID_ARGUMENT,
       "train: the dataset is empty", false},
      {"blank lines only", [](R& r) { TrainOn(r, "blank.jsonl"); }, StatusCode::INVALID_ARGUMENT,
       "train: the dataset is empty", false},
      {"empty inline dataset", [](R& r) { r.mutable_train()->mutable_inline_documents(); },
       StatusCode::INVALID_ARGUMENT, "train: the dataset is empty", false},
      {"empty dev dataset", [](R& r) { r.mutable_dev()->set_path("bad_input/empty.jsonl"); },
       StatusCode::INVALID_ARGUMENT, "dev: the dataset is empty", false},
      {"invalid JSON line", [](R& r) { TrainOn(r, "broken_json.jsonl"); },
       StatusCode::INVALID_ARGUMENT, "train: bad_input/broken_json.jsonl:2: not a JSON object",
       false},
      {"JSON without text", [](R& r) { TrainOn(r, "no_text.jsonl"); }, StatusCode::INVALID_ARGUMENT,
       "bad_input/no_text.jsonl:1: missing string field \"text\"", false},
      {"entity outside its text", [](R& r) { TrainOn(r, "bad_entity.jsonl"); },
       StatusCode::INVALID_ARGUMENT,
       "bad_input/bad_entity.jsonl:1: entity [0, 9) is outside the text", false},
      {"invalid UTF-8 line", [](R& r) { TrainOn(r, "bad_utf8.jsonl"); },
       StatusCode::INVALID_ARGUMENT,
       "bad_input/bad_utf8.jsonl:1: invalid UTF-8 at byte 16 (0xC0): overlong", false},
      {"line without a tag", [](R& r) { TrainOn(r, "no_tag.bmes"); }, StatusCode::INVALID_ARGUMENT,
       "bad_input/no_tag.bmes:3: expected 'CHAR TAG'", false},
      {"three columns", [](R& r) { TrainOn(r, "three_columns.bmes"); },
       StatusCode::INVALID_ARGUMENT, "bad_input/three_columns.bmes:2: expected one character",
       false},
      {"tag of no scheme", [](R& r) { TrainOn(r, "unknown_scheme.bmes"); },
       StatusCode::INVALID_ARGUMENT, "bad_input/unknown_scheme.bmes:2: malformed tag 'X-PER'",
       false},
      {"BIO and BMES mixed", [](R& r) { TrainOn(r, "mixed_schemes.bmes"); },
       StatusCode::INVALID_ARGUMENT,
       "bad_input/mixed_schemes.bmes:3: tag 'I-PER' is not valid in the bmes", false},
      {"JSONL read as char-per-line",
       [](R& r) { r.mutable_train()->set_format(v1::DATA_FORMAT_CHAR_PER_LINE); },
       StatusCode::INVALID_ARGUMENT, "train: dev.jsonl:1: expected one character before the tag",
       false},
      {"inline entity outside its text",
       [](R& r) {
         v1::LabelledDocument* d = r.mutable_train()->mutable_inline_documents()->add_documents();
         d->set_text("张三");
         v1::EntityAnnotation* e = d->add_entities();
         e->set_begin_char(1);
         e->set_end_char(5);
         e->set_type("PER");
       },
       StatusCode::INVALID_ARGUMENT, "inline document 0", false},
      {"inline text not UTF-8",
       [](R& r) {
         r.mutable_train()->mutable_inline_documents()->add_documents()->set_text("张\xC0\xAF");
       },
       StatusCode::INVALID_ARGUMENT, "does not parse as a ner.v1.TrainRequest"},
      {"missing file", [](R& r) { TrainOn(r, "missing.jsonl"); }, StatusCode::NOT_FOUND,
       "train: cannot open 'bad_input/missing.jsonl'", false},
  };
  return *rows;
}

class BadTrainInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::TestModelRoot() + "/data/bad_input";
    std::filesystem::create_directories(dir);
    for (const auto& [name, contents] : DataFiles()) {
      std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << contents;
    }
    absl::StatusOr<std::unique_ptr<TestServer>> server =
        TestServer::Start(testing::TrainingConfig());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not start"; }

  static testing::TrainStreamResult Train(const v1::TrainRequest& request) {
    grpc::ClientContext context;
    return testing::ReadTrainEvents(server_->stub().Train(&context, request));
  }

  static void ExpectStillServing() {
    grpc::ClientContext context;
    v1::RecognizeRequest request;
    request.add_documents()->set_text("张三在北京大学工作。");
    v1::RecognizeResponse response;
    const grpc::Status status = server_->stub().Recognize(&context, request, &response);
    EXPECT_TRUE(status.ok()) << "after the row: " << status.error_message();
  }

  static TestServer* server_;
};

TestServer* BadTrainInputTest::server_ = nullptr;

TEST_F(BadTrainInputTest, EachRowIsRefusedOrFailsWithItsCodeAndTheServerGoesOn) {
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.name);
    v1::TrainRequest request = testing::SmallTrainRequest("bad-input", 1);
    row.change(request);
    const testing::TrainStreamResult result = Train(request);
    if (row.refused) {
      EXPECT_EQ(result.status.error_code(), row.code) << result.status.error_message();
      EXPECT_THAT(result.status.error_message(), HasSubstr(row.message));
      EXPECT_TRUE(result.events.empty());
    } else {
      ASSERT_TRUE(result.status.ok()) << result.status.error_message();
      ASSERT_FALSE(result.events.empty());
      const v1::TrainEvent& last = result.events.back();
      EXPECT_EQ(last.state(), v1::TRAIN_JOB_STATE_FAILED) << last.message();
      EXPECT_EQ(last.error().code(), static_cast<int>(row.code)) << last.error().message();
      EXPECT_THAT(last.error().message(), HasSubstr(row.message));
      // Files are named as the request named them; where the data root lies is not told.
      EXPECT_THAT(last.error().message(), Not(HasSubstr(testing::TestModelRoot())));
    }
    ExpectStillServing();
  }
  // WatchTrainJob is served raw like Train: a job id that is not UTF-8 is a bad request too.
  grpc::ClientContext watch_context;
  v1::WatchTrainJobRequest watch;
  watch.set_job_id("job-\xC0\xAF");
  const testing::TrainStreamResult watched =
      testing::ReadTrainEvents(server_->stub().WatchTrainJob(&watch_context, watch));
  EXPECT_EQ(watched.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(watched.status.error_message(), HasSubstr("ner.v1.WatchTrainJobRequest"));
  ExpectStillServing();

  // None of it left a job behind or the trainer broken: a good request still trains.
  const testing::TrainStreamResult good = Train(testing::SmallTrainRequest("bad-input", 1));
  ASSERT_TRUE(good.status.ok()) << good.status.error_message();
  ASSERT_FALSE(good.events.empty());
  EXPECT_EQ(good.events.back().state(), v1::TRAIN_JOB_STATE_SUCCEEDED)
      << good.events.back().message();
}

}  // namespace
}  // namespace ner::server
