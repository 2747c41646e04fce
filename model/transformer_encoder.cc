#include "model/transformer_encoder.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Exception.h>
#include <c10/util/Half.h>
#include <torch/nn/modules/linear.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace ner::model {
namespace {

// Checkpoint (HuggingFace) names of the embedding and per-layer modules, and ours.
constexpr std::pair<absl::string_view, absl::string_view> kEmbeddingNames[] = {
    {"word_embeddings", "word_embeddings"},
    {"token_type_embeddings", "token_type_embeddings"},
    {"position_embeddings", "position_embeddings"},
    {"LayerNorm", "layer_norm"},
};
constexpr std::pair<absl::string_view, absl::string_view> kLayerNames[] = {
    {"attention.self.query", "query"},
    {"attention.self.key", "key"},
    {"attention.self.value", "value"},
    {"attention.output.dense", "attention_output"},
    {"attention.output.LayerNorm", "attention_layer_norm"},
    {"intermediate.dense", "intermediate"},
    {"output.dense", "output"},
    {"output.LayerNorm", "output_layer_norm"},
};
constexpr absl::string_view kCanonicalPrefix = "encoder.";

// Where a checkpoint name goes: one of our parameters (name relative to the encoder), or nowhere.
struct MappedName {
  enum class Kind { kParameter, kIgnored, kUnexpected };
  Kind kind;
  std::string name;  // kParameter: our name; kIgnored: why.
};

// Maps `rest` = "<module>.<tensor>" through `table` (checkpoint module -> our module).
std::optional<std::string> MapModule(absl::string_view rest,
                                     const std::pair<absl::string_view, absl::string_view>* begin,
                                     const std::pair<absl::string_view, absl::string_view>* end) {
  for (const auto* it = begin; it != end; ++it) {
    absl::string_view tail = rest;
    if (absl::ConsumePrefix(&tail, it->first) && absl::ConsumePrefix(&tail, ".")) {
      return absl::StrCat(it->second, ".", tail);
    }
  }
  return std::nullopt;
}

MappedName MapCheckpointName(absl::string_view key) {
  absl::ConsumePrefix(&key, "module.");  // Saved from torch.nn.DataParallel.
  std::string name(key);
  // Checkpoints converted from TensorFlow spell LayerNorm's parameters gamma/beta.
  if (absl::EndsWith(name, "LayerNorm.gamma")) name.replace(name.size() - 5, 5, "weight");
  if (absl::EndsWith(name, "LayerNorm.beta")) name.replace(name.size() - 4, 4, "bias");

  absl::string_view rest = name;
  if (absl::ConsumePrefix(&rest, kCanonicalPrefix) &&
      (absl::StartsWith(rest, "embeddings.") || absl::StartsWith(rest, "layers."))) {
    return {MappedName::Kind::kParameter, std::string(rest)};
  }
  rest = name;
  if (!absl::ConsumePrefix(&rest, "nezha.")) absl::ConsumePrefix(&rest, "bert.");
  if (absl::StrContains(rest, "relative_positions_encoding")) {
    return {MappedName::Kind::kIgnored, "relative-position table, recomputed"};
  }
  if (absl::StartsWith(rest, "pooler.") || absl::StartsWith(rest, "cls.") ||
      absl::StartsWith(rest, "classifier.")) {
    return {MappedName::Kind::kIgnored, "task head, not part of the encoder"};
  }
  if (rest == "embeddings.position_ids" || rest == "embeddings.token_type_ids") {
    return {MappedName::Kind::kIgnored, "index buffer, recomputed"};
  }
  if (absl::ConsumePrefix(&rest, "embeddings.")) {
    if (auto mapped = MapModule(rest, std::begin(kEmbeddingNames), std::end(kEmbeddingNames))) {
      return {MappedName::Kind::kParameter, absl::StrCat("embeddings.", *mapped)};
    }
  } else if (absl::ConsumePrefix(&rest, "encoder.layer.")) {
    const size_t dot = rest.find('.');
    const absl::string_view index = rest.substr(0, dot);
    if (dot != absl::string_view::npos && !index.empty() &&
        std::all_of(index.begin(), index.end(), absl::ascii_isdigit)) {
      if (auto mapped =
              MapModule(rest.substr(dot + 1), std::begin(kLayerNames), std::end(kLayerNames))) {
        return {MappedName::Kind::kParameter, absl::StrCat("layers.", index, ".", *mapped)};
      }
    }
  }
  return {MappedName::Kind::kUnexpected, ""};
}

// Returns the HuggingFace spelling of one of our parameter names, for error messages.
std::string CheckpointName(absl::string_view ours) {
  auto reverse = [](absl::string_view rest, const auto& table) -> std::string {
    for (const auto& [theirs, mine] : table) {
      absl::string_view tail = rest;
      if (absl::ConsumePrefix(&tail, mine) && absl::StartsWith(tail, ".")) {
        return absl::StrCat(theirs, tail);
      }
    }
    return std::string(rest);
  };
  absl::string_view rest = ours;
  if (absl::ConsumePrefix(&rest, "embeddings.")) {
    return absl::StrCat("embeddings.", reverse(rest, kEmbeddingNames));
  }
  if (absl::ConsumePrefix(&rest, "layers.")) {
    const size_t dot = rest.find('.');
    return absl::StrCat("encoder.layer.", rest.substr(0, dot + 1),
                        reverse(rest.substr(dot + 1), kLayerNames));
  }
  return std::string(ours);
}

std::string ShapeString(c10::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

// The additive mask value: the dtype's lowest finite value (float32: -3.4028235e38), as in the
// reference; adding it keeps scores finite, so a fully masked row softmaxes to uniform, not NaN.
double LowestValue(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat:
      return std::numeric_limits<float>::lowest();
    case torch::kDouble:
      return std::numeric_limits<double>::lowest();
    case torch::kHalf:
      return static_cast<float>(std::numeric_limits<c10::Half>::lowest());
    case torch::kBFloat16:
      return static_cast<float>(std::numeric_limits<c10::BFloat16>::lowest());
    default:
      break;
  }
  TORCH_CHECK(false, "TransformerEncoder: unsupported dtype ", dtype);
  return 0.0;
}

torch::nn::Linear MakeLinear(int64_t in, int64_t out, double init_std) {
  torch::nn::Linear linear(in, out);
  torch::NoGradGuard no_grad;
  linear->weight.normal_(0.0, init_std);
  linear->bias.zero_();
  return linear;
}

torch::nn::Embedding MakeEmbedding(int64_t rows, int64_t width, double init_std) {
  torch::nn::Embedding embedding(rows, width);
  torch::NoGradGuard no_grad;
  embedding->weight.normal_(0.0, init_std);
  return embedding;
}

torch::Tensor ApplyLinear(const torch::nn::Linear& linear, const torch::Tensor& x) {
  return torch::linear(x, linear->weight, linear->bias);
}

torch::Tensor ApplyLayerNorm(const torch::nn::LayerNorm& norm, const torch::Tensor& x) {
  const auto& options = norm->options;
  return torch::layer_norm(x, options.normalized_shape(), norm->weight, norm->bias, options.eps());
}

}  // namespace

