// BuildInitialModel: the fresh model of a new training run, from a preset or an --init directory.

#include "model/train_setup.h"

#include <torch/torch.h>

#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/checkpoint.h"
#include "model/ner_model.h"
#include "model/state_dict.h"
#include "model/text_vectors.h"
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
  NerModel nezha(MakeModelConfig(Variant::kNezhaDfBiLstmCrf, *encoder, TagScheme::kBio, {"PER"}), 2,
                 3);
  EXPECT_EQ(InitCharEmbeddingsFromPretrained(dir, nezha).code(),
            absl::StatusCode::kFailedPrecondition);
  // A directory without weights: the loader's error.
  EXPECT_FALSE(InitCharEmbeddingsFromPretrained(dir + "/missing", *wide).ok());
}

// A directory with a 10-token vocabulary and the given vectors files.
struct VectorsFixture {
  std::string dir;
  std::string vocab;
  std::string Write(const std::string& name, const std::string& contents) const {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << contents;
    return path;
  }
};

VectorsFixture MakeVectorsFixture() {
  VectorsFixture f;
  f.dir = ner::testing::MakeTempDir("train_setup_vectors");
  f.vocab = f.Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n中\n国\n人\na\nb\n");
  return f;
}

std::vector<Document> ChineseDocuments() {
  Document d;
  d.text = "中国人ab";
  d.entities.push_back({0, 2, "LOC"});
  return {d};
}

TEST(TrainSetupTest, CharacterVectorsFillTheRowsTheyName) {
  const VectorsFixture f = MakeVectorsFixture();
  InitialModelSource source;
  source.vocab_path = f.vocab;
  // "A" reads as "a" (normalised lookup) but the exact "a" wins; "</s>" names no token.
  source.char_vectors = f.Write("chars.vec",
                                "5 4\n中 1 2 3 4\nA 9 9 9 9\na 5 6 7 8\n</s> 0 0 0 0\n"
                                "中 7 7 7 7\n");
  std::vector<std::string> notes;
  absl::StatusOr<Checkpoint> built = BuildInitialModel(
      BiLstmCrf(), ChineseDocuments(), ChineseDocuments(), TagScheme::kBio, source, &notes);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(built->config.char_embedding_dim, 4);
  EXPECT_THAT(notes, Contains(HasSubstr("char_embedding_dim 100 -> 4")));
  EXPECT_THAT(notes, Contains(HasSubstr("3 of 5 rows")));
  EXPECT_THAT(notes, Contains(HasSubstr("(1 duplicates)")));
  EXPECT_THAT(notes, Contains(HasSubstr("2 of 10 vocabulary rows")));
  const torch::Tensor table = built->model->word_embeddings();
  EXPECT_TRUE(torch::equal(table[5], torch::tensor({1.0f, 2.0f, 3.0f, 4.0f})));
  EXPECT_TRUE(torch::equal(table[8], torch::tensor({5.0f, 6.0f, 7.0f, 8.0f})));
  // The other rows are random on the vectors' scale (their values' standard deviation ~2.6).
  const torch::Tensor others =
      torch::cat({table.slice(0, 0, 5), table.slice(0, 6, 8), table.slice(0, 9, 10)});
  EXPECT_GT(others.abs().sum().item<float>(), 0);
  EXPECT_LT(others.abs().max().item<float>(), 2.6 * 6);
}

