#include "model/transformer_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/encoder_config.h"
#include "model/state_dict.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;

EncoderConfig SmallConfig(EncoderKind kind) {
  EncoderConfig config;
  config.kind = kind;
  config.vocab_size = 50;
  config.hidden_size = 16;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 32;
  config.max_relative_position = 3;
  config.max_position_embeddings = 24;
  return config;
}

TransformerEncoder MakeEncoder(const EncoderConfig& config, uint64_t seed) {
  torch::manual_seed(seed);
  absl::StatusOr<TransformerEncoder> encoder = CreateTransformerEncoder(config);
  EXPECT_TRUE(encoder.ok()) << encoder.status();
  (*encoder)->eval();
  return *encoder;
}

// Returns the HuggingFace name of a canonical `encoder.` name, written out independently of the
// implementation's own table.
std::string HfName(const std::string& canonical, const std::string& prefix) {
  static const std::map<std::string, std::string> kLayer = {
      {"query", "attention.self.query"},
      {"key", "attention.self.key"},
      {"value", "attention.self.value"},
      {"attention_output", "attention.output.dense"},
      {"attention_layer_norm", "attention.output.LayerNorm"},
      {"intermediate", "intermediate.dense"},
      {"output", "output.dense"},
      {"output_layer_norm", "output.LayerNorm"},
  };
  const std::vector<std::string> parts = absl::StrSplit(canonical, '.');
  if (parts[1] == "embeddings") {
    return absl::StrCat(prefix, "embeddings.", parts[2] == "layer_norm" ? "LayerNorm" : parts[2],
                        ".", parts[3]);
  }
  return absl::StrCat(prefix, "encoder.layer.", parts[2], ".", kLayer.at(parts[3]), ".", parts[4]);
}

struct Batch {
  torch::Tensor input_ids, attention_mask, token_type_ids;
};

// Two rows of length 14; row 1 is padded after 9 tokens.
Batch MakeBatch(int64_t vocab_size) {
  torch::manual_seed(7);
  Batch batch;
  batch.input_ids = torch::randint(1, vocab_size, {2, 14}, torch::kInt64);
  batch.attention_mask = torch::ones({2, 14}, torch::kInt64);
  batch.attention_mask.index_put_({1, torch::indexing::Slice(9)}, 0);
  batch.input_ids.index_put_({1, torch::indexing::Slice(9)}, 0);
  batch.token_type_ids = torch::zeros({2, 14}, torch::kInt64);
  batch.token_type_ids.index_put_({0, torch::indexing::Slice(6)}, 1);
  return batch;
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// ---- Relative-position attention -------------------------------------------------------------

TEST(RelativePositionTest, TableUsesTheShiftedIndexAsTheSinusoidArgument) {
  const int64_t r = 4, d = 6;
  const torch::Tensor table = RelativePositionTable(r, d);
  ASSERT_EQ(table.sizes(), (std::vector<int64_t>{2 * r + 1, d}));
  EXPECT_EQ(table.scalar_type(), torch::kFloat32);
  for (int64_t p = 0; p <= 2 * r; ++p) {
    for (int64_t k = 0; k < d / 2; ++k) {
      const double angle = p / std::pow(10000.0, 2.0 * k / d);
      EXPECT_NEAR(table[p][2 * k].item<float>(), std::sin(angle), 1e-6) << p << "," << k;
      EXPECT_NEAR(table[p][2 * k + 1].item<float>(), std::cos(angle), 1e-6) << p << "," << k;
    }
  }
  // Distance 0 is row R, i.e. sin(R), not sin(0).
  EXPECT_NEAR(table[r][0].item<float>(), std::sin(4.0), 1e-6);
}

TEST(RelativePositionTest, IndexClipsTheSignedDistance) {
  const torch::Tensor index = RelativePositionIndex(5, 2);
  const torch::Tensor expected =
      torch::tensor({2, 3, 4, 4, 4, 1, 2, 3, 4, 4, 0, 1, 2, 3, 4, 0, 0, 1, 2, 3, 0, 0, 0, 1, 2},
                    torch::kInt64)
          .view({5, 5});
  EXPECT_TRUE(torch::equal(index, expected)) << index;
}

// The naive form of the NEZHA attention, materialising a = table[index] as [T, T, d].
torch::Tensor NaiveRelativeAttention(const torch::Tensor& q, const torch::Tensor& k,
                                     const torch::Tensor& v, const torch::Tensor& mask,
                                     const torch::Tensor& table, const torch::Tensor& index) {
  const torch::Tensor a = table.index({index});  // [T, T, d]
  const torch::Tensor scores =
      (torch::matmul(q, k.transpose(-1, -2)) + torch::einsum("bnid,ijd->bnij", {q, a})) /
          std::sqrt(static_cast<double>(q.size(-1))) +
      mask;
  const torch::Tensor p = torch::softmax(scores, -1);
  return torch::matmul(p, v) + torch::einsum("bnij,ijd->bnid", {p, a});
}

TEST(RelativePositionTest, FastPathMatchesNaiveReferenceIncludingGradients) {
  // T > 2R + 1 exercises clipping; T < R exercises unused table rows.
  for (const auto& [length, r] : std::vector<std::pair<int64_t, int64_t>>{{11, 3}, {5, 8}}) {
    torch::manual_seed(length);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const int64_t d = 6;
    torch::Tensor q = torch::randn({2, 3, length, d}, f64).requires_grad_();
    torch::Tensor k = torch::randn({2, 3, length, d}, f64).requires_grad_();
    torch::Tensor v = torch::randn({2, 3, length, d}, f64).requires_grad_();
    torch::Tensor mask = torch::zeros({2, 1, 1, length}, f64);
    mask.index_put_({1, 0, 0, torch::indexing::Slice(length - 2)}, -1e30);
    const torch::Tensor table = RelativePositionTable(r, d).to(torch::kFloat64);
    const torch::Tensor index = RelativePositionIndex(length, r);

    const torch::Tensor fast = RelativePositionAttention(q, k, v, mask, table, 0.0, false);
    const torch::Tensor naive = NaiveRelativeAttention(q, k, v, mask, table, index);
    EXPECT_LT(MaxAbsDiff(fast, naive), 1e-12) << "T=" << length << " R=" << r;

    const torch::Tensor weights = torch::randn_like(naive);
    const auto fast_grads = torch::autograd::grad({(fast * weights).sum()}, {q, k, v});
    const auto naive_grads = torch::autograd::grad({(naive * weights).sum()}, {q, k, v});
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_LT(MaxAbsDiff(fast_grads[i], naive_grads[i]), 1e-12) << "grad " << i;
    }
  }
}

