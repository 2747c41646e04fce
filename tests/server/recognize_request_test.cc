#include "server/recognize_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/server/server_test_util.h"

namespace ner::server {
namespace {

using ::testing::HasSubstr;

class RecognizeRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelRegistryOptions options;
    options.model_root = testing::TestModelRoot();
    registry_ = *ModelRegistry::Create(options);
    model_ = *registry_->Load("default", "tiny");
    limits_.max_documents = 3;
    limits_.max_document_bytes = 30;
  }
  static v1::Document Doc(const std::string& id, const std::string& text) {
    v1::Document document;
    document.set_id(id);
    document.set_text(text);
    return document;
  }
  std::unique_ptr<ModelRegistry> registry_;
  std::shared_ptr<const ServedModel> model_;
  RequestLimits limits_;
};

TEST_F(RecognizeRequestTest, FilterValidatesAgainstTheModel) {
  v1::RecognizeOptions options;
  EXPECT_TRUE(EntityFilter::Create(options, *model_).ok());
  options.add_entity_types("PER");
  options.set_min_score(0.5f);
  absl::StatusOr<EntityFilter> filter = EntityFilter::Create(options, *model_);
  ASSERT_TRUE(filter.ok());
  model::RecognizedEntity entity;
  entity.type = "PER";
  entity.score = 0.5f;
  EXPECT_TRUE(filter->Keep(entity));
  entity.score = 0.49f;
  EXPECT_FALSE(filter->Keep(entity));
  entity.score = 0.9f;
  entity.type = "LOC";
  EXPECT_FALSE(filter->Keep(entity));

  options.add_entity_types("MISC");
  absl::Status unknown = EntityFilter::Create(options, *model_).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("'MISC'"));
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("LOC, ORG, PER"));

  for (float bad : {-0.1f, 1.5f, std::nanf("")}) {
    v1::RecognizeOptions scored;
    scored.set_min_score(bad);
    EXPECT_EQ(EntityFilter::Create(scored, *model_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST_F(RecognizeRequestTest, PreparesValidDocuments) {
  v1::RecognizeRequest request;
  *request.add_documents() = Doc("a", "张三在北京。");
  *request.add_documents() = Doc("", "");  // Empty ids and texts are fine.
  *request.add_documents() = Doc("", "李四");
  absl::StatusOr<std::vector<model::PreparedDocument>> prepared =
      PrepareDocuments(request.documents(), *model_, limits_);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_EQ(prepared->size(), 3u);
  EXPECT_EQ((*prepared)[0].pieces.size(), 1u);
  EXPECT_TRUE((*prepared)[1].pieces.empty());
}

TEST_F(RecognizeRequestTest, RejectsBadRequestsNamingTheProblem) {
  struct Case {
    std::vector<v1::Document> documents;
    const char* message;
  };
  const Case cases[] = {
      {{}, "no documents"},
      {{Doc("a", "x"), Doc("b", "x"), Doc("c", "x"), Doc("d", "x")}, "4 documents"},
      {{Doc("a", "x"), Doc("a", "y")}, "document 1: id \"a\" is not unique"},
      {{Doc("a", "x"), Doc("big", std::string(31, 'x'))},
       "document 1 (id \"big\"): the text has 31 bytes"},
      {{Doc("u", "ab\xff")}, "document 0 (id \"u\"): invalid UTF-8 at byte 2"},
  };
  for (const Case& c : cases) {
    google::protobuf::RepeatedPtrField<v1::Document> documents(c.documents.begin(),
                                                               c.documents.end());
    const absl::Status status = PrepareDocuments(documents, *model_, limits_).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST_F(RecognizeRequestTest, FillsResultsInOrderAndFiltered) {
  std::vector<model::RecognizedEntity> entities(2);
  entities[0] = {"PER", "张三", 0, 2, 0, 6, 0.9f};
  entities[1] = {"LOC", "北京", 3, 5, 9, 15, 0.2f};
  v1::RecognizeOptions options;
  options.set_min_score(0.5f);
  v1::DocumentResult result;
  FillDocumentResult("d", entities, *EntityFilter::Create(options, *model_), &result);
  EXPECT_EQ(result.id(), "d");
  ASSERT_EQ(result.entities_size(), 1);
  EXPECT_EQ(result.entities(0).text(), "张三");
  EXPECT_EQ(result.entities(0).end_byte(), 6);
}

}  // namespace
}  // namespace ner::server
