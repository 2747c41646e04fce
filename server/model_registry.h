#ifndef NER_SERVER_MODEL_REGISTRY_H_
#define NER_SERVER_MODEL_REGISTRY_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "model/checkpoint.h"
#include "model/recognizer.h"

namespace ner::server {

// A model ready to serve. Immutable once published; requests hold a shared_ptr to it, so a hot
// swap never pulls weights from under a running batch (they are freed with the last holder).
struct ServedModel {
  std::string name;     // serving name, e.g. "resume"
  std::string version;  // content fingerprint of the checkpoint files: equal = same weights
  std::string path;     // the checkpoint directory, relative to the model root, normalised
  absl::Time loaded_at;
  std::shared_ptr<const model::Checkpoint> checkpoint;
  std::unique_ptr<const model::Recognizer> recognizer;  // over `checkpoint`; thread-safe
  std::vector<std::string> entity_types;                // sorted, unique
  std::optional<double> dev_f1;  // "dev_f1" of the checkpoint's provenance, when recorded

  // True when `type` is one of entity_types.
  bool HasEntityType(absl::string_view type) const;
};

struct ModelRegistryOptions {
  // Directory that every checkpoint path is relative to; must exist.
  std::string model_root = ".";
  // Device and encoder dtype of loaded models.
  model::LoadOptions load;
  // Most padded tokens per forward pass (model::Recognizer::Options::max_forward_tokens):
  // nullopt = per model (kTransformerForwardTokens for transformer variants, one forward per
  // batch for bilstm-crf); 0 = one forward per batch.
  std::optional<int64_t> max_forward_tokens;
  // The name served when a request names no model.
  std::string default_model_name = "default";
  // Most models served at once, >= 1: loading a further name is RESOURCE_EXHAUSTED (replacing
  // a served name always works), so that clients cannot fill the memory with models.
  int max_models = 16;
  // Recognised after loading and before serving; a model that fails it is not served.
  std::string self_test_text = "张三在北京大学工作。";

  // INVALID_ARGUMENT naming the first bad field (also an invalid default_model_name).
  absl::Status Validate() const;
};

// Told about loads, e.g. to update metrics. Called after the registry changed, without its lock
// held, from the loading thread; must be thread-safe.
class ModelRegistryObserver {
 public:
  virtual ~ModelRegistryObserver() = default;
  // `model` now serves under its name, replacing `replaced` (null when the name was new).
  virtual void OnModelLoaded(const ServedModel& /*model*/, const ServedModel* /*replaced*/) {}
  // Loading `name` failed; what served before (if anything) still does.
  virtual void OnModelLoadFailed(absl::string_view /*name*/, const absl::Status& /*status*/) {}
  // `model` no longer serves (Unload).
  virtual void OnModelUnloaded(const ServedModel& /*model*/) {}
};

// The named models a server serves. Get() is a map lookup under a reader lock that copies a
// shared_ptr; Load() builds the new model outside the lock and publishes it with one pointer
// exchange. Thread-safe.
class ModelRegistry {
 public:
  // INVALID_ARGUMENT when `options` fail Validate(), FAILED_PRECONDITION when the model root is
  // not a directory. `observer` (not owned, may be null) must outlive the registry.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Create(
      const ModelRegistryOptions& options, ModelRegistryObserver* observer = nullptr);

  // The model serving under `name`; an empty name means the default model. NOT_FOUND for an
  // unknown name, UNAVAILABLE when the default model is asked for but not loaded (yet).
  absl::StatusOr<std::shared_ptr<const ServedModel>> Get(absl::string_view name) const;

  // Loads the checkpoint at `path` (relative to the model root), self-tests it and serves it
  // under `name`, replacing a model of that name. On any failure the previous model (if any)
  // keeps serving and the error says what failed: INVALID_ARGUMENT (bad name or path, corrupt
  // checkpoint), PERMISSION_DENIED (path escapes the root), NOT_FOUND (no checkpoint there),
  // INTERNAL (the self-test failed), RESOURCE_EXHAUSTED (a new name beyond max_models). Loads
  // run one at a time; Get() is never blocked by one.
  absl::StatusOr<std::shared_ptr<const ServedModel>> Load(absl::string_view name,
                                                          absl::string_view path);

  // Stops serving `name` and returns the model it served; requests holding it finish on it.
  // NOT_FOUND for an unknown name, FAILED_PRECONDITION for the default model's name (readiness
  // depends on it: replace it with Load instead). Waits for a load in progress.
  absl::StatusOr<std::shared_ptr<const ServedModel>> Unload(absl::string_view name);

  // All models, sorted by name.
  std::vector<std::shared_ptr<const ServedModel>> List() const;

  // True when a model serves under default_model_name().
  bool HasDefaultModel() const;
  const std::string& default_model_name() const { return options_.default_model_name; }
  const ModelRegistryOptions& options() const { return options_; }

 private:
  ModelRegistry(const ModelRegistryOptions& options, ModelRegistryObserver* observer)
      : options_(options), observer_(observer) {}

  // Everything of Load but the publication.
  absl::StatusOr<std::shared_ptr<const ServedModel>> Build(absl::string_view name,
                                                           absl::string_view path) const;

  const ModelRegistryOptions options_;
  ModelRegistryObserver* const observer_;
  absl::Mutex load_mu_;  // serialises Load(): one checkpoint in memory at a time
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const ServedModel>> models_ ABSL_GUARDED_BY(mu_);
};

// OK when `name` can name a model: 1 to 64 characters of [A-Za-z0-9._-], starting with a letter
// or digit; INVALID_ARGUMENT otherwise.
absl::Status ValidateModelName(absl::string_view name);

}  // namespace ner::server

#endif  // NER_SERVER_MODEL_REGISTRY_H_
