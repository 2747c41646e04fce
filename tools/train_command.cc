// `ner train`: trains an NER model (see model/trainer.h) with a progress bar, Ctrl-C to stop.

#include <torch/torch.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/checkpoint.h"
#include "model/dataset.h"
#include "model/device.h"
#include "model/file_util.h"
#include "model/log.h"
#include "model/train_config.h"
#include "model/train_setup.h"
#include "model/trainer.h"
#include "model/vocab.h"
#include "tools/command.h"
#include "tools/common_flags.h"
#include "tools/progress_bar.h"

ABSL_FLAG(std::string, train, "", "Training data (char-per-line or JSONL).");
ABSL_FLAG(std::string, dev, "", "Dev data, evaluated after each epoch to keep the best model.");
ABSL_FLAG(std::string, out, "", "Output directory: <out>/best and <out>/last are written there.");
ABSL_FLAG(std::vector<std::string>, config, {},
          "JSON files of training hyper-parameters (keys as in model/train_config.h), "
          "comma-separated, applied in order (a later file's keys win); training flags set to "
          "non-default values override them.");
ABSL_FLAG(std::string, init, "",
          "Pretrained encoder directory (HuggingFace-style config.json + model.safetensors or "
          "pytorch_model.bin, and vocab.txt) to start from; for bilstm-crf, its word embeddings "
          "become the character embeddings.");
ABSL_FLAG(std::string, char_vectors, "",
          "bilstm-crf: pretrained character vectors (word2vec text format, e.g. `ner embed`'s "
          "chars.vec) for the character embeddings; their width becomes char_embedding_dim.");
ABSL_FLAG(std::string, bigram_vectors, "",
          "bilstm-crf with bigram_buckets > 0: pretrained two-character vectors (word2vec text "
          "format, e.g. `ner embed`'s bigrams.vec) for the hashed bigram table.");
ABSL_FLAG(std::string, vocab, "",
          "Vocabulary file; defaults to <init>/vocab.txt. Required without --init.");
ABSL_FLAG(std::string, variant, "nezha-df-bilstm-crf",
          "Model: bilstm-crf, bert-bilstm-crf, nezha-bilstm-crf, nezha-df-bilstm-crf.");
ABSL_FLAG(std::string, preset, "nezha-base",
          "Encoder shape without --init: nezha-tiny, nezha-base, bert-base.");
ABSL_FLAG(int, epochs, 8, "Epochs.");
ABSL_FLAG(int, batch_size, 16, "Sequences per optimizer step.");
ABSL_FLAG(double, encoder_lr, 5e-5, "Peak learning rate of the encoder.");
ABSL_FLAG(double, head_lr, 1e-4, "Peak learning rate of fusion, BiLSTM, CRF (and embeddings).");
ABSL_FLAG(std::string, adversarial, "fgm", "Adversarial training: none, fgm, fgsm, pgd.");
ABSL_FLAG(double, epsilon, 1.0, "Adversarial perturbation size.");
ABSL_FLAG(uint64_t, seed, 42, "Random seed (initialisation, batches, dropout).");
ABSL_FLAG(int64_t, max_steps, 0, "Stop after this many optimizer steps (smoke runs); 0 = all.");
ABSL_FLAG(bool, resume, false, "Continue the run in <out>/last after its last finished epoch.");
ABSL_DECLARE_FLAG(std::string, device);