// ExpandByDistance and SumByDistance against gather / scatter-add with the explicit index, in
// every floating dtype, at the edge cases of the band (R = 0, R >= T - 1, T = 1).
TEST(RelativePositionTest, ByDistanceMapsMatchGatherAndScatterAdd) {
  for (const auto& [length, r] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 0}, {0, 2}, {1, 0}, {1, 3}, {4, 0}, {7, 1}, {9, 3}, {6, 5}, {5, 8}, {130, 64}}) {
    for (const torch::Dtype dtype :
         {torch::kFloat64, torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
      const int64_t window = 2 * r + 1;
      const torch::Tensor index = RelativePositionIndex(length, r).expand({2, 3, length, length});
      const torch::Tensor by_distance = torch::randn({2, 3, length, window}).to(dtype);
      const torch::Tensor expanded = ExpandByDistance(by_distance, length);
      EXPECT_TRUE(torch::equal(expanded, by_distance.gather(-1, index)))
          << "T=" << length << " R=" << r << " " << dtype;
      const torch::Tensor by_key = torch::rand({2, 3, length, length}).to(dtype);
      const torch::Tensor summed = SumByDistance(by_key, window);
      const torch::Tensor reference =
          torch::zeros({2, 3, length, window}, torch::kFloat64)
              .scatter_add(-1, index, by_key.to(torch::kFloat64));
      // Sums are accumulated in float (double for double), then rounded once to the dtype.
      const double tolerance = dtype == torch::kFloat64   ? 1e-12
                               : dtype == torch::kFloat32 ? 1e-6
                               : dtype == torch::kFloat16 ? 1.0 / 1024
                                                          : 1.0 / 128;
      const double relative_error =
          reference.numel() == 0
              ? 0.0
              : ((summed.to(torch::kFloat64) - reference).abs() / (reference.abs() + 1e-3))
                    .max()
                    .item<double>();
      EXPECT_LT(relative_error, tolerance) << "T=" << length << " R=" << r << " " << dtype;
      EXPECT_EQ(summed.scalar_type(), dtype);
    }
  }
  // Non-contiguous input (a transposed view) and a bad distance axis.
  const torch::Tensor strided = torch::randn({3, 5, 5}).transpose(1, 2);
  EXPECT_TRUE(torch::allclose(SumByDistance(strided, 5), SumByDistance(strided.contiguous(), 5)));
  EXPECT_THROW(SumByDistance(strided, 4), c10::Error);
  EXPECT_THROW(ExpandByDistance(torch::zeros({5, 3}), 4), c10::Error);
}

