#include "server/model_registry.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "model/log.h"
#include "nlohmann/json.hpp"
#include "server/fingerprint.h"
#include "server/root_path.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;

std::optional<double> DevF1FromProvenance(const std::string& provenance_json) {
  if (provenance_json.empty()) return std::nullopt;
  const nlohmann::json json =
      nlohmann::json::parse(provenance_json, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  // `ner train` writes {"metrics": {"dev": {"f1": ...}}}; a flat "dev_f1" is accepted too.
  if (const auto metrics = json.find("metrics"); metrics != json.end() && metrics->is_object()) {
    if (const auto dev = metrics->find("dev"); dev != metrics->end() && dev->is_object()) {
      if (const auto f1 = dev->find("f1"); f1 != dev->end() && f1->is_number()) {
        return f1->get<double>();
      }
    }
  }
  const auto it = json.find("dev_f1");
  if (it == json.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

absl::Status WithContext(const absl::Status& status, absl::string_view name) {
  return absl::Status(status.code(),
                      absl::StrCat("loading model '", name, "': ", status.message()));
}

}  // namespace

bool ServedModel::HasEntityType(absl::string_view type) const {
  return std::binary_search(entity_types.begin(), entity_types.end(), type,
                            [](absl::string_view a, absl::string_view b) { return a < b; });
}

absl::Status ValidateModelName(absl::string_view name) {
  const bool ok = !name.empty() && name.size() <= 64 && absl::ascii_isalnum(name[0]) &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
                  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("model name '", name,
                   "' is invalid: use 1 to 64 characters of [A-Za-z0-9._-], starting with a "
                   "letter or digit"));
}

absl::Status ModelRegistryOptions::Validate() const {
  if (model_root.empty()) return absl::InvalidArgumentError("model_root is empty");
  if (absl::Status s = ValidateModelName(default_model_name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("default_model_name: ", s.message()));
  }
  if (self_test_text.empty()) return absl::InvalidArgumentError("self_test_text is empty");
  if (max_models < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_models must be >= 1, got ", max_models));
  }
  if (max_forward_tokens.has_value() && *max_forward_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_forward_tokens must be >= 0 (0 = the whole batch), got ", *max_forward_tokens));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Create(
    const ModelRegistryOptions& options, ModelRegistryObserver* observer) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::error_code ec;
  if (!fs::is_directory(options.model_root, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("model root '", options.model_root, "' is not a directory"));
  }
  return std::unique_ptr<ModelRegistry>(new ModelRegistry(options, observer));
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelRegistry::Get(
    absl::string_view name) const {
  const std::string key = name.empty() ? options_.default_model_name : std::string(name);
  {
    absl::ReaderMutexLock lock(&mu_);
    const auto it = models_.find(key);
    if (it != models_.end()) return it->second;
  }
  if (name.empty()) {
    return absl::UnavailableError(
        absl::StrCat("no default model ('", key, "') is loaded yet; load one with LoadModel"));
  }
  return absl::NotFoundError(absl::StrCat("no model named '", name, "' is loaded; see ListModels"));
}

std::vector<std::shared_ptr<const ServedModel>> ModelRegistry::List() const {
  std::vector<std::shared_ptr<const ServedModel>> models;
  absl::ReaderMutexLock lock(&mu_);
  models.reserve(models_.size());
  for (const auto& [name, model] : models_) models.push_back(model);
  return models;
}

bool ModelRegistry::HasDefaultModel() const {
  absl::ReaderMutexLock lock(&mu_);
  return models_.count(options_.default_model_name) > 0;
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelRegistry::Build(
    absl::string_view name, absl::string_view path) const {
  if (absl::Status s = ValidateModelName(name); !s.ok()) return s;
  absl::StatusOr<std::string> dir = ResolveUnderRoot(options_.model_root, path);
  if (!dir.ok()) return dir.status();

  // Fingerprint first: if the files change while loading, the version is at worst stale for
  // weights that are not served (the self-test would have to pass on a torn read as well).
  absl::StatusOr<std::string> version =
      FingerprintFiles({*dir + "/config.json", *dir + "/vocab.txt", *dir + "/model.safetensors"});
  if (!version.ok()) return version.status();

  absl::StatusOr<model::Checkpoint> checkpoint = model::LoadCheckpoint(*dir, options_.load);
  if (!checkpoint.ok()) return checkpoint.status();
  auto shared = std::make_shared<const model::Checkpoint>(*std::move(checkpoint));
  model::Recognizer::Options recognizer_options;
  if (options_.max_forward_tokens.has_value()) {
    recognizer_options.max_forward_tokens = *options_.max_forward_tokens;
  }
  absl::StatusOr<std::unique_ptr<model::Recognizer>> recognizer =
      model::Recognizer::Create(shared, recognizer_options);
  if (!recognizer.ok()) return recognizer.status();

  absl::StatusOr<std::vector<std::vector<model::RecognizedEntity>>> probe =
      (*recognizer)->Recognize({options_.self_test_text});
  if (!probe.ok()) {
    return absl::InternalError(absl::StrCat("the self-test on '", options_.self_test_text,
                                            "' failed: ", probe.status().message()));
  }

  auto served = std::make_shared<ServedModel>();
  served->name = std::string(name);
  served->version = *std::move(version);
  served->path = fs::path(std::string(path)).lexically_normal().string();
  served->loaded_at = absl::Now();
  served->entity_types = shared->config.EntityTypes();
  std::sort(served->entity_types.begin(), served->entity_types.end());
  served->entity_types.erase(std::unique(served->entity_types.begin(), served->entity_types.end()),
                             served->entity_types.end());
  served->dev_f1 = DevF1FromProvenance(shared->config.provenance_json);
  served->checkpoint = std::move(shared);
  served->recognizer = *std::move(recognizer);
  return served;
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelRegistry::Load(absl::string_view name,
                                                                       absl::string_view path) {
  absl::MutexLock load_lock(&load_mu_);
  {
    // Loads run one at a time, so the count cannot grow between this check and the swap.
    absl::MutexLock lock(&mu_);
    if (models_.count(std::string(name)) == 0 &&
        static_cast<int>(models_.size()) >= options_.max_models) {
      const absl::Status status = absl::ResourceExhaustedError(absl::StrCat(
          "cannot load model '", name, "': ", models_.size(),
          " models are serving, the most this server holds (--max_models); unload one or load "
          "under a served name to replace it"));
      LogWarning(status.message());
      if (observer_ != nullptr) observer_->OnModelLoadFailed(name, status);
      return status;
    }
  }
  absl::StatusOr<std::shared_ptr<const ServedModel>> built = Build(name, path);
  if (!built.ok()) {
    const absl::Status status = WithContext(built.status(), name);
    LogWarning(status.message());
    if (observer_ != nullptr) observer_->OnModelLoadFailed(name, status);
    return status;
  }
  std::shared_ptr<const ServedModel> replaced = *built;
  {
    absl::MutexLock lock(&mu_);
    models_[std::string(name)].swap(replaced);
  }
  LogInfo(absl::StrCat(
      "model '", name, "' version ", (*built)->version, " from '", (*built)->path, "' is serving",
      replaced ? absl::StrCat(" (replaced version ", replaced->version, ")") : std::string()));
  if (observer_ != nullptr) observer_->OnModelLoaded(**built, replaced.get());
  // `replaced` is freed here, outside the lock, unless requests still hold it.
  return built;
}

absl::StatusOr<std::shared_ptr<const ServedModel>> ModelRegistry::Unload(absl::string_view name) {
  if (name == options_.default_model_name) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", name,
        "' is the default model and cannot be unloaded (readiness depends on it); load another "
        "checkpoint under its name instead"));
  }
  absl::MutexLock load_lock(&load_mu_);
  std::shared_ptr<const ServedModel> removed;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(std::string(name));
    if (it == models_.end())
      return absl::NotFoundError(absl::StrCat("no model named '", name, "'"));
    removed = std::move(it->second);
    models_.erase(it);
  }
  LogInfo(absl::StrCat("model '", name, "' version ", removed->version, " from '", removed->path,
                       "' is unloaded"));
  if (observer_ != nullptr) observer_->OnModelUnloaded(*removed);
  return removed;
}

}  // namespace ner::server
