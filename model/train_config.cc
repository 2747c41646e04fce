#include "model/train_config.h"

#include <cmath>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

using json = nlohmann::json;

absl::Status Positive(absl::string_view name, double value) {
  if (value > 0 && std::isfinite(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(name, " must be > 0, not ", value));
}

template <typename T>
json Optional(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

// Setters per key; each reads its value from the JSON (throwing json::exception on a wrong
// type) and returns a Status for bad names.
using Setter = std::function<absl::Status(const json&, TrainConfig&)>;

template <typename T, typename Field>
Setter Plain(Field field) {
  return [field](const json& v, TrainConfig& c) {
    c.*field = v.get<T>();
    return absl::OkStatus();
  };
}

template <typename T, typename Field>
Setter Nullable(Field field) {
  return [field](const json& v, TrainConfig& c) {
    if (v.is_null()) {
      c.*field = std::nullopt;
    } else {
      c.*field = v.get<T>();
    }
    return absl::OkStatus();
  };
}

template <typename T>
Setter Adversarial(T AdversarialConfig::*field) {
  return [field](const json& v, TrainConfig& c) {
    c.adversarial.*field = v.get<T>();
    return absl::OkStatus();
  };
}

const std::map<std::string, Setter>& Setters() {
  static const auto* setters = new std::map<std::string, Setter>{
      {"epochs", Plain<int>(&TrainConfig::epochs)},
      {"batch_size", Plain<int>(&TrainConfig::batch_size)},
      {"encoder_lr", Plain<double>(&TrainConfig::encoder_lr)},
      {"head_lr", Plain<double>(&TrainConfig::head_lr)},
      {"weight_decay", Plain<double>(&TrainConfig::weight_decay)},
      {"adam_beta1", Plain<double>(&TrainConfig::adam_beta1)},
      {"adam_beta2", Plain<double>(&TrainConfig::adam_beta2)},
      {"adam_epsilon", Plain<double>(&TrainConfig::adam_epsilon)},
      {"warmup_fraction", Plain<double>(&TrainConfig::warmup_fraction)},
      {"lr_decay",
       [](const json& v, TrainConfig& c) -> absl::Status {
         absl::StatusOr<LrDecay> decay = ParseLrDecay(v.get<std::string>());
         if (!decay.ok()) return decay.status();
         c.lr_decay = *decay;
         return absl::OkStatus();
       }},
      {"decay_rate", Plain<double>(&TrainConfig::decay_rate)},
      {"max_grad_norm", Plain<double>(&TrainConfig::max_grad_norm)},
      {"seed", Plain<uint64_t>(&TrainConfig::seed)},
      {"max_steps", Nullable<int64_t>(&TrainConfig::max_steps)},
      {"early_stopping_patience", Nullable<int>(&TrainConfig::early_stopping_patience)},
      {"bucket_pool_batches", Plain<int>(&TrainConfig::bucket_pool_batches)},
      {"eval_batch_size", Plain<int>(&TrainConfig::eval_batch_size)},
      {"adversarial",
       [](const json& v, TrainConfig& c) -> absl::Status {
         absl::StatusOr<AdversarialMethod> method = ParseAdversarialMethod(v.get<std::string>());
         if (!method.ok()) return method.status();
         c.adversarial.method = *method;
         return absl::OkStatus();
       }},
      {"epsilon", Adversarial(&AdversarialConfig::epsilon)},
      {"pgd_steps", Adversarial(&AdversarialConfig::pgd_steps)},
      {"pgd_alpha", Adversarial(&AdversarialConfig::pgd_alpha)},
      {"variant",
       [](const json& v, TrainConfig& c) -> absl::Status {
         absl::StatusOr<Variant> variant = ParseVariant(v.get<std::string>());
         if (!variant.ok()) return variant.status();
         c.variant = *variant;
         return absl::OkStatus();
       }},
      {"preset", Plain<std::string>(&TrainConfig::preset)},
      {"lstm_hidden", Plain<int64_t>(&TrainConfig::lstm_hidden)},
      {"head_dropout", Plain<double>(&TrainConfig::head_dropout)},
      {"char_embedding_dim", Plain<int64_t>(&TrainConfig::char_embedding_dim)},
      {"bigram_buckets", Plain<int64_t>(&TrainConfig::bigram_buckets)},
      {"bigram_embedding_dim", Plain<int64_t>(&TrainConfig::bigram_embedding_dim)},
      {"max_chars", Plain<int32_t>(&TrainConfig::max_chars)},
      {"label_scheme",
       [](const json& v, TrainConfig& c) -> absl::Status {
         if (v.is_null() || v.get<std::string>() == "auto") {
           c.label_scheme = std::nullopt;
           return absl::OkStatus();
         }
         absl::StatusOr<TagScheme> scheme = ParseTagScheme(v.get<std::string>());
         if (!scheme.ok()) return scheme.status();
         c.label_scheme = *scheme;
         return absl::OkStatus();
       }},
  };
  return *setters;
}

}  // namespace

absl::Status TrainConfig::Validate() const {
  if (epochs < 1)
    return absl::InvalidArgumentError(absl::StrCat("epochs must be >= 1, not ", epochs));
  if (batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size must be >= 1, not ", batch_size));
  }
  for (const auto& [name, value] : {std::pair<const char*, double>{"encoder_lr", encoder_lr},
                                    {"head_lr", head_lr},
                                    {"adam_epsilon", adam_epsilon},
                                    {"max_grad_norm", max_grad_norm}}) {
    if (absl::Status s = Positive(name, value); !s.ok()) return s;
  }
  if (!(weight_decay >= 0 && std::isfinite(weight_decay))) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight_decay must be >= 0, not ", weight_decay));
  }
  if (!(adam_beta1 >= 0 && adam_beta1 < 1) || !(adam_beta2 >= 0 && adam_beta2 < 1)) {
    return absl::InvalidArgumentError("adam_beta1 and adam_beta2 must be in [0, 1)");
  }
  LrScheduleConfig schedule;
  schedule.warmup_fraction = warmup_fraction;
  schedule.decay_rate = decay_rate;
  if (absl::Status s = schedule.Validate(); !s.ok()) return s;
  if (max_steps && *max_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_steps must be >= 1, not ", *max_steps));
  }
  if (early_stopping_patience && *early_stopping_patience < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("early_stopping_patience must be >= 1, not ", *early_stopping_patience));
  }
  if (bucket_pool_batches < 1) {
    return absl::InvalidArgumentError("bucket_pool_batches must be >= 1");
  }
  if (eval_batch_size < 1) return absl::InvalidArgumentError("eval_batch_size must be >= 1");
  if (absl::Status s = adversarial.Validate(); !s.ok()) return s;
  if (HasEncoder(variant)) {
    if (absl::StatusOr<EncoderConfig> e = EncoderPreset(preset); !e.ok()) return e.status();
  }
  if (lstm_hidden < 1 || char_embedding_dim < 1 || max_chars < 1) {
    return absl::InvalidArgumentError("lstm_hidden, char_embedding_dim and max_chars must be >= 1");
  }
  if (!(head_dropout >= 0 && head_dropout < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("head_dropout must be in [0, 1), not ", head_dropout));
  }
  return absl::OkStatus();
}