TEST(RelativePositionTest, ByDistanceMapsAreAdjointAndDifferentiableTwice) {
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const int64_t length = 8, window = 5;
  const torch::Tensor x = torch::randn({2, length, window}, f64);
  const torch::Tensor y = torch::randn({2, length, length}, f64);
  // <Expand(x), y> == <x, Sum(y)>.
  EXPECT_NEAR((ExpandByDistance(x, length) * y).sum().item<double>(),
              (x * SumByDistance(y, window)).sum().item<double>(), 1e-10);
  // Gradients, and gradients of gradients, against the gather / scatter-add form.
  const torch::Tensor index = RelativePositionIndex(length, 2).expand({2, length, length});
  torch::Tensor a = x.clone().requires_grad_();
  torch::Tensor b = x.clone().requires_grad_();
  const torch::Tensor w = torch::randn({2, length, length}, f64);
  auto loss_ours = (ExpandByDistance(a, length).pow(2) * w).sum();
  auto loss_ref = (b.gather(-1, index).pow(2) * w).sum();
  const auto ga = torch::autograd::grad({loss_ours}, {a}, {}, true, true);
  const auto gb = torch::autograd::grad({loss_ref}, {b}, {}, true, true);
  EXPECT_LT(MaxAbsDiff(ga[0], gb[0]), 1e-12);
  const auto gga = torch::autograd::grad({ga[0].sum()}, {a});
  const auto ggb = torch::autograd::grad({gb[0].sum()}, {b});
  EXPECT_LT(MaxAbsDiff(gga[0], ggb[0]), 1e-12);
}

// ---- Golden vectors from the independent reference ---------------------------------------------