// One post-LayerNorm transformer layer. Parameter names are the kLayerNames right-hand sides.
class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const EncoderConfig& config) : config_(config) {
    const int64_t h = config.hidden_size;
    const double init_std = config.initializer_range;
    const auto norm = torch::nn::LayerNormOptions({h}).eps(config.layer_norm_eps);
    query_ = register_module("query", MakeLinear(h, h, init_std));
    key_ = register_module("key", MakeLinear(h, h, init_std));
    value_ = register_module("value", MakeLinear(h, h, init_std));
    attention_output_ = register_module("attention_output", MakeLinear(h, h, init_std));
    attention_layer_norm_ = register_module("attention_layer_norm", torch::nn::LayerNorm(norm));
    intermediate_ =
        register_module("intermediate", MakeLinear(h, config.intermediate_size, init_std));
    output_ = register_module("output", MakeLinear(config.intermediate_size, h, init_std));
    output_layer_norm_ = register_module("output_layer_norm", torch::nn::LayerNorm(norm));
  }

  // hidden [B, T, H]; additive_mask [B, 1, 1, T]; table as RelativePositionAttention.
  torch::Tensor Forward(const torch::Tensor& hidden, const torch::Tensor& additive_mask,
                        const torch::Tensor& table, bool training) const {
    const int64_t batch = hidden.size(0);
    const int64_t length = hidden.size(1);
    const int64_t heads = config_.num_attention_heads;
    auto split_heads = [&](const torch::Tensor& x) {
      return x.view({batch, length, heads, config_.HeadSize()}).transpose(1, 2);
    };
    const torch::Tensor context = RelativePositionAttention(
        split_heads(ApplyLinear(query_, hidden)), split_heads(ApplyLinear(key_, hidden)),
        split_heads(ApplyLinear(value_, hidden)), additive_mask, table,
        config_.attention_probs_dropout_prob, training);
    const double p = config_.hidden_dropout_prob;
    const torch::Tensor attended = ApplyLayerNorm(
        attention_layer_norm_,
        torch::dropout(
            ApplyLinear(attention_output_, context.transpose(1, 2).reshape({batch, length, -1})), p,
            training) +
            hidden);
    const torch::Tensor inner = Activate(ApplyLinear(intermediate_, attended));
    return ApplyLayerNorm(output_layer_norm_,
                          torch::dropout(ApplyLinear(output_, inner), p, training) + attended);
  }

 private:
  torch::Tensor Activate(const torch::Tensor& x) const {
    if (config_.hidden_act == "relu") return torch::relu(x);
    return torch::gelu(x, config_.hidden_act == "gelu_new" ? "tanh" : "none");
  }

  EncoderConfig config_;
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr};
  torch::nn::Linear attention_output_{nullptr};
  torch::nn::LayerNorm attention_layer_norm_{nullptr};
  torch::nn::Linear intermediate_{nullptr}, output_{nullptr};
  torch::nn::LayerNorm output_layer_norm_{nullptr};
};