namespace ner::tools {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_cancel{false};

void OnInterrupt(int) { g_cancel.store(true); }

// Whether flag `name` was set to something other than its default. (This abseil keeps
// IsSpecifiedOnCommandLine private, so a flag repeating its default does not override --config.)
bool Given(const char* name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && flag->CurrentValue() != flag->DefaultValue();
}

// Defaults, then --config, then the flags set to non-default values.
absl::StatusOr<model::TrainConfig> ConfigFromFlags() {
  model::TrainConfig config;
  for (const std::string& path : absl::GetFlag(FLAGS_config)) {
    absl::StatusOr<std::string> text = model::ReadFileToString(path, 1 << 20);
    if (!text.ok()) return text.status();
    if (absl::Status s = model::ApplyTrainConfigJson(*text, &config); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
  }
  if (Given("variant")) {
    absl::StatusOr<model::Variant> variant = model::ParseVariant(absl::GetFlag(FLAGS_variant));
    if (!variant.ok()) return variant.status();
    config.variant = *variant;
  }
  if (Given("preset")) config.preset = absl::GetFlag(FLAGS_preset);
  if (Given("epochs")) config.epochs = absl::GetFlag(FLAGS_epochs);
  if (Given("batch_size")) config.batch_size = absl::GetFlag(FLAGS_batch_size);
  if (Given("encoder_lr")) config.encoder_lr = absl::GetFlag(FLAGS_encoder_lr);
  if (Given("head_lr")) config.head_lr = absl::GetFlag(FLAGS_head_lr);
  if (Given("adversarial")) {
    absl::StatusOr<model::AdversarialMethod> method =
        model::ParseAdversarialMethod(absl::GetFlag(FLAGS_adversarial));
    if (!method.ok()) return method.status();
    config.adversarial.method = *method;
  }
  if (Given("epsilon")) config.adversarial.epsilon = absl::GetFlag(FLAGS_epsilon);
  if (Given("seed")) config.seed = absl::GetFlag(FLAGS_seed);
  if (Given("max_steps")) {
    const int64_t max_steps = absl::GetFlag(FLAGS_max_steps);
    config.max_steps = max_steps > 0 ? std::optional<int64_t>(max_steps) : std::nullopt;
  }
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  return config;
}

absl::StatusOr<model::Dataset> Read(const std::string& path, const char* what) {
  absl::StatusOr<model::ReadOptions> options = DatasetReadOptionsFromFlags();
  if (!options.ok()) return options.status();
  absl::StatusOr<model::Dataset> dataset = model::ReadDataset(path, *options);
  if (!dataset.ok()) {
    return absl::Status(dataset.status().code(),
                        absl::StrCat(what, " data: ", dataset.status().message()));
  }
  return dataset;
}

// Builds the fresh model of a new run (model/train_setup.h) and logs what the user should know.
absl::StatusOr<model::Checkpoint> BuildModel(const model::TrainConfig& config,
                                             const model::Dataset& train,
                                             const model::Dataset& dev) {
  model::InitialModelSource source;
  source.vocab_path = absl::GetFlag(FLAGS_vocab);
  source.init = absl::GetFlag(FLAGS_init);
  source.char_vectors = absl::GetFlag(FLAGS_char_vectors);
  source.bigram_vectors = absl::GetFlag(FLAGS_bigram_vectors);
  if (source.vocab_path.empty() && source.init.empty()) {
    return absl::InvalidArgumentError("--vocab is required without --init");
  }
  std::vector<std::string> notes;
  absl::StatusOr<model::Checkpoint> checkpoint =
      model::BuildInitialModel(config, train.documents, dev.documents,
                               train.scheme.value_or(model::TagScheme::kBio), source, &notes);
  for (const std::string& note : notes) LogInfo(note);
  return checkpoint;
}

}  // namespace

absl::Status RunTrain(const std::vector<std::string>& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args[0], "'; see `ner --help`"));
  }
  model::TrainJob job;
  job.out_dir = absl::GetFlag(FLAGS_out);
  if (job.out_dir.empty()) return absl::InvalidArgumentError("--out is required");
  job.resume = absl::GetFlag(FLAGS_resume);
  job.train_path = absl::GetFlag(FLAGS_train);
  job.dev_path = absl::GetFlag(FLAGS_dev);
  // Provenance: where the initial weights came from (the init directory and/or the vectors).
  job.init_from = absl::GetFlag(FLAGS_init);
  for (const auto& [name, path] :
       {std::pair<const char*, std::string>{"char_vectors", absl::GetFlag(FLAGS_char_vectors)},
        {"bigram_vectors", absl::GetFlag(FLAGS_bigram_vectors)}}) {
    if (path.empty()) continue;
    absl::StrAppend(&job.init_from, job.init_from.empty() ? "" : ", ", name, "=", path);
  }
  absl::StatusOr<torch::Device> device = model::ParseDevice(absl::GetFlag(FLAGS_device));
  if (!device.ok()) return device.status();
  job.device = *device;

  if (job.resume) {
    // The run's own config and data paths, unless the data paths are given again.
    absl::StatusOr<std::string> text = model::ReadFileToString(
        (fs::path(job.out_dir) / "last" / "trainer_state.json").string(), 64 << 20);
    if (!text.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("nothing to resume in '", job.out_dir, "': ", text.status().message()));
    }
    absl::StatusOr<model::TrainerState> state = model::ParseTrainerState(*text);
    if (!state.ok()) return state.status();
    if (job.train_path.empty()) job.train_path = state->train_path;
    if (job.dev_path.empty()) job.dev_path = state->dev_path;
    LogInfo("resuming: the hyper-parameters saved with the run apply; training flags are ignored");
  }
  if (job.train_path.empty()) return absl::InvalidArgumentError("--train is required");
  absl::StatusOr<model::Dataset> train = Read(job.train_path, "training");
  if (!train.ok()) return train.status();
  model::Dataset dev;
  if (!job.dev_path.empty()) {
    absl::StatusOr<model::Dataset> read = Read(job.dev_path, "dev");
    if (!read.ok()) return read.status();
    dev = *std::move(read);
  } else {
    LogWarning("no --dev: every epoch is kept as the best and there is no early stopping");
  }

  if (!job.resume) {
    absl::StatusOr<model::TrainConfig> config = ConfigFromFlags();
    if (!config.ok()) return config.status();
    job.config = *config;
    absl::StatusOr<model::Checkpoint> initial = BuildModel(job.config, *train, dev);
    if (!initial.ok()) return initial.status();
    job.initial = *std::move(initial);
  }
  job.train = std::move(train->documents);
  job.dev = std::move(dev.documents);

  ProgressBar bar = ProgressBar::ForStderr();
  model::TrainHooks hooks;
  hooks.on_event = [&bar](const model::TrainEvent& event) { bar.OnEvent(event); };
  hooks.cancel = &g_cancel;
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  absl::StatusOr<model::TrainResult> result = model::Train(std::move(job), hooks);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!result.ok()) {
    if (absl::IsCancelled(result.status())) {
      return absl::CancelledError(absl::StrCat(result.status().message(),
                                               "; continue with `ner train --resume --out ",
                                               absl::GetFlag(FLAGS_out), "`"));
    }
    return result.status();
  }
  const model::TrainerState& state = result->state;
  std::string summary = absl::StrFormat("%s after %d epochs (%d steps)", state.stop_reason,
                                        state.epochs_completed, state.global_step);
  if (state.best_dev_f1) {
    absl::StrAppend(&summary, absl::StrFormat("; best dev F1 %.2f at epoch %d",
                                              100 * *state.best_dev_f1, state.best_epoch));
  }
  absl::StrAppend(&summary, "; best model: ", result->best_checkpoint);
  std::printf("%s\n", summary.c_str());
  return absl::OkStatus();
}

}  // namespace ner::tools
