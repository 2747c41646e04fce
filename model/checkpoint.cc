#include "model/checkpoint.h"

#include <filesystem>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "model/file_util.h"
#include "model/state_dict.h"

namespace ner::model {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigFile = "config.json";
constexpr const char* kVocabFile = "vocab.txt";
constexpr const char* kWeightsFile = "model.safetensors";

}  // namespace

std::map<std::string, torch::Tensor> ModelTensors(const NerModel& model) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : model->named_parameters()) tensors[item.key()] = item.value();
  for (const auto& item : model->named_buffers()) tensors[item.key()] = item.value();
  return tensors;
}

absl::Status SaveCheckpoint(const std::string& dir, const Checkpoint& checkpoint) {
  if (absl::Status s = checkpoint.config.Validate(); !s.ok()) return s;
  if (!checkpoint.model || checkpoint.vocab == nullptr) {
    return absl::InvalidArgumentError("checkpoint has no model or no vocabulary");
  }
  // The files are written into a temporary sibling directory that replaces `dir` in one rename.
  return ReplaceDirectoryAtomically(dir, [&](const std::string& temp) -> absl::Status {
    if (absl::Status s = WriteFileAtomically(temp + "/" + kConfigFile, checkpoint.config.ToJson());
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            WriteFileAtomically(temp + "/" + kVocabFile, checkpoint.vocab->Serialize());
        !s.ok()) {
      return s;
    }
    std::map<std::string, torch::Tensor> tensors;
    try {
      torch::NoGradGuard no_grad;
      for (auto& [name, tensor] : ModelTensors(checkpoint.model)) {
        tensors[name] = tensor.detach().to(torch::kCPU).contiguous();
      }
    } catch (const c10::Error& e) {
      return absl::InternalError(
          absl::StrCat("cannot copy weights for saving: ", e.what_without_backtrace()));
    }
    return SaveStateDict(
        temp + "/" + kWeightsFile, tensors,
        {{"format", "ner-service-checkpoint"},
         {"variant", std::string(VariantName(checkpoint.config.variant))}});
  });
}

absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& dir, const LoadOptions& options) {
  auto context = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("checkpoint '", dir, "': ", s.message()));
  };
  if (!fs::is_directory(dir)) {
    return absl::NotFoundError(absl::StrCat("checkpoint '", dir, "' is not a directory"));
  }
  absl::StatusOr<std::string> config_text = ReadFileToString(dir + "/" + kConfigFile, 16 << 20);
  if (!config_text.ok()) return context(config_text.status());
  absl::StatusOr<ModelConfig> config = ParseModelConfig(*config_text);
  if (!config.ok()) {
    return context(absl::Status(config.status().code(),
                                absl::StrCat(kConfigFile, ": ", config.status().message())));
  }
  absl::StatusOr<Vocab> vocab = Vocab::Load(dir + "/" + kVocabFile);
  if (!vocab.ok()) return context(vocab.status());
  if (vocab->size() != config->vocab_size) {
    return context(absl::InvalidArgumentError(absl::StrCat(
        "vocab.txt has ", vocab->size(), " tokens but the config says ", config->vocab_size)));
  }
  absl::StatusOr<std::map<std::string, torch::Tensor>> weights =
      LoadStateDict(dir + "/" + kWeightsFile);
  if (!weights.ok()) return context(weights.status());

  Checkpoint checkpoint;
  checkpoint.config = *config;
  checkpoint.vocab = std::make_shared<const Vocab>(*std::move(vocab));
  try {
    checkpoint.model = NerModel(checkpoint.config, checkpoint.vocab->cls_id(),
                                checkpoint.vocab->sep_id());
    std::vector<std::string> problems;
    std::map<std::string, torch::Tensor> own = ModelTensors(checkpoint.model);
    for (const auto& [name, tensor] : own) {
      auto it = weights->find(name);
      if (it == weights->end()) {
        problems.push_back(absl::StrCat("missing ", name));
      } else if (it->second.sizes() != tensor.sizes()) {
        problems.push_back(absl::StrCat("wrong shape for ", name, ": ",
                                        c10::str(it->second.sizes()), " instead of ",
                                        c10::str(tensor.sizes())));
      } else if (!it->second.is_floating_point() && tensor.is_floating_point()) {
        problems.push_back(absl::StrCat("non-float tensor for ", name));
      }
    }
    for (const auto& [name, tensor] : *weights) {
      if (own.count(name) == 0) problems.push_back(absl::StrCat("unexpected ", name));
    }
    if (!problems.empty()) {
      return context(absl::InvalidArgumentError(
          absl::StrCat("weights do not match the config: ", absl::StrJoin(problems, "; "))));
    }
    // Safetensors has no checksum. Trained weights are always finite, so a NaN or an infinity
    // means damaged bytes (or a diverged run): refuse it rather than serve a model that finds
    // nothing.
    for (const auto& [name, tensor] : *weights) {
      if (tensor.is_floating_point() && !torch::isfinite(tensor).all().item<bool>()) {
        problems.push_back(name);
      }
    }
    if (!problems.empty()) {
      return context(absl::InvalidArgumentError(
          absl::StrCat(kWeightsFile, " is corrupt: non-finite values (NaN or infinity) in ",
                       absl::StrJoin(problems, ", "))));
    }
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : own) tensor.copy_(weights->at(name));
    checkpoint.model->eval();
    checkpoint.model->to(options.device);
    checkpoint.model->SetEncoderDtype(options.encoder_dtype);
  } catch (const c10::Error& e) {
    return context(absl::InternalError(e.what_without_backtrace()));
  }
  return checkpoint;
}