TransformerEncoderImpl::TransformerEncoderImpl(const EncoderConfig& config) : config_(config) {
  const absl::Status valid = config.Validate();
  TORCH_CHECK(valid.ok(), "TransformerEncoder: ", valid.ToString());
  const int64_t h = config.hidden_size;
  const double init_std = config.initializer_range;
  auto embeddings = register_module("embeddings", std::make_shared<torch::nn::Module>());
  word_embeddings_ =
      embeddings->register_module("word_embeddings", MakeEmbedding(config.vocab_size, h, init_std));
  token_type_embeddings_ = embeddings->register_module(
      "token_type_embeddings", MakeEmbedding(config.type_vocab_size, h, init_std));
  if (config.kind == EncoderKind::kBert) {
    position_embeddings_ = embeddings->register_module(
        "position_embeddings", MakeEmbedding(config.max_position_embeddings, h, init_std));
  } else {
    relative_table_ = RelativePositionTable(config.max_relative_position, config.HeadSize());
  }
  embeddings_layer_norm_ = embeddings->register_module(
      "layer_norm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({h}).eps(config.layer_norm_eps)));
  auto layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    layers_.push_back(std::make_shared<EncoderLayerImpl>(config));
    layers->push_back(layers_.back());
  }
}

TransformerEncoderImpl::~TransformerEncoderImpl() = default;

torch::Tensor TransformerEncoderImpl::Embed(const torch::Tensor& input_ids,
                                            const torch::Tensor& token_type_ids) const {
  torch::Tensor embedded =
      torch::embedding(word_embeddings_->weight, input_ids) +
      torch::embedding(token_type_embeddings_->weight, token_type_ids.defined()
                                                           ? token_type_ids.to(torch::kInt64)
                                                           : torch::zeros_like(input_ids));
  if (position_embeddings_) {
    embedded = embedded + torch::embedding(position_embeddings_->weight,
                                           torch::arange(input_ids.size(1), input_ids.options()));
  }
  return torch::dropout(ApplyLayerNorm(embeddings_layer_norm_, embedded),
                        config_.hidden_dropout_prob, is_training());
}

