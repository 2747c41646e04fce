#include "model/mlm_pretrainer.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/file_util.h"
#include "model/log.h"
#include "model/mlm_pretrain_loop.h"
#include "model/tokenizer.h"
#include "model/vocab.h"

namespace ner::model {
namespace {

namespace fs = std::filesystem;

// Checks `dir` before a fresh run: absent or empty, never someone else's files.
absl::Status CheckFreshOutput(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return absl::OkStatus();
  if (fs::exists(fs::path(dir) / kPretrainStateFile, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", dir,
                     "' already holds a pretraining run; pass --resume to continue it or choose "
                     "another output directory"));
  }
  if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", dir, "' exists and is not an empty directory; it would be replaced"));
  }
  return absl::OkStatus();
}

// The run's identity: the options for a fresh run, else the resumed directory's saved state
// and config.json (which win over the options).
absl::Status ResolveIdentity(const PretrainOptions& options, PretrainState* state,
                             EncoderConfig* encoder_config) {
  *encoder_config = options.encoder;
  state->seed = options.seed;
  state->masking = options.masking;
  state->max_len = options.corpus_options.max_len;
  state->validation_sequences = options.validation_sequences;
  if (!options.resume) return CheckFreshOutput(options.output_dir);
  absl::StatusOr<std::string> text =
      ReadFileToString(absl::StrCat(options.output_dir, "/", kPretrainStateFile), 1 << 20);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat("nothing to resume in '", options.output_dir, "': ", text.status().message()));
  }
  absl::StatusOr<PretrainState> saved = ParsePretrainState(*text);
  if (!saved.ok()) return saved.status();
  absl::StatusOr<EncoderConfig> saved_config = LoadEncoderConfig(options.output_dir);
  if (!saved_config.ok()) return saved_config.status();
  if (saved->seed != state->seed || saved->max_len != state->max_len ||
      saved->masking.mask_prob != state->masking.mask_prob ||
      saved->masking.whole_word != state->masking.whole_word) {
    LogInfo("resuming with the saved run's seed, max_len and masking, not the flags'");
  }
  *state = *saved;
  *encoder_config = *saved_config;
  return absl::OkStatus();
}

// The non-special ids that occur in the corpus: random replacements look like real text.
std::vector<int32_t> CorpusIds(const PackedCorpus& corpus, const MaskingVocab& vocab) {
  std::vector<bool> seen(vocab.size());
  for (int32_t id : corpus.ids()) {
    if (!vocab.is_special(id)) seen[id] = true;
  }
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    if (seen[id]) ids.push_back(id);
  }
  return ids;
}

// Packs the corpus and checks it against a resumed run's fingerprint; records it in `state`.
absl::StatusOr<PretrainData> LoadData(const PretrainOptions& options,
                                      std::shared_ptr<const Vocab> vocab, PretrainState* state) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(options.corpus);
  if (!files.ok()) return files.status();
  CorpusOptions corpus_options = options.corpus_options;
  corpus_options.max_len = state->max_len;
  int64_t invalid_lines = 0;
  absl::StatusOr<PackedCorpus> corpus =
      PackCorpus(*files, Tokenizer(vocab), corpus_options, &invalid_lines);
  if (!corpus.ok()) return corpus.status();
  LogInfo(absl::StrFormat(
      "corpus: %d file(s), %d lines (%d not UTF-8), %d sequences of <= %d tokens, %d tokens, "
      "packed in %.1fs",
      files->size(), corpus->num_lines(), invalid_lines, corpus->size(), state->max_len,
      corpus->num_tokens(), absl::ToDoubleSeconds(absl::Now() - start)));
  if (options.resume &&
      (state->num_sequences != corpus->size() || state->num_tokens != corpus->num_tokens())) {
    return absl::FailedPreconditionError(
        absl::StrCat("the corpus packs into ", corpus->size(), " sequences / ",
                     corpus->num_tokens(), " tokens but the resumed run had ", state->num_sequences,
                     " / ", state->num_tokens, "; resume with the same corpus and line cap"));
  }
  PretrainData data;
  data.split = SplitCorpus(corpus->size(), state->validation_sequences, state->seed);
  if (data.split.train.empty()) return absl::InvalidArgumentError("no training sequences");
  state->num_sequences = corpus->size();
  state->num_tokens = corpus->num_tokens();
  state->validation_sequences = static_cast<int64_t>(data.split.validation.size());
  data.masking_vocab.emplace(*vocab);
  if (absl::Status s = data.masking_vocab->set_random_ids(CorpusIds(*corpus, *data.masking_vocab));
      !s.ok()) {
    return s;
  }
  data.vocab = std::move(vocab);
  data.corpus = *std::move(corpus);
  return data;
}
}  // namespace