std::string TrainConfig::ToJson() const {
  json out = {
      {"epochs", epochs},
      {"batch_size", batch_size},
      {"encoder_lr", encoder_lr},
      {"head_lr", head_lr},
      {"weight_decay", weight_decay},
      {"adam_beta1", adam_beta1},
      {"adam_beta2", adam_beta2},
      {"adam_epsilon", adam_epsilon},
      {"warmup_fraction", warmup_fraction},
      {"lr_decay", std::string(LrDecayName(lr_decay))},
      {"decay_rate", decay_rate},
      {"max_grad_norm", max_grad_norm},
      {"seed", seed},
      {"max_steps", Optional(max_steps)},
      {"early_stopping_patience", Optional(early_stopping_patience)},
      {"bucket_pool_batches", bucket_pool_batches},
      {"eval_batch_size", eval_batch_size},
      {"adversarial", std::string(AdversarialMethodName(adversarial.method))},
      {"epsilon", adversarial.epsilon},
      {"pgd_steps", adversarial.pgd_steps},
      {"pgd_alpha", adversarial.pgd_alpha},
      {"variant", std::string(VariantName(variant))},
      {"preset", preset},
      {"lstm_hidden", lstm_hidden},
      {"head_dropout", head_dropout},
      {"char_embedding_dim", char_embedding_dim},
      {"bigram_buckets", bigram_buckets},
      {"bigram_embedding_dim", bigram_embedding_dim},
      {"max_chars", max_chars},
      {"label_scheme",
       label_scheme ? json(std::string(TagSchemeName(*label_scheme))) : json(nullptr)},
  };
  return out.dump(2);
}

absl::Status ApplyTrainConfigJson(absl::string_view text, TrainConfig* config) {
  const json in = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object()) {
    return absl::InvalidArgumentError("train config is not a JSON object");
  }
  TrainConfig updated = *config;
  for (const auto& [key, value] : in.items()) {
    auto it = Setters().find(key);
    if (it == Setters().end()) {
      return absl::InvalidArgumentError(absl::StrCat("train config: unknown key '", key, "'"));
    }
    try {
      if (absl::Status s = it->second(value, updated); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("train config '", key, "': ", s.message()));
      }
    } catch (const json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("train config '", key, "': ", e.what()));
    }
  }
  *config = std::move(updated);
  return absl::OkStatus();
}

absl::StatusOr<TrainConfig> ParseTrainConfig(absl::string_view text) {
  TrainConfig config;
  if (absl::Status s = ApplyTrainConfigJson(text, &config); !s.ok()) return s;
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return config;
}

absl::StatusOr<EncoderConfig> EncoderPreset(absl::string_view name) {
  if (name == "nezha-tiny") return NezhaTinyPreset();
  if (name == "nezha-base") return NezhaBasePreset();
  if (name == "bert-tiny") return BertTinyPreset();
  if (name == "bert-base") return BertBasePreset();
  return absl::InvalidArgumentError(absl::StrCat(
      "preset must be nezha-tiny, nezha-base, bert-tiny or bert-base, not '", name, "'"));
}

absl::StatusOr<ModelConfig> ModelConfigForTraining(const TrainConfig& config,
                                                   const EncoderConfig& encoder,
                                                   TagScheme data_scheme,
                                                   const std::vector<std::string>& types,
                                                   int64_t vocab_size) {
  if (types.empty()) {
    return absl::InvalidArgumentError("the training data has no entities, so no labels");
  }
  EncoderConfig sized = encoder;
  sized.vocab_size = vocab_size;
  ModelConfig model =
      MakeModelConfig(config.variant, sized, config.label_scheme.value_or(data_scheme), types);
  model.vocab_size = vocab_size;
  model.lstm_hidden = config.lstm_hidden;
  model.head_dropout = config.head_dropout;
  model.char_embedding_dim = config.char_embedding_dim;
  model.bigram_buckets = config.bigram_buckets;
  model.bigram_embedding_dim = config.bigram_embedding_dim;
  model.max_chars = config.max_chars;
  if (absl::Status s = model.Validate(); !s.ok()) return s;
  return model;
}

}  // namespace ner::model