TEST(TransformerEncoderGoldenTest, MatchesReferenceFromBothCheckpointFormats) {
  NER_REQUIRE_SHARED(dir, "golden/nezha-tiny");
  absl::StatusOr<EncoderConfig> config = LoadEncoderConfig(dir + "/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  std::ifstream in(dir + "/golden.json");
  const nlohmann::json golden = nlohmann::json::parse(in);
  auto matrix = [](const nlohmann::json& rows) {
    std::vector<int64_t> flat;
    for (const auto& row : rows) {
      for (const auto& value : row) flat.push_back(value.get<int64_t>());
    }
    return torch::tensor(flat, torch::kInt64).view({static_cast<int64_t>(rows.size()), -1});
  };
  const torch::Tensor input_ids = matrix(golden["input_ids"]);
  const torch::Tensor attention_mask = matrix(golden["attention_mask"]);
  const torch::Tensor token_type_ids = matrix(golden["token_type_ids"]);
  const torch::Tensor real = attention_mask.to(torch::kBool);

  for (const char* file : {"pytorch_model.bin", "model.safetensors"}) {
    SCOPED_TRACE(file);
    absl::StatusOr<std::map<std::string, torch::Tensor>> state_dict =
        LoadStateDict(dir + "/" + file);
    ASSERT_TRUE(state_dict.ok()) << state_dict.status();
    TransformerEncoder encoder = MakeEncoder(*config, 1);
    std::vector<std::string> log;
    ASSERT_TRUE(encoder->LoadWeights(*state_dict, &log).ok());
    // Only the relative-position buffers, the pooler and the classifier are left over.
    for (const std::string& entry : log) EXPECT_THAT(entry, HasSubstr("ignored ")) << entry;
    EXPECT_THAT(log, Contains(HasSubstr("classifier.weight")));

    // The reference's per-layer [64, 64, d] buffers equal our table gathered by our index.
    for (const auto& [name, tensor] : *state_dict) {
      if (!absl::StrContains(name, "relative_positions_encoding")) continue;
      const torch::Tensor ours = encoder->relative_position_table().index(
          {RelativePositionIndex(tensor.size(0), config->max_relative_position)});
      EXPECT_LT(MaxAbsDiff(ours, tensor), 1e-6) << name;
    }

    torch::NoGradGuard no_grad;
    const EncoderOutput output = encoder->Forward(input_ids, attention_mask, token_type_ids);
    ASSERT_EQ(output.hidden_states.size(), golden["hidden_states"].size());
    double max_error = 0.0;
    for (size_t l = 0; l < output.hidden_states.size(); ++l) {
      std::vector<float> flat;
      for (const auto& row : golden["hidden_states"][l]) {
        for (const auto& position : row) {
          for (const auto& value : position) flat.push_back(value.get<float>());
        }
      }
      const torch::Tensor expected = torch::tensor(flat).view(output.hidden_states[l].sizes());
      const double error =
          MaxAbsDiff(output.hidden_states[l].index({real}), expected.index({real}));
      EXPECT_LT(error, 1e-4) << "hidden state " << l;
      max_error = std::max(max_error, error);
    }
    std::cout << file << ": max abs error over all hidden states " << max_error << "\n";
    RecordProperty(absl::StrCat("max_abs_error_", file), std::to_string(max_error));
  }
}

// ---- Forward behaviour
// ---------------------------------------------------------------------------

TEST(TransformerEncoderTest, ReturnsEmbeddingAndEveryLayerOutput) {
  for (EncoderKind kind : {EncoderKind::kNezha, EncoderKind::kBert}) {
    const EncoderConfig config = SmallConfig(kind);
    TransformerEncoder encoder = MakeEncoder(config, 1);
    const Batch batch = MakeBatch(config.vocab_size);
    const EncoderOutput output =
        encoder->Forward(batch.input_ids, batch.attention_mask, batch.token_type_ids);
    ASSERT_EQ(output.hidden_states.size(), 3u);
    for (const torch::Tensor& hidden : output.hidden_states) {
      EXPECT_EQ(hidden.sizes(), (std::vector<int64_t>{2, 14, 16}));
      EXPECT_TRUE(torch::isfinite(hidden).all().item<bool>());
    }
    EXPECT_TRUE(output.embedding_output().is_same(output.hidden_states[0]));
    EXPECT_TRUE(output.last_hidden_state().is_same(output.hidden_states[2]));
    EXPECT_EQ(encoder->MaxTokens(), 22);
  }
}

TEST(TransformerEncoderTest, PaddingDoesNotChangeRealPositions) {
  for (EncoderKind kind : {EncoderKind::kNezha, EncoderKind::kBert}) {
    SCOPED_TRACE(std::string(EncoderKindName(kind)));
    const EncoderConfig config = SmallConfig(kind);
    TransformerEncoder encoder = MakeEncoder(config, 2);
    const Batch batch = MakeBatch(config.vocab_size);
    const EncoderOutput padded =
        encoder->Forward(batch.input_ids, batch.attention_mask, batch.token_type_ids);
    const auto first9 = torch::indexing::Slice(0, 9);
    const EncoderOutput alone =
        encoder->Forward(batch.input_ids.index({torch::indexing::Slice(1), first9}),
                         torch::ones({1, 9}, torch::kInt64),
                         batch.token_type_ids.index({torch::indexing::Slice(1), first9}));
    for (size_t l = 0; l < padded.hidden_states.size(); ++l) {
      EXPECT_LT(MaxAbsDiff(padded.hidden_states[l].index({torch::indexing::Slice(1), first9}),
                           alone.hidden_states[l]),
                1e-5)
          << "hidden state " << l;
    }
  }
}

TEST(TransformerEncoderTest, BertBuildsAndTrainsEndToEnd) {
  const EncoderConfig config = SmallConfig(EncoderKind::kBert);
  TransformerEncoder encoder = MakeEncoder(config, 3);
  encoder->train();
  const Batch batch = MakeBatch(config.vocab_size);
  const EncoderOutput output =
      encoder->Forward(batch.input_ids, batch.attention_mask, batch.token_type_ids);
  output.last_hidden_state().pow(2).mean().backward();
  for (const auto& item : encoder->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_TRUE(torch::isfinite(item.value().grad()).all().item<bool>()) << item.key();
  }
  EXPECT_GT(encoder->NamedWeights().at("encoder.embeddings.position_embeddings.weight").sizes()[0],
            0);
  EXPECT_GT(encoder->named_parameters()["embeddings.position_embeddings.weight"]
                .grad()
                .abs()
                .sum()
                .item<double>(),
            0.0);
  // Longer than the position table.
  EXPECT_THROW(
      encoder->Forward(torch::zeros({1, 25}, torch::kInt64), torch::ones({1, 25}, torch::kInt64)),
      c10::Error);
}

TEST(TransformerEncoderTest, DropoutOnlyInTrainingMode) {
  const EncoderConfig config = SmallConfig(EncoderKind::kNezha);
  TransformerEncoder encoder = MakeEncoder(config, 4);
  const Batch batch = MakeBatch(config.vocab_size);
  auto run = [&] {
    return encoder->Forward(batch.input_ids, batch.attention_mask).last_hidden_state();
  };
  EXPECT_TRUE(torch::equal(run(), run()));
  encoder->train();
  EXPECT_FALSE(torch::equal(run(), run()));
}

TEST(TransformerEncoderTest, RunsInOtherDtypes) {
  const EncoderConfig config = SmallConfig(EncoderKind::kNezha);
  TransformerEncoder encoder = MakeEncoder(config, 5);
  const Batch batch = MakeBatch(config.vocab_size);
  torch::NoGradGuard no_grad;
  const torch::Tensor reference =
      encoder->Forward(batch.input_ids, batch.attention_mask).last_hidden_state();
  encoder->to(torch::kFloat64);
  EXPECT_LT(MaxAbsDiff(encoder->Forward(batch.input_ids, batch.attention_mask).last_hidden_state(),
                       reference),
            1e-5);
  encoder->to(torch::kBFloat16);
  const torch::Tensor bf16 =
      encoder->Forward(batch.input_ids, batch.attention_mask).last_hidden_state();
  EXPECT_EQ(bf16.scalar_type(), torch::kBFloat16);
  EXPECT_LT(MaxAbsDiff(bf16.index({0}), reference.index({0})), 0.25);
}

TEST(TransformerEncoderTest, CreateRejectsInvalidConfig) {
  EncoderConfig config = SmallConfig(EncoderKind::kNezha);
  config.num_attention_heads = 3;
  absl::StatusOr<TransformerEncoder> encoder = CreateTransformerEncoder(config);
  EXPECT_EQ(encoder.status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- Weight loading --------------------------------------------------------------------------

TEST(TransformerEncoderWeightsTest, NamedWeightsRoundTrip) {
  const EncoderConfig config = SmallConfig(EncoderKind::kNezha);
  TransformerEncoder source = MakeEncoder(config, 10);
  TransformerEncoder target = MakeEncoder(config, 11);
  const std::map<std::string, torch::Tensor> weights = source->NamedWeights();
  EXPECT_EQ(weights.size(), 4u + 2 * 16u);
  EXPECT_TRUE(weights.count("encoder.embeddings.word_embeddings.weight"));
  EXPECT_TRUE(weights.count("encoder.layers.1.output_layer_norm.bias"));
  std::vector<std::string> log;
  ASSERT_TRUE(target->LoadWeights(weights, &log).ok());
  EXPECT_TRUE(log.empty());
  const Batch batch = MakeBatch(config.vocab_size);
  EXPECT_TRUE(
      torch::equal(source->Forward(batch.input_ids, batch.attention_mask).last_hidden_state(),
                   target->Forward(batch.input_ids, batch.attention_mask).last_hidden_state()));
}

TEST(TransformerEncoderWeightsTest, AcceptsHuggingFaceNamesAndGammaBetaSpelling) {
  for (EncoderKind kind : {EncoderKind::kNezha, EncoderKind::kBert}) {
    const EncoderConfig config = SmallConfig(kind);
    TransformerEncoder source = MakeEncoder(config, 12);
    for (const std::string prefix : {"nezha.", "bert.", ""}) {
      SCOPED_TRACE(prefix);
      std::map<std::string, torch::Tensor> hf;
      for (const auto& [name, tensor] : source->NamedWeights()) {
        std::string hf_name = HfName(name, prefix);
        if (absl::EndsWith(hf_name, "LayerNorm.weight")) {
          hf_name.replace(hf_name.size() - 6, 6, "gamma");
        } else if (absl::EndsWith(hf_name, "LayerNorm.bias")) {
          hf_name.replace(hf_name.size() - 4, 4, "beta");
        }
        hf[hf_name] = tensor.clone();
      }
      hf[prefix + "pooler.dense.weight"] = torch::zeros({16, 16});
      hf["classifier.bias"] = torch::zeros({7});
      hf[prefix + "encoder.layer.0.attention.self.relative_positions_encoding.positions_encoding"] =
          torch::zeros({24, 24, 8});
      hf["something.else"] = torch::zeros({1});
      TransformerEncoder target = MakeEncoder(config, 13);
      std::vector<std::string> log;
      absl::Status status = target->LoadWeights(hf, &log);
      ASSERT_TRUE(status.ok()) << status;
      EXPECT_THAT(log, Contains(HasSubstr("unexpected something.else")));
      EXPECT_THAT(log, Contains(AllOf(HasSubstr("ignored"), HasSubstr("pooler.dense.weight"))));
      EXPECT_THAT(log, Contains(AllOf(HasSubstr("ignored"), HasSubstr("classifier.bias"))));
      EXPECT_THAT(log, Contains(AllOf(HasSubstr("ignored"), HasSubstr("positions_encoding"))));
      EXPECT_EQ(log.size(), 4u);
      for (const auto& [name, tensor] : source->NamedWeights()) {
        EXPECT_TRUE(torch::equal(tensor, target->NamedWeights().at(name))) << name;
      }
    }
  }
}

TEST(TransformerEncoderWeightsTest, MissingWeightsAreAllListed) {
  const EncoderConfig config = SmallConfig(EncoderKind::kNezha);
  TransformerEncoder encoder = MakeEncoder(config, 14);
  std::map<std::string, torch::Tensor> weights = encoder->NamedWeights();
  weights.erase("encoder.layers.0.query.weight");
  weights.erase("encoder.embeddings.layer_norm.bias");
  weights.erase("encoder.layers.1.output_layer_norm.weight");
  const absl::Status status = MakeEncoder(config, 15)->LoadWeights(weights);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      status.message(),
      AllOf(HasSubstr("missing 3 weight(s)"), HasSubstr("encoder.layers.0.query.weight"),
            HasSubstr("encoder.layer.0.attention.self.query.weight"),
            HasSubstr("encoder.embeddings.layer_norm.bias"), HasSubstr("embeddings.LayerNorm.bias"),
            HasSubstr("encoder.layers.1.output_layer_norm.weight"),
            HasSubstr("encoder.layer.1.output.LayerNorm.weight")));
}

TEST(TransformerEncoderWeightsTest, ShapeMismatchNamesKeyAndBothShapesAndChangesNothing) {
  const EncoderConfig config = SmallConfig(EncoderKind::kNezha);
  std::map<std::string, torch::Tensor> weights = MakeEncoder(config, 16)->NamedWeights();
  weights["encoder.layers.1.intermediate.weight"] = torch::zeros({32, 8});
  TransformerEncoder target = MakeEncoder(config, 17);
  const torch::Tensor before = target->NamedWeights().at("encoder.layers.0.query.weight").clone();
  const absl::Status status = target->LoadWeights(weights);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("encoder.layers.1.intermediate.weight"),
                                      HasSubstr("[32, 8]"), HasSubstr("[32, 16]")));
  EXPECT_TRUE(torch::equal(before, target->NamedWeights().at("encoder.layers.0.query.weight")));
}

TEST(TransformerEncoderWeightsTest, DuplicateSpellingsAreAnError) {
  const EncoderConfig config = SmallConfig(EncoderKind::kNezha);
  std::map<std::string, torch::Tensor> weights = MakeEncoder(config, 18)->NamedWeights();
  weights["bert.embeddings.LayerNorm.gamma"] = torch::ones({16});
  const absl::Status status = MakeEncoder(config, 19)->LoadWeights(weights);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("bert.embeddings.LayerNorm.gamma"));
}

}  // namespace
}  // namespace ner::model