EncoderOutput TransformerEncoderImpl::Forward(const torch::Tensor& input_ids,
                                              const torch::Tensor& attention_mask,
                                              const torch::Tensor& token_type_ids) const {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.size(1) >= 1,
              "TransformerEncoder: input_ids must be [B, T] with T >= 1, got ", input_ids.sizes());
  TORCH_CHECK(!input_ids.is_floating_point() && !input_ids.is_complex() &&
                  input_ids.scalar_type() != torch::kBool,
              "TransformerEncoder: input_ids must be integer, got ", input_ids.scalar_type());
  TORCH_CHECK(attention_mask.defined() && attention_mask.sizes() == input_ids.sizes(),
              "TransformerEncoder: attention_mask must be ", input_ids.sizes());
  TORCH_CHECK(!token_type_ids.defined() || token_type_ids.sizes() == input_ids.sizes(),
              "TransformerEncoder: token_type_ids must be ", input_ids.sizes(), ", got ",
              token_type_ids.sizes());
  const int64_t batch = input_ids.size(0);
  const int64_t length = input_ids.size(1);
  TORCH_CHECK(config_.kind != EncoderKind::kBert || length <= config_.max_position_embeddings,
              "TransformerEncoder: BERT takes at most ", config_.max_position_embeddings,
              " positions, got ", length);

  EncoderOutput output;
  output.hidden_states.reserve(layers_.size() + 1);
  output.hidden_states.push_back(Embed(input_ids.to(torch::kInt64), token_type_ids));
  const torch::Tensor& embedded = output.hidden_states.back();
  const auto options =
      torch::TensorOptions().dtype(embedded.scalar_type()).device(embedded.device());
  const torch::Tensor additive_mask =
      torch::zeros({batch, 1, 1, length}, options)
          .masked_fill((attention_mask == 0).view({batch, 1, 1, length}),
                       LowestValue(embedded.scalar_type()));
  torch::Tensor table;
  if (config_.kind == EncoderKind::kNezha) {
    // Distances never exceed T - 1, so rows beyond R +- (T - 1) are unused: shrink the table to
    // 2r + 1 rows (clipping at r then changes nothing) instead of paying for 2R + 1 columns on
    // short inputs.
    const int64_t r = std::min(config_.max_relative_position, length - 1);
    table = relative_table_.narrow(0, config_.max_relative_position - r, 2 * r + 1)
                .to(options.device(), options.dtype().toScalarType());
  }
  for (const auto& layer : layers_) {
    output.hidden_states.push_back(
        layer->Forward(output.hidden_states.back(), additive_mask, table, is_training()));
  }
  return output;
}

absl::Status TransformerEncoderImpl::LoadWeights(
    const std::map<std::string, torch::Tensor>& state_dict,
    std::vector<std::string>* unexpected_or_ignored_log) {
  std::map<std::string, torch::Tensor> parameters;
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    parameters.emplace(item.key(), item.value());
  }
  std::map<std::string, const std::pair<const std::string, torch::Tensor>*> sources;
  std::vector<std::string> problems;
  for (const auto& entry : state_dict) {
    const MappedName mapped = MapCheckpointName(entry.first);
    const auto target = mapped.kind == MappedName::Kind::kParameter ? parameters.find(mapped.name)
                                                                    : parameters.end();
    if (target == parameters.end()) {
      if (unexpected_or_ignored_log != nullptr) {
        unexpected_or_ignored_log->push_back(
            mapped.kind == MappedName::Kind::kIgnored
                ? absl::StrCat("ignored ", entry.first, " (", mapped.name, ")")
                : absl::StrCat("unexpected ", entry.first));
      }
      continue;
    }
    auto [it, inserted] = sources.emplace(mapped.name, &entry);
    if (!inserted) {
      problems.push_back(absl::StrCat("both '", it->second->first, "' and '", entry.first,
                                      "' give ", kCanonicalPrefix, mapped.name));
      continue;
    }
    if (!entry.second.defined() || entry.second.sizes() != target->second.sizes()) {
      problems.push_back(
          absl::StrCat("shape mismatch for '", entry.first, "': checkpoint ",
                       entry.second.defined() ? ShapeString(entry.second.sizes()) : "undefined",
                       ", encoder expects ", ShapeString(target->second.sizes())));
    }
  }
  std::vector<std::string> missing;
  for (const auto& [name, parameter] : parameters) {
    if (sources.count(name) == 0) {
      missing.push_back(
          absl::StrCat(kCanonicalPrefix, name, " (checkpoint name ", CheckpointName(name), ")"));
    }
  }
  if (!missing.empty()) {
    problems.insert(problems.begin(), absl::StrCat("missing ", missing.size(),
                                                   " weight(s): ", absl::StrJoin(missing, ", ")));
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load ", std::string(EncoderKindName(config_.kind)),
                     " encoder weights: ", absl::StrJoin(problems, "; ")));
  }
  try {
    torch::NoGradGuard no_grad;
    for (const auto& [name, source] : sources) parameters.at(name).copy_(source->second);
  } catch (const c10::Error& error) {
    return absl::InternalError(
        absl::StrCat("copying encoder weights failed: ", error.what_without_backtrace()));
  }
  return absl::OkStatus();
}

std::map<std::string, torch::Tensor> TransformerEncoderImpl::NamedWeights() const {
  std::map<std::string, torch::Tensor> weights;
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    weights.emplace(absl::StrCat(kCanonicalPrefix, item.key()), item.value().detach());
  }
  return weights;
}

absl::StatusOr<TransformerEncoder> CreateTransformerEncoder(const EncoderConfig& config) {
  if (absl::Status valid = config.Validate(); !valid.ok()) return valid;
  return TransformerEncoder(config);
}

}  // namespace ner::model
