#include "model/encoder_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

using Json = nlohmann::json;

// Reads an integer field if present. HF configs store sizes as JSON integers; a float such as
// 768.0 is accepted when it is integral, anything else is a type error.
absl::Status ReadInt(const Json& json, const char* name, int64_t* out) {
  auto it = json.find(name);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (it->is_number_integer() || it->is_number_unsigned()) {
    *out = it->get<int64_t>();
    return absl::OkStatus();
  }
  if (it->is_number_float()) {
    const double value = it->get<double>();
    // In range before the cast, which is undefined behaviour otherwise (e.g. 1e300): 2^63 is
    // exactly representable, INT64_MAX is not.
    if (value >= -9223372036854775808.0 && value < 9223372036854775808.0 &&
        value == static_cast<double>(static_cast<int64_t>(value))) {
      *out = static_cast<int64_t>(value);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("encoder config field '", name, "' must be an integer, got ", it->dump()));
}

absl::Status ReadDouble(const Json& json, const char* name, double* out) {
  auto it = json.find(name);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoder config field '", name, "' must be a number, got ", it->dump()));
  }
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status ReadString(const Json& json, const char* name, std::string* out) {
  auto it = json.find(name);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoder config field '", name, "' must be a string, got ", it->dump()));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status Positive(const char* name, int64_t value) {
  if (value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("encoder config: ", name, " must be positive, got ", value));
}

absl::Status Probability(const char* name, double value) {
  if (value >= 0.0 && value < 1.0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("encoder config: ", name, " must be in [0, 1), got ", value));
}

}  // namespace

std::string_view EncoderKindName(EncoderKind kind) {
  return kind == EncoderKind::kNezha ? "nezha" : "bert";
}