TEST(TrainSetupTest, BigramVectorsFillTheirHashedRows) {
  const VectorsFixture f = MakeVectorsFixture();
  InitialModelSource source;
  source.vocab_path = f.vocab;
  source.bigram_vectors = f.Write("bigrams.vec", "中国 0.5 -0.5 1\nab 3 3 3\n国人 2 2 2\n");
  TrainConfig config = BiLstmCrf();
  config.bigram_buckets = 1009;
  std::vector<std::string> notes;
  absl::StatusOr<Checkpoint> built = BuildInitialModel(
      config, ChineseDocuments(), ChineseDocuments(), TagScheme::kBio, source, &notes);
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(built->config.bigram_embedding_dim, 3);
  EXPECT_THAT(notes, Contains(HasSubstr("bigram_embedding_dim 50 -> 3")));
  EXPECT_THAT(notes, Contains(HasSubstr("2 of 1009 hashed rows")));
  torch::Tensor table;
  for (const auto& item : built->model->named_parameters()) {
    if (item.key() == "bigram_embeddings.weight") table = item.value();
  }
  ASSERT_TRUE(table.defined());
  EXPECT_TRUE(
      torch::equal(table[BigramBucket(5, 6, 10, 1009)], torch::tensor({0.5f, -0.5f, 1.0f})));
  EXPECT_TRUE(torch::equal(table[BigramBucket(6, 7, 10, 1009)], torch::tensor({2.0f, 2.0f, 2.0f})));
  // "ab" reads as one word run, not two characters: not used.
  EXPECT_FALSE(
      torch::equal(table[BigramBucket(8, 9, 10, 1009)], torch::tensor({3.0f, 3.0f, 3.0f})));
}

TEST(TrainSetupTest, VectorsAreRefusedWhereTheyCannotApply) {
  const VectorsFixture f = MakeVectorsFixture();
  const std::string chars = f.Write("chars.vec", "中 1 2\n");
  auto build = [&](TrainConfig config, InitialModelSource source) {
    source.vocab_path = f.vocab;
    return BuildInitialModel(config, ChineseDocuments(), ChineseDocuments(), TagScheme::kBio,
                             source, nullptr)
        .status();
  };
  InitialModelSource with_chars;
  with_chars.char_vectors = chars;
  TrainConfig nezha;
  nezha.variant = Variant::kNezhaDfBiLstmCrf;
  nezha.preset = "nezha-tiny";
  absl::Status status = build(nezha, with_chars);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("inputs of bilstm-crf"));

  InitialModelSource both = with_chars;
  both.init = f.dir;
  EXPECT_THAT(build(BiLstmCrf(), both).message(), HasSubstr("not both"));

  InitialModelSource bigrams;
  bigrams.bigram_vectors = f.Write("bigrams.vec", "中国 1 2\n");
  EXPECT_THAT(build(BiLstmCrf(), bigrams).message(), HasSubstr("bigram_buckets > 0"));

  InitialModelSource foreign;
  foreign.char_vectors = f.Write("foreign.vec", "xyz 1 2\n</s> 3 4\n");
  status = build(BiLstmCrf(), foreign);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("none of the 2 rows"));

  InitialModelSource missing;
  missing.char_vectors = f.dir + "/missing.vec";
  EXPECT_EQ(build(BiLstmCrf(), missing).code(), absl::StatusCode::kNotFound);
}

TEST(TrainSetupTest, BigramBucketIsTheModelsHash) {
  const torch::Tensor ids =
      torch::tensor({7, 3, 9, 1, 4, 0, 5, 5, 2, 8}, torch::kLong).view({2, 5});
  const torch::Tensor mask =
      torch::tensor({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, torch::kBool).view({2, 5});
  const int64_t lengths[] = {5, 3};
  const auto [left, right] = BigramBuckets(ids, mask, 10, 37);
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t t = 0; t < lengths[b]; ++t) {
      const int64_t id = ids[b][t].item<int64_t>();
      const int64_t previous = t > 0 ? ids[b][t - 1].item<int64_t>() : -1;
      const int64_t next = t + 1 < lengths[b] ? ids[b][t + 1].item<int64_t>() : -1;
      EXPECT_EQ(left[b][t].item<int64_t>(), BigramBucket(previous, id, 10, 37)) << b << "," << t;
      EXPECT_EQ(right[b][t].item<int64_t>(), BigramBucket(id, next, 10, 37)) << b << "," << t;
    }
  }
}

}  // namespace
}  // namespace ner::model
