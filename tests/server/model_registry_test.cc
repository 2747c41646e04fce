#include "server/model_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "tests/server/server_test_util.h"
#include "tests/testing/shared_data.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records the observer calls.
struct RecordingObserver : ModelRegistryObserver {
  void OnModelLoaded(const ServedModel& model, const ServedModel* replaced) override {
    loaded.push_back(model.name + "@" + model.version + (replaced ? " replaced" : ""));
  }
  void OnModelLoadFailed(absl::string_view name, const absl::Status&) override {
    failed.push_back(std::string(name));
  }
  void OnModelUnloaded(const ServedModel& model) override { unloaded.push_back(model.name); }
  std::vector<std::string> loaded;
  std::vector<std::string> failed;
  std::vector<std::string> unloaded;
};

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelRegistryOptions options;
    options.model_root = testing::TestModelRoot();
    registry_ = *ModelRegistry::Create(options, &observer_);
  }
  RecordingObserver observer_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_F(ModelRegistryTest, LoadsAndServesAModel) {
  EXPECT_FALSE(registry_->HasDefaultModel());
  EXPECT_EQ(registry_->Get("").status().code(), absl::StatusCode::kUnavailable);
  absl::StatusOr<std::shared_ptr<const ServedModel>> loaded = registry_->Load("default", "tiny");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const ServedModel& model = **loaded;
  EXPECT_EQ(model.name, "default");
  EXPECT_EQ(model.path, "tiny");
  EXPECT_EQ(model.version.size(), 16u);
  EXPECT_THAT(model.entity_types, ElementsAre("LOC", "ORG", "PER"));
  EXPECT_TRUE(model.HasEntityType("PER"));
  EXPECT_FALSE(model.HasEntityType("MISC"));
  EXPECT_TRUE(registry_->HasDefaultModel());
  EXPECT_EQ(registry_->Get("").value().get(), &model);
  EXPECT_EQ(registry_->Get("default").value().get(), &model);
  EXPECT_EQ(registry_->Get("other").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(observer_.loaded, ElementsAre("default@" + model.version));
}

TEST_F(ModelRegistryTest, VersionsFollowTheWeights) {
  const std::string v1 = (*registry_->Load("a", "tiny"))->version;
  EXPECT_EQ((*registry_->Load("b", "tiny"))->version, v1);
  EXPECT_NE((*registry_->Load("c", "tiny2"))->version, v1);
  std::vector<std::string> names;
  for (const auto& model : registry_->List()) names.push_back(model->name);
  EXPECT_THAT(names, ElementsAre("a", "b", "c"));
}

TEST_F(ModelRegistryTest, FailedLoadKeepsTheOldModel) {
  const std::shared_ptr<const ServedModel> old = *registry_->Load("default", "tiny");
  for (const char* path : {"corrupt", "missing", "../tiny", "/tmp"}) {
    absl::StatusOr<std::shared_ptr<const ServedModel>> failed = registry_->Load("default", path);
    EXPECT_FALSE(failed.ok()) << path;
    EXPECT_THAT(std::string(failed.status().message()), HasSubstr("loading model 'default'"));
    EXPECT_EQ(registry_->Get("").value(), old) << path;
  }
  EXPECT_EQ(registry_->Load("default", "missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->Load("default", "../tiny").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(observer_.failed.size(), 6u);
}

TEST_F(ModelRegistryTest, SymlinkOutOfTheRootIsDenied) {
  const std::string outside = ::ner::testing::MakeTempDir("registry_outside");
  ASSERT_TRUE(testing::SaveTinyCheckpoint(outside + "/model", 7).ok());
  const std::string link = testing::TestModelRoot() + "/link_out";
  fs::remove(link);
  fs::create_symlink(outside + "/model", link);
  EXPECT_EQ(registry_->Load("x", "link_out").status().code(), absl::StatusCode::kPermissionDenied);
  fs::remove(link);
}

TEST_F(ModelRegistryTest, RejectsBadNames) {
  for (const char* name : {"", "-x", "a/b", "a b", "名字"}) {
    EXPECT_EQ(registry_->Load(name, "tiny").status().code(), absl::StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_TRUE(ValidateModelName("resume-v2.1_final").ok());
}

TEST_F(ModelRegistryTest, UnloadStopsServingAndRequestsInFlightKeepTheirModel) {
  ASSERT_TRUE(registry_->Load("default", "tiny").ok());
  const std::shared_ptr<const ServedModel> held = *registry_->Load("extra", "tiny2");
  absl::StatusOr<std::shared_ptr<const ServedModel>> unloaded = registry_->Unload("extra");
  ASSERT_TRUE(unloaded.ok()) << unloaded.status();
  EXPECT_EQ(unloaded->get(), held.get());
  EXPECT_EQ(registry_->Get("extra").status().code(), absl::StatusCode::kNotFound);
  // A request that got the model before still runs on it.
  absl::StatusOr<std::vector<std::vector<model::RecognizedEntity>>> entities =
      held->recognizer->Recognize({"张三在北京大学工作。"});
  EXPECT_TRUE(entities.ok()) << entities.status();
  std::vector<std::string> names;
  for (const auto& model : registry_->List()) names.push_back(model->name);
  EXPECT_THAT(names, ElementsAre("default"));
  EXPECT_THAT(observer_.unloaded, ElementsAre("extra"));

  EXPECT_EQ(registry_->Unload("extra").status().code(), absl::StatusCode::kNotFound);
  // The default model is replaced, never unloaded: readiness depends on it.
  absl::Status refused = registry_->Unload("default").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("load another checkpoint"));
  EXPECT_TRUE(registry_->HasDefaultModel());
}

TEST(ModelRegistryLimitTest, ANewNameBeyondMaxModelsIsRefusedUntilOneIsUnloaded) {
  ModelRegistryOptions options;
  options.model_root = testing::TestModelRoot();
  options.max_models = 2;
  RecordingObserver observer;
  std::unique_ptr<ModelRegistry> registry = *ModelRegistry::Create(options, &observer);
  ASSERT_TRUE(registry->Load("a", "tiny").ok());
  ASSERT_TRUE(registry->Load("b", "tiny").ok());
  absl::Status refused = registry->Load("c", "tiny").status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("--max_models"));
  EXPECT_THAT(observer.failed, ElementsAre("c"));
  // Replacing a served name is always possible.
  EXPECT_TRUE(registry->Load("b", "tiny2").ok());
  ASSERT_TRUE(registry->Unload("a").ok());
  EXPECT_TRUE(registry->Load("c", "tiny").ok());

  options.max_models = 0;
  EXPECT_EQ(ModelRegistry::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelRegistryTest, SwapIsAtomicForReaders) {
  ASSERT_TRUE(registry_->Load("default", "tiny").ok());
  const std::string v1 = (*registry_->Get(""))->version;
  const std::string v2 = (*registry_->Load("probe", "tiny2"))->version;
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      absl::StatusOr<std::shared_ptr<const ServedModel>> model = registry_->Get("");
      // Always a whole model, one or the other, usable while held.
      if (!model.ok() || ((*model)->version != v1 && (*model)->version != v2) ||
          !(*model)->recognizer->Prepare("张三").ok()) {
        ++bad;
      }
    }
  });
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(registry_->Load("default", i % 2 == 0 ? "tiny2" : "tiny").ok());
  }
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace ner::server
