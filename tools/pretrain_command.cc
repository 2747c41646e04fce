// `ner pretrain --corpus DIR_OR_FILES --vocab FILE --out DIR ...`: masked-language-model
// pretraining of a NEZHA/BERT encoder on raw text. Wiring only: flags -> PretrainOptions.

#include <atomic>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "model/encoder_config.h"
#include "model/log.h"
#include "model/mlm_pretrainer.h"
#include "model/train_config.h"
#include "tools/command.h"
#include "tools/common_flags.h"

ABSL_FLAG(std::string, corpus, "",
          "pretrain: raw text, one paragraph per line: comma-separated files and directories "
          "(a directory means its *.txt files).");
ABSL_FLAG(std::string, encoder_config, "",
          "pretrain: encoder shape as a HuggingFace config.json (file or directory); overrides "
          "--preset.");
ABSL_FLAG(int, max_len, 128, "pretrain: tokens per packed sequence, [CLS] and [SEP] included.");
ABSL_FLAG(double, lr, 5e-4, "pretrain: peak learning rate.");
ABSL_FLAG(double, weight_decay, 0.01, "pretrain: AdamW weight decay (not on biases/LayerNorm).");
ABSL_FLAG(double, max_grad_norm, 1.0, "pretrain: global gradient-norm clip.");
ABSL_FLAG(std::optional<int64_t>, warmup_steps, std::nullopt,
          "pretrain: linear warm-up steps; unset = 6% of the schedule.");
ABSL_FLAG(double, time_budget_minutes, 0,
          "pretrain: stop after this many minutes of wall time (0 = no limit; needs --max_steps "
          "then). Without --max_steps the learning-rate schedule is fitted to the budget.");
ABSL_FLAG(double, mask_prob, 0.15, "pretrain: share of tokens chosen as MLM targets.");
ABSL_FLAG(bool, whole_word, false,
          "pretrain: mask whole WordPiece words (a token and its ## continuations); Chinese "
          "characters are single tokens, so this only changes Latin/digit words.");
ABSL_FLAG(int64_t, validation_sequences, 256,
          "pretrain: held-out sequences for MLM loss/accuracy.");
ABSL_FLAG(std::optional<int64_t>, max_lines, std::nullopt,
          "pretrain: read at most this many corpus lines (quick runs).");
ABSL_FLAG(int64_t, log_every, 20, "pretrain: steps between progress lines.");
ABSL_FLAG(int64_t, eval_every, 500, "pretrain: steps between validation runs.");
ABSL_FLAG(double, checkpoint_minutes, 10, "pretrain: minutes between checkpoints.");
// Shared with `ner train` (defined in train_command.cc); pretraining has its own defaults.
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, vocab);
ABSL_DECLARE_FLAG(std::string, preset);
ABSL_DECLARE_FLAG(int, batch_size);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(int64_t, max_steps);
ABSL_DECLARE_FLAG(bool, resume);

namespace ner::tools {
namespace {

constexpr char kDefaultPreset[] = "nezha-tiny";
constexpr int kDefaultBatchSize = 32;

std::atomic<bool> g_pretrain_cancel{false};

// The first SIGINT/SIGTERM asks for a stop after the current step (which saves); the handler then
// resets itself, so a second one kills. Both calls are async-signal-safe.
void OnPretrainSignal(int signal) {
  g_pretrain_cancel.store(true);
  std::signal(signal, SIG_DFL);
}

absl::StatusOr<model::PretrainOptions> OptionsFromFlags() {
  model::PretrainOptions options;
  options.corpus = absl::GetFlag(FLAGS_corpus);
  options.vocab_path = absl::GetFlag(FLAGS_vocab);
  options.output_dir = absl::GetFlag(FLAGS_out);
  if (const std::string path = absl::GetFlag(FLAGS_encoder_config); !path.empty()) {
    absl::StatusOr<model::EncoderConfig> config = model::LoadEncoderConfig(path);
    if (!config.ok()) return config.status();
    options.encoder = *config;
  } else {
    absl::StatusOr<model::EncoderConfig> config = model::EncoderPreset(
        OnCommandLine("preset") ? absl::GetFlag(FLAGS_preset) : std::string(kDefaultPreset));
    if (!config.ok()) return config.status();
    options.encoder = *config;
  }
  options.corpus_options.max_len = absl::GetFlag(FLAGS_max_len);
  options.corpus_options.max_lines = absl::GetFlag(FLAGS_max_lines);
  options.masking.mask_prob = absl::GetFlag(FLAGS_mask_prob);
  options.masking.whole_word = absl::GetFlag(FLAGS_whole_word);
  options.batch_size =
      OnCommandLine("batch_size") ? absl::GetFlag(FLAGS_batch_size) : kDefaultBatchSize;
  options.learning_rate = absl::GetFlag(FLAGS_lr);
  options.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  options.max_grad_norm = absl::GetFlag(FLAGS_max_grad_norm);
  options.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  if (const int64_t steps = absl::GetFlag(FLAGS_max_steps); steps > 0) options.max_steps = steps;
  if (const double minutes = absl::GetFlag(FLAGS_time_budget_minutes); minutes > 0) {
    options.time_budget = absl::Seconds(minutes * 60.0);
  } else if (minutes < 0) {
    return absl::InvalidArgumentError("--time_budget_minutes must be >= 0");
  }
  options.seed = absl::GetFlag(FLAGS_seed);
  options.validation_sequences = absl::GetFlag(FLAGS_validation_sequences);
  options.log_every = absl::GetFlag(FLAGS_log_every);
  options.eval_every = absl::GetFlag(FLAGS_eval_every);
  options.checkpoint_interval = absl::Seconds(absl::GetFlag(FLAGS_checkpoint_minutes) * 60.0);
  options.resume = absl::GetFlag(FLAGS_resume);
  if (options.corpus.empty() || options.vocab_path.empty() || options.output_dir.empty()) {
    return absl::InvalidArgumentError("--corpus, --vocab and --out are required");
  }
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return options;
}

}  // namespace

absl::Status RunPretrain(const std::vector<std::string>& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args.front(), "'; pass files with --corpus"));
  }
  absl::StatusOr<model::PretrainOptions> options = OptionsFromFlags();
  if (!options.ok()) return options.status();

  g_pretrain_cancel = false;
  auto previous_int = std::signal(SIGINT, OnPretrainSignal);
  auto previous_term = std::signal(SIGTERM, OnPretrainSignal);
  model::PretrainEnvironment environment;
  environment.cancel = &g_pretrain_cancel;
  absl::StatusOr<model::PretrainResult> result = model::Pretrain(*options, environment);
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  if (!result.ok()) return result.status();

  const model::PretrainState& state = result->state;
  std::string summary = absl::StrFormat(
      "pretrained encoder in %s: step %d (%s), %d tokens seen, %.0f tokens/s", options->output_dir,
      state.step, result->stop_reason, state.tokens_seen, result->tokens_per_second);
  if (state.validation_loss) {
    absl::StrAppendFormat(&summary, ", validation loss %.4f accuracy %.4f at step %d",
                          *state.validation_loss, state.validation_accuracy.value_or(0),
                          state.validation_step.value_or(0));
  }
  LogInfo(summary);
  return absl::OkStatus();
}

}  // namespace ner::tools