absl::Status EncoderConfig::Validate() const {
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"vocab_size", vocab_size},
                                    {"hidden_size", hidden_size},
                                    {"num_hidden_layers", num_hidden_layers},
                                    {"num_attention_heads", num_attention_heads},
                                    {"intermediate_size", intermediate_size},
                                    {"max_position_embeddings", max_position_embeddings},
                                    {"type_vocab_size", type_vocab_size}}) {
    if (absl::Status s = Positive(name, value); !s.ok()) return s;
  }
  if (hidden_size % num_attention_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("encoder config: hidden_size ", hidden_size,
                                                   " is not a multiple of num_attention_heads ",
                                                   num_attention_heads));
  }
  if (kind == EncoderKind::kNezha) {
    if (absl::Status s = Positive("max_relative_position", max_relative_position); !s.ok()) {
      return s;
    }
    if (HeadSize() % 2 != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "encoder config: NEZHA needs an even head size (sin/cos pairs), got ", HeadSize()));
    }
  }
  if (kind == EncoderKind::kBert && max_position_embeddings < 3) {
    return absl::InvalidArgumentError(
        "encoder config: BERT needs max_position_embeddings >= 3 ([CLS], a token, [SEP])");
  }
  if (hidden_act != "gelu" && hidden_act != "gelu_new" && hidden_act != "relu") {
    return absl::InvalidArgumentError(absl::StrCat("encoder config: unsupported hidden_act '",
                                                   hidden_act, "' (gelu, gelu_new, relu)"));
  }
  if (absl::Status s = Probability("hidden_dropout_prob", hidden_dropout_prob); !s.ok()) return s;
  if (absl::Status s = Probability("attention_probs_dropout_prob", attention_probs_dropout_prob);
      !s.ok()) {
    return s;
  }
  if (!(layer_norm_eps > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoder config: layer_norm_eps must be positive, got ", layer_norm_eps));
  }
  if (!(initializer_range >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoder config: initializer_range must be >= 0, got ", initializer_range));
  }
  return absl::OkStatus();
}

std::string EncoderConfig::ToJson() const {
  Json json = {
      {"model_type", std::string(EncoderKindName(kind))},
      {"vocab_size", vocab_size},
      {"hidden_size", hidden_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"intermediate_size", intermediate_size},
      {"hidden_act", hidden_act},
      {"hidden_dropout_prob", hidden_dropout_prob},
      {"attention_probs_dropout_prob", attention_probs_dropout_prob},
      {"max_position_embeddings", max_position_embeddings},
      {"type_vocab_size", type_vocab_size},
      {"layer_norm_eps", layer_norm_eps},
      {"initializer_range", initializer_range},
  };
  if (kind == EncoderKind::kNezha) {
    json["max_relative_position"] = max_relative_position;
    json["use_relative_position"] = true;
  }
  return json.dump(2);
}

absl::StatusOr<EncoderConfig> ParseEncoderConfig(std::string_view text) {
  const Json json = Json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                                /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError("encoder config is not a JSON object");
  }
  EncoderConfig config;
  std::string model_type;
  if (absl::Status s = ReadString(json, "model_type", &model_type); !s.ok()) return s;
  bool use_relative_position = false;
  if (auto it = json.find("use_relative_position"); it != json.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return absl::InvalidArgumentError(
          "encoder config field 'use_relative_position' must be a "
          "boolean");
    }
    use_relative_position = it->get<bool>();
  }
  if (model_type == "nezha" || use_relative_position) {
    config.kind = EncoderKind::kNezha;
  } else if (!model_type.empty()) {
    config.kind = EncoderKind::kBert;  // bert, and BERT-shaped types (roberta-wwm-ext is "bert").
  } else {
    config.kind = json.contains("max_relative_position") ? EncoderKind::kNezha : EncoderKind::kBert;
  }

  for (const auto& [name, field] :
       {std::pair<const char*, int64_t*>{"vocab_size", &config.vocab_size},
        {"hidden_size", &config.hidden_size},
        {"num_hidden_layers", &config.num_hidden_layers},
        {"num_attention_heads", &config.num_attention_heads},
        {"intermediate_size", &config.intermediate_size},
        {"max_position_embeddings", &config.max_position_embeddings},
        {"max_relative_position", &config.max_relative_position},
        {"type_vocab_size", &config.type_vocab_size}}) {
    if (absl::Status s = ReadInt(json, name, field); !s.ok()) return s;
  }
  for (const auto& [name, field] :
       {std::pair<const char*, double*>{"hidden_dropout_prob", &config.hidden_dropout_prob},
        {"attention_probs_dropout_prob", &config.attention_probs_dropout_prob},
        {"layer_norm_eps", &config.layer_norm_eps},
        {"initializer_range", &config.initializer_range}}) {
    if (absl::Status s = ReadDouble(json, name, field); !s.ok()) return s;
  }
  if (absl::Status s = ReadString(json, "hidden_act", &config.hidden_act); !s.ok()) return s;
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return config;
}

absl::StatusOr<EncoderConfig> LoadEncoderConfig(const std::string& path) {
  std::filesystem::path file(path);
  std::error_code error;
  if (std::filesystem::is_directory(file, error)) file /= "config.json";
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open encoder config '", file.string(), "'"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<EncoderConfig> config = ParseEncoderConfig(text.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(file.string(), ": ", config.status().message()));
  }
  return config;
}

EncoderConfig NezhaBasePreset() { return EncoderConfig(); }

EncoderConfig NezhaTinyPreset() {
  EncoderConfig config;
  config.num_hidden_layers = 4;
  config.hidden_size = 256;
  config.num_attention_heads = 4;
  config.intermediate_size = 1024;
  return config;
}

EncoderConfig BertTinyPreset() {
  EncoderConfig config = NezhaTinyPreset();
  config.kind = EncoderKind::kBert;
  return config;
}

EncoderConfig BertBasePreset() {
  EncoderConfig config;
  config.kind = EncoderKind::kBert;
  return config;
}

}  // namespace ner::model
