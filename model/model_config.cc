#include "model/model_config.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

using json = nlohmann::json;

constexpr int kFormatVersion = 1;
constexpr const char* kFormatName = "ner-service-checkpoint";

struct VariantEntry {
  Variant variant;
  const char* name;
};
constexpr VariantEntry kVariants[] = {
    {Variant::kBiLstmCrf, "bilstm-crf"},
    {Variant::kBertBiLstmCrf, "bert-bilstm-crf"},
    {Variant::kNezhaBiLstmCrf, "nezha-bilstm-crf"},
    {Variant::kNezhaDfBiLstmCrf, "nezha-df-bilstm-crf"},
};

// Reads the integer field `key` of `object` into *out, which must lie in [min, max]. (nlohmann's
// get<int64_t>() would take a float and convert it with a cast that is undefined behaviour out of
// range, e.g. 1e300, and get<int32_t>() would silently truncate 2^32 + 1 to 1.)
absl::Status ReadInt(const json& object, const char* key, int64_t min, int64_t max, int64_t* out) {
  auto it = object.find(key);
  if (it == object.end()) {
    return absl::InvalidArgumentError(absl::StrCat("model config: field '", key, "' is missing"));
  }
  bool in_range = false;
  if (it->is_number_unsigned()) {
    const uint64_t value = it->get<uint64_t>();
    in_range = max >= 0 && value <= static_cast<uint64_t>(max);
    if (in_range) *out = static_cast<int64_t>(value);
  } else if (it->is_number_integer()) {
    const int64_t value = it->get<int64_t>();
    in_range = value >= min && value <= max;
    if (in_range) *out = value;
  }
  if (!in_range) {
    return absl::InvalidArgumentError(absl::StrCat("model config: field '", key,
                                                   "' must be an integer in [", min, ", ", max,
                                                   "], got ", it->dump()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view VariantName(Variant variant) {
  for (const auto& v : kVariants) {
    if (v.variant == variant) return v.name;
  }
  return "?";
}

absl::StatusOr<Variant> ParseVariant(absl::string_view name) {
  for (const auto& v : kVariants) {
    if (name == v.name) return v.variant;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown model variant '", name,
      "' (expected bilstm-crf, bert-bilstm-crf, nezha-bilstm-crf or nezha-df-bilstm-crf)"));
}

bool HasEncoder(Variant variant) { return variant != Variant::kBiLstmCrf; }

std::vector<std::string> ModelConfig::EntityTypes() const {
  std::vector<std::string> types;
  for (const std::string& label : labels) {
    if (label.size() < 3) continue;
    std::string type = label.substr(2);
    if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
  }
  return types;
}

int64_t ModelConfig::MaxTokens() const {
  return encoder && HasEncoder(variant) ? encoder->max_position_embeddings - 2 : max_chars;
}

int32_t ModelConfig::SegmentChars() const {
  return static_cast<int32_t>(std::min<int64_t>(max_chars, MaxTokens()));
}

absl::Status ModelConfig::Validate() const {
  if (HasEncoder(variant)) {
    if (!encoder) {
      return absl::InvalidArgumentError(
          absl::StrCat("variant ", VariantName(variant), " needs an encoder config"));
    }
    if (absl::Status s = encoder->Validate(); !s.ok()) return s;
    const EncoderKind want =
        variant == Variant::kBertBiLstmCrf ? EncoderKind::kBert : EncoderKind::kNezha;
    if (encoder->kind != want) {
      return absl::InvalidArgumentError(absl::StrCat("variant ", VariantName(variant),
                                                     " needs a ", std::string(EncoderKindName(want)),
                                                     " encoder"));
    }
    if (encoder->vocab_size != vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("encoder vocab_size ", encoder->vocab_size,
                                                     " != vocab_size ", vocab_size));
    }
    if (encoder->max_position_embeddings < 3) {
      return absl::InvalidArgumentError("encoder max_position_embeddings must be >= 3");
    }
  }
  if (vocab_size < 5) return absl::InvalidArgumentError("vocab_size must be >= 5");
  if (char_embedding_dim < 1 || lstm_hidden < 1) {
    return absl::InvalidArgumentError("char_embedding_dim and lstm_hidden must be positive");
  }
  if (bigram_buckets != 0) {
    if (HasEncoder(variant)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bigram features are for bilstm-crf only, not ", VariantName(variant)));
    }
    // Upper bounds: a clear error instead of an allocation of tens of GB.
    if (bigram_buckets < 2 || bigram_buckets > 100'000'000 || bigram_embedding_dim < 1 ||
        bigram_embedding_dim > 4096) {
      return absl::InvalidArgumentError(
          "bigram_buckets must be 0 (off) or in [2, 1e8], and bigram_embedding_dim in [1, 4096]");
    }
  }
  if (head_dropout < 0 || head_dropout >= 1) {
    return absl::InvalidArgumentError("head_dropout must be in [0, 1)");
  }
  if (max_chars < 1) return absl::InvalidArgumentError("max_chars must be >= 1");
  if (labels.size() < 2 || labels.front() != "O") {
    return absl::InvalidArgumentError("labels must start with \"O\" and name at least one type");
  }
  std::set<std::string> seen;
  for (const std::string& label : labels) {
    if (absl::Status s = ValidateTag(label, scheme); !s.ok()) return s;
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(absl::StrCat("label '", label, "' appears twice"));
    }
  }
  const std::vector<std::string> expected = LabelsFor(scheme, EntityTypes());
  if (std::set<std::string>(expected.begin(), expected.end()) != seen) {
    return absl::InvalidArgumentError(absl::StrCat(
        "labels are not the complete ", TagSchemeName(scheme), " label set of their types"));
  }
  return absl::OkStatus();
}

std::string ModelConfig::ToJson() const {
  json out = {
      {"format", kFormatName},
      {"format_version", kFormatVersion},
      {"variant", std::string(VariantName(variant))},
      {"vocab_size", vocab_size},
      {"head",
       {{"char_embedding_dim", char_embedding_dim},
        {"bigram_buckets", bigram_buckets},
        {"bigram_embedding_dim", bigram_embedding_dim},
        {"lstm_hidden", lstm_hidden},
        {"dropout", head_dropout},
        {"dynamic_fusion", dynamic_fusion()}}},
      {"tag_scheme", std::string(TagSchemeName(scheme))},
      {"labels", labels},
      {"max_chars", max_chars},
  };
  if (encoder) out["encoder"] = json::parse(encoder->ToJson());
  json provenance = provenance_json.empty()
                        ? json::object()
                        : json::parse(provenance_json, nullptr, /*allow_exceptions=*/false);
  out["provenance"] = provenance.is_discarded() ? json::object() : provenance;
  return out.dump(2);
}

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view text) {
  json in = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object()) {
    return absl::InvalidArgumentError("model config is not a JSON object");
  }
  // Compared as JSON values: a field of another type is a mismatch, not an exception.
  auto format = in.find("format");
  if (format == in.end() || *format != kFormatName) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ", kFormatName, " config (missing or wrong \"format\")"));
  }
  auto version = in.find("format_version");
  if (version == in.end() || *version != kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported format_version ", version == in.end() ? "(missing)" : version->dump()));
  }
  ModelConfig config;
  try {
    absl::StatusOr<Variant> variant = ParseVariant(in.at("variant").get<std::string>());
    if (!variant.ok()) return variant.status();
    config.variant = *variant;
    const json& head = in.at("head");
    int64_t max_chars = 0;
    for (const absl::Status& s :
         {ReadInt(in, "vocab_size", INT64_MIN, INT64_MAX, &config.vocab_size),
          ReadInt(head, "char_embedding_dim", INT64_MIN, INT64_MAX, &config.char_embedding_dim),
          ReadInt(head, "lstm_hidden", INT64_MIN, INT64_MAX, &config.lstm_hidden),
          ReadInt(in, "max_chars", INT32_MIN, INT32_MAX, &max_chars)}) {
      if (!s.ok()) return s;
    }
    config.max_chars = static_cast<int32_t>(max_chars);
    // Optional: checkpoints from before the bigram features have neither (= off).
    const std::pair<const char*, int64_t*> optional[] = {
        {"bigram_buckets", &config.bigram_buckets},
        {"bigram_embedding_dim", &config.bigram_embedding_dim}};
    for (const auto& [key, field] : optional) {
      if (!head.contains(key)) continue;
      if (absl::Status s = ReadInt(head, key, INT64_MIN, INT64_MAX, field); !s.ok()) return s;
    }
    config.head_dropout = head.at("dropout").get<double>();
    absl::StatusOr<TagScheme> scheme = ParseTagScheme(in.at("tag_scheme").get<std::string>());
    if (!scheme.ok()) return scheme.status();
    config.scheme = *scheme;
    config.labels = in.at("labels").get<std::vector<std::string>>();
    if (in.contains("encoder")) {
      absl::StatusOr<EncoderConfig> encoder = ParseEncoderConfig(in["encoder"].dump());
      if (!encoder.ok()) return encoder.status();
      config.encoder = *encoder;
    }
    if (in.contains("provenance")) config.provenance_json = in["provenance"].dump();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("model config: ", e.what()));
  }
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return config;
}

ModelConfig MakeModelConfig(Variant variant, const EncoderConfig& encoder, TagScheme scheme,
                            const std::vector<std::string>& types) {
  ModelConfig config;
  config.variant = variant;
  if (HasEncoder(variant)) {
    config.encoder = encoder;
    config.encoder->kind =
        variant == Variant::kBertBiLstmCrf ? EncoderKind::kBert : EncoderKind::kNezha;
  }
  config.vocab_size = encoder.vocab_size;
  config.scheme = scheme;
  config.labels = LabelsFor(scheme, types);
  return config;
}

}  // namespace ner::model
