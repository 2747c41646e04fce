// `ner embed --corpus DIR_OR_FILES --vocab FILE --out DIR ...`: character and character-bigram
// vectors by skip-gram with negative sampling (model/skipgram.h), written in the word2vec text
// format for `ner train --char_vectors DIR/chars.vec --bigram_vectors DIR/bigrams.vec`.
// Wiring only: flags -> SkipGramOptions -> files.

#include <atomic>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/file_util.h"
#include "model/log.h"
#include "model/mlm_corpus.h"
#include "model/runtime.h"
#include "model/skipgram.h"
#include "model/text_vectors.h"
#include "model/tokenizer.h"
#include "model/vocab.h"
#include "tools/command.h"
#include "tools/common_flags.h"

ABSL_FLAG(int, dim, 100, "embed: width of the character vectors.");
ABSL_FLAG(int, bigram_dim, 50, "embed: width of the bigram vectors; 0 = no bigram vectors.");
ABSL_FLAG(int, window, 5, "embed: context characters on each side.");
ABSL_FLAG(int, negative, 5, "embed: negative samples per context.");
ABSL_FLAG(int64_t, min_count, 5, "embed: characters and bigrams seen fewer times get no vector.");
ABSL_FLAG(double, sample, 1e-4, "embed: subsampling threshold of frequent tokens (0 = off).");
// Shared with `ner train` / `ner pretrain` (defined there); embedding has its own defaults.
ABSL_DECLARE_FLAG(std::string, corpus);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, vocab);
ABSL_DECLARE_FLAG(int, epochs);
ABSL_DECLARE_FLAG(double, lr);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(std::optional<int64_t>, max_lines);

namespace ner::tools {
namespace {

namespace fs = std::filesystem;

constexpr int kDefaultEpochs = 5;
constexpr double kDefaultLearningRate = 0.025;

std::atomic<bool> g_embed_cancel{false};

// The first SIGINT/SIGTERM asks for a stop (nothing is written); a second one kills.
void OnEmbedSignal(int signal) {
  g_embed_cancel.store(true);
  std::signal(signal, SIG_DFL);
}

absl::StatusOr<model::SkipGramOptions> OptionsFromFlags() {
  model::SkipGramOptions options;
  options.dim = absl::GetFlag(FLAGS_dim);
  options.bigram_dim = absl::GetFlag(FLAGS_bigram_dim);
  options.window = absl::GetFlag(FLAGS_window);
  options.negative = absl::GetFlag(FLAGS_negative);
  options.min_count = absl::GetFlag(FLAGS_min_count);
  options.sample = absl::GetFlag(FLAGS_sample);
  options.epochs = OnCommandLine("epochs") ? absl::GetFlag(FLAGS_epochs) : kDefaultEpochs;
  options.learning_rate = OnCommandLine("lr") ? absl::GetFlag(FLAGS_lr) : kDefaultLearningRate;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.threads = model::GetRuntimeInfo().intra_op_threads;
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return options;
}

}  // namespace

absl::Status RunEmbed(const std::vector<std::string>& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args.front(), "'; pass files with --corpus"));
  }
  const std::string corpus_spec = absl::GetFlag(FLAGS_corpus);
  const std::string vocab_path = absl::GetFlag(FLAGS_vocab);
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  if (corpus_spec.empty() || vocab_path.empty() || out_dir.empty()) {
    return absl::InvalidArgumentError("--corpus, --vocab and --out are required");
  }
  absl::StatusOr<model::SkipGramOptions> options = OptionsFromFlags();
  if (!options.ok()) return options.status();
  // Fail before minutes of training, not after, when the result could not be written there.
  if (std::error_code ec; fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--out '", out_dir, "' exists and is not a directory"));
  }

  absl::StatusOr<std::vector<std::string>> files = model::ListCorpusFiles(corpus_spec);
  if (!files.ok()) return files.status();
  absl::StatusOr<model::Vocab> vocab = model::Vocab::Load(vocab_path);
  if (!vocab.ok()) return vocab.status();
  const model::Tokenizer tokenizer(std::make_shared<const model::Vocab>(*std::move(vocab)));
  model::CorpusOptions corpus_options;
  corpus_options.max_len = 512;
  corpus_options.max_lines = absl::GetFlag(FLAGS_max_lines);
  int64_t invalid_lines = 0;
  absl::StatusOr<model::PackedCorpus> corpus =
      model::PackCorpus(*files, tokenizer, corpus_options, &invalid_lines);
  if (!corpus.ok()) return corpus.status();
  LogInfo(absl::StrFormat("embed: %d lines from %d files, %d tokens (%d lines not UTF-8, skipped)",
                          corpus->num_lines(), files->size(), corpus->num_tokens(), invalid_lines));

  g_embed_cancel = false;
  auto previous_int = std::signal(SIGINT, OnEmbedSignal);
  auto previous_term = std::signal(SIGTERM, OnEmbedSignal);
  absl::StatusOr<model::SkipGramResult> result = model::TrainSkipGram(
      *corpus, tokenizer, *options,
      [&](const model::SkipGramProgress& p) {
        const double share = static_cast<double>(p.positions_done) / p.positions_total;
        const double eta = share > 0 ? p.seconds * (1 - share) / share : 0;
        LogInfo(absl::StrFormat("embed: epoch %d/%d %3.0f%% %.2fM positions/s lr %.3g ETA %.0fs",
                                p.epoch, options->epochs, 100 * share,
                                p.positions_done / std::max(p.seconds, 1e-9) / 1e6, p.learning_rate,
                                eta));
      },
      &g_embed_cancel);
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  if (!result.ok()) return result.status();

  nlohmann::json meta = {
      {"format", "word2vec text"},
      {"chars", "chars.vec"},
      {"corpus", *files},
      {"vocab", vocab_path},
      {"lines", corpus->num_lines()},
      {"positions_per_epoch", result->positions},
      {"char_vectors", result->chars.size()},
      {"bigram_types", result->bigram_types},
      {"bigram_vectors", result->bigrams.size()},
      {"seconds", result->seconds},
      {"options",
       {{"dim", options->dim},
        {"bigram_dim", options->bigram_dim},
        {"window", options->window},
        {"negative", options->negative},
        {"epochs", options->epochs},
        {"min_count", options->min_count},
        {"sample", options->sample},
        {"learning_rate", options->learning_rate},
        {"threads", options->threads},
        {"seed", options->seed}}},
  };
  if (options->bigram_dim > 0) meta["bigrams"] = "bigrams.vec";
  absl::Status written = model::ReplaceDirectoryAtomically(out_dir, [&](const std::string& temp) {
    if (absl::Status s =
            model::WriteTextVectors((fs::path(temp) / "chars.vec").string(), result->chars);
        !s.ok()) {
      return s;
    }
    if (options->bigram_dim > 0) {
      if (absl::Status s =
              model::WriteTextVectors((fs::path(temp) / "bigrams.vec").string(), result->bigrams);
          !s.ok()) {
        return s;
      }
    }
    return model::WriteFileAtomically((fs::path(temp) / "embed.json").string(),
                                      meta.dump(2) + "\n");
  });
  if (!written.ok()) return written;
  LogInfo(absl::StrFormat(
      "embedded %d characters (%s/chars.vec) and %d bigrams (%s) in %.0f s, %.2fM positions/s",
      result->chars.size(), out_dir, result->bigrams.size(),
      options->bigram_dim > 0 ? out_dir + "/bigrams.vec" : "none", result->seconds,
      result->positions_per_second / 1e6));
  return absl::OkStatus();
}

}  // namespace ner::tools