absl::Status InitEncoderFromPretrained(const std::string& dir, NerModel& model,
                                       std::vector<std::string>* log) {
  if (!model->encoder()) {
    return absl::FailedPreconditionError(
        absl::StrCat(VariantName(model->config().variant), " has no encoder to initialise"));
  }
  absl::StatusOr<EncoderConfig> pretrained = LoadEncoderConfig(dir);
  if (!pretrained.ok()) return pretrained.status();
  const EncoderConfig& own = *model->config().encoder;
  if (pretrained->hidden_size != own.hidden_size ||
      pretrained->num_hidden_layers != own.num_hidden_layers ||
      pretrained->num_attention_heads != own.num_attention_heads ||
      pretrained->vocab_size != own.vocab_size || pretrained->kind != own.kind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pretrained encoder in '", dir, "' does not match the model's encoder (",
        std::string(EncoderKindName(pretrained->kind)), " ", pretrained->num_hidden_layers, "x",
        pretrained->hidden_size, ", vocab ", pretrained->vocab_size, " vs ",
        std::string(EncoderKindName(own.kind)), " ", own.num_hidden_layers, "x", own.hidden_size, ", vocab ",
        own.vocab_size, ")"));
  }
  absl::StatusOr<std::map<std::string, torch::Tensor>> weights = LoadStateDict(dir);
  if (!weights.ok()) return weights.status();
  return model->encoder()->LoadWeights(*weights, log);
}

absl::Status InitCharEmbeddingsFromPretrained(const std::string& dir, NerModel& model) {
  if (model->encoder()) {
    return absl::FailedPreconditionError(absl::StrCat(
        VariantName(model->config().variant), " has an encoder: use InitEncoderFromPretrained"));
  }
  absl::StatusOr<std::map<std::string, torch::Tensor>> weights = LoadStateDict(dir);
  if (!weights.ok()) return weights.status();
  // The names published checkpoints and `ner pretrain` use for the matrix.
  const torch::Tensor* source = nullptr;
  for (const auto& [key, tensor] : *weights) {
    absl::string_view name = key;
    absl::ConsumePrefix(&name, "module.");
    if (!absl::ConsumePrefix(&name, "encoder.") && !absl::ConsumePrefix(&name, "nezha.")) {
      absl::ConsumePrefix(&name, "bert.");
    }
    if (name == "embeddings.word_embeddings.weight") {
      source = &tensor;
      break;
    }
  }
  if (source == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", dir, "' has no embeddings.word_embeddings.weight to take character vectors from"));
  }
  torch::Tensor target = model->word_embeddings();
  if (source->sizes() != target.sizes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "word embeddings in '", dir, "' are [", absl::StrJoin(source->sizes(), ", "),
        "], the model's character embeddings [", absl::StrJoin(target.sizes(), ", "), "]"));
  }
  torch::NoGradGuard no_grad;
  target.copy_(*source);
  return absl::OkStatus();
}

}  // namespace ner::model
