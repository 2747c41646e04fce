// BuildInitialModel: the fresh model of a new training run, from a preset or an --init directory.

#include "model/train_setup.h"

#include <torch/torch.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/checkpoint.h"
#include "model/state_dict.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// Characters of the golden checkpoint's 64-token vocabulary.
std::vector<Document> Documents() {
  Document d;
  d.text = "abc";
  d.entities.push_back({0, 2, "PER"});
  return {d};
}

TrainConfig BiLstmCrf() {
  TrainConfig config;
  config.variant = Variant::kBiLstmCrf;
  return config;
}

TEST(TrainSetupTest, BiLstmCrfTakesItsCharacterEmbeddingsFromAnInitEncoder) {
  NER_REQUIRE_SHARED(dir, "golden/nezha-tiny");
  std::vector<std::string> notes;
  InitialModelSource source;
  source.init = dir;
  absl::StatusOr<Checkpoint> built =
      BuildInitialModel(BiLstmCrf(), Documents(), Documents(), TagScheme::kBio, source, &notes);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(built->config.char_embedding_dim, 32) << "the golden encoder's hidden size";
  EXPECT_EQ(built->vocab->size(), 64);
  EXPECT_THAT(notes, Contains(HasSubstr("char_embedding_dim 100 -> 32")));
  EXPECT_THAT(notes, Contains(HasSubstr("character embeddings initialised from")));

  absl::StatusOr<TensorMap> golden = LoadStateDict(dir);
  ASSERT_TRUE(golden.ok()) << golden.status();
  torch::Tensor expected;
  for (const auto& [name, tensor] : *golden) {
    if (name.find("word_embeddings.weight") != std::string::npos) expected = tensor;
  }
  ASSERT_TRUE(expected.defined());
  EXPECT_TRUE(torch::equal(built->model->word_embeddings(), expected));

  // Without --init the embeddings are random, of the configured width.
  InitialModelSource fresh;
  fresh.vocab_path = dir + "/vocab.txt";
  absl::StatusOr<Checkpoint> random =
      BuildInitialModel(BiLstmCrf(), Documents(), Documents(), TagScheme::kBio, fresh, nullptr);
  ASSERT_TRUE(random.ok()) << random.status();
  EXPECT_EQ(random->model->word_embeddings().size(1), 100);
}

TEST(TrainSetupTest, CharacterEmbeddingsNeedAMatchingMatrix) {
  NER_REQUIRE_SHARED(dir, "golden/nezha-tiny");
  torch::manual_seed(1);
  // A bilstm-crf model whose embeddings are wider than the golden encoder's.
  ModelConfig config =
      MakeModelConfig(Variant::kBiLstmCrf, EncoderConfig(), TagScheme::kBio, {"PER"});
  config.vocab_size = 64;
  config.char_embedding_dim = 48;
  absl::StatusOr<NerModel> wide = CreateNerModel(config, 2, 3);
  ASSERT_TRUE(wide.ok()) << wide.status();
  const torch::Tensor before = (*wide)->word_embeddings().clone();
  absl::Status status = InitCharEmbeddingsFromPretrained(dir, *wide);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("[64, 32]"));
  EXPECT_THAT(status.message(), HasSubstr("[64, 48]"));
  EXPECT_TRUE(torch::equal((*wide)->word_embeddings(), before)) << "left as it was";

  // A model with an encoder is refused: its encoder is initialised as a whole.
  absl::StatusOr<EncoderConfig> encoder = LoadEncoderConfig(dir);
  ASSERT_TRUE(encoder.ok());
  NerModel nezha(MakeModelConfig(Variant::kNezhaDfBiLstmCrf, *encoder, TagScheme::kBio, {"PER"}),
                 2, 3);
  EXPECT_EQ(InitCharEmbeddingsFromPretrained(dir, nezha).code(),
            absl::StatusCode::kFailedPrecondition);
  // A directory without weights: the loader's error.
  EXPECT_FALSE(InitCharEmbeddingsFromPretrained(dir + "/missing", *wide).ok());
}

}  // namespace
}  // namespace ner::model