absl::Status PretrainOptions::Validate() const {
  if (corpus.empty()) return absl::InvalidArgumentError("no corpus given");
  if (vocab_path.empty()) return absl::InvalidArgumentError("no vocabulary given");
  if (output_dir.empty()) return absl::InvalidArgumentError("no output directory given");
  if (absl::Status s = encoder.Validate(); !s.ok()) return s;
  if (absl::Status s = corpus_options.Validate(); !s.ok()) return s;
  if (absl::Status s = masking.Validate(); !s.ok()) return s;
  auto bad = [](absl::string_view what, auto value) {
    return absl::InvalidArgumentError(absl::StrCat(what, ", got ", value));
  };
  if (batch_size < 1) return bad("batch_size must be positive", batch_size);
  if (!(learning_rate > 0)) return bad("learning_rate must be positive", learning_rate);
  if (weight_decay < 0) return bad("weight_decay must be >= 0", weight_decay);
  if (!(adam_beta1 >= 0 && adam_beta1 < 1)) return bad("adam_beta1 must be in [0, 1)", adam_beta1);
  if (!(adam_beta2 >= 0 && adam_beta2 < 1)) return bad("adam_beta2 must be in [0, 1)", adam_beta2);
  if (!(adam_epsilon > 0)) return bad("adam_epsilon must be positive", adam_epsilon);
  if (!(max_grad_norm > 0)) return bad("max_grad_norm must be positive", max_grad_norm);
  if (warmup_steps && *warmup_steps < 0) return bad("warmup_steps must be >= 0", *warmup_steps);
  if (max_steps && *max_steps < 1) return bad("max_steps must be positive", *max_steps);
  if (time_budget && *time_budget <= absl::ZeroDuration()) {
    return bad("time_budget must be positive", absl::FormatDuration(*time_budget));
  }
  if (!max_steps && !time_budget) {
    return absl::InvalidArgumentError("give max_steps, a time budget, or both");
  }
  if (validation_sequences < 0)
    return bad("validation_sequences must be >= 0", validation_sequences);
  if (log_every < 1) return bad("log_every must be positive", log_every);
  if (eval_every < 1) return bad("eval_every must be positive", eval_every);
  if (checkpoint_every_steps && *checkpoint_every_steps < 1) {
    return bad("checkpoint_every_steps must be positive", *checkpoint_every_steps);
  }
  if (checkpoint_interval <= absl::ZeroDuration()) {
    return bad("checkpoint_interval must be positive", absl::FormatDuration(checkpoint_interval));
  }
  return absl::OkStatus();
}

double PretrainLearningRate(double peak, int64_t step, int64_t warmup_steps,
                            int64_t schedule_steps) {
  if (step < warmup_steps) {
    return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  }
  if (step >= schedule_steps) return 0.0;
  return peak * static_cast<double>(schedule_steps - step) /
         static_cast<double>(std::max<int64_t>(1, schedule_steps - warmup_steps));
}

absl::StatusOr<PretrainResult> Pretrain(const PretrainOptions& options,
                                        const PretrainEnvironment& environment) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  const absl::Time start = environment.clock();
  absl::StatusOr<Vocab> vocab = Vocab::Load(options.vocab_path);
  if (!vocab.ok()) return vocab.status();
  PretrainState state;
  EncoderConfig encoder_config;
  if (absl::Status s = ResolveIdentity(options, &state, &encoder_config); !s.ok()) return s;
  if (encoder_config.vocab_size != vocab->size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the encoder's vocab_size is ", encoder_config.vocab_size, " but '",
                     options.vocab_path, "' has ", vocab->size(), " tokens"));
  }
  absl::StatusOr<PretrainData> data =
      LoadData(options, std::make_shared<const Vocab>(*std::move(vocab)), &state);
  if (!data.ok()) return data.status();
  try {
    return RunPretrainLoop(options, environment, start, *std::move(data), std::move(state),
                           encoder_config);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("pretraining failed: ", e.what_without_backtrace()));
  }
}

}  // namespace ner::model
