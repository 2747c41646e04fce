#ifndef NER_MODEL_MLM_CORPUS_H_
#define NER_MODEL_MLM_CORPUS_H_

// Raw text for masked-language-model pretraining: corpus files -> tokenized, packed sequences ->
// a seeded train/validation split and per-epoch orders.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/tokenizer.h"

namespace ner::model {

// Expands a corpus spec into files: a comma-separated list of files and directories, where a
// directory stands for its `*.txt` files (not recursive). Sorted by path within each directory,
// in the given order otherwise. NOT_FOUND for a missing path; INVALID_ARGUMENT when nothing
// remains. Thread-safe.
absl::StatusOr<std::vector<std::string>> ListCorpusFiles(const std::string& spec);

// Packs lines (each a paragraph, review, ...) into sequences of at most `max_len` tokens:
//   [CLS] line_a [SEP] line_b [SEP] ... [SEP]
// Lines are added whole while they fit; a sequence is closed when the next line does not fit.
// A line longer than max_len - 2 tokens is cut at sentence ends (SegmentText) into pieces that
// fit, each packed like a line. Lines without tokens are skipped. Not thread-safe.
class SequencePacker {
 public:
  // `max_len` >= 3.
  SequencePacker(const Tokenizer& tokenizer, int32_t max_len);

  // Tokenizes and packs one line of decoded text.
  void AddLine(std::u32string_view text);
  // Closes the open sequence, if any. Call once after the last line.
  void Finish();

  // All packed ids back to back; sequence i is ids()[offsets()[i], offsets()[i + 1]).
  const std::vector<int32_t>& ids() const { return ids_; }
  const std::vector<int64_t>& offsets() const { return offsets_; }
  // Moves the results out, leaving the packer empty.
  void Release(std::vector<int32_t>* ids, std::vector<int64_t>* offsets);

 private:
  void AddTokens(const std::vector<Token>& tokens);
  void Close();

  const Tokenizer& tokenizer_;
  int32_t max_len_;
  std::vector<int32_t> ids_;
  std::vector<int64_t> offsets_{0};
  bool open_ = false;  // Whether ids_ ends in an unfinished sequence.
};

// What PackCorpus reads.
struct CorpusOptions {
  int32_t max_len = 128;             // Tokens per sequence, [CLS] and [SEP] included; >= 3.
  std::optional<int64_t> max_lines;  // Stop after this many lines (all files together).

  absl::Status Validate() const;
};

// A tokenized, packed corpus held in memory (4 bytes per token). Immutable; thread-safe.
class PackedCorpus {
 public:
  PackedCorpus() = default;
  PackedCorpus(std::vector<int32_t> ids, std::vector<int64_t> offsets, int64_t lines)
      : ids_(std::move(ids)), offsets_(std::move(offsets)), lines_(lines) {}

  int64_t size() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  int64_t num_tokens() const { return static_cast<int64_t>(ids_.size()); }
  int64_t num_lines() const { return lines_; }
  // Sequence `i` in [0, size()): [CLS] ... [SEP].
  absl::Span<const int32_t> sequence(int64_t i) const {
    return absl::MakeConstSpan(ids_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  const std::vector<int32_t>& ids() const { return ids_; }

 private:
  std::vector<int32_t> ids_;
  std::vector<int64_t> offsets_{0};
  int64_t lines_ = 0;
};

// Streams `files` line by line (never a whole file in memory), tokenizes and packs them in
// order. Lines that are not valid UTF-8 are skipped and counted in `invalid_lines` (may be
// null). NOT_FOUND when a file cannot be opened; INVALID_ARGUMENT when no sequence results.
absl::StatusOr<PackedCorpus> PackCorpus(const std::vector<std::string>& files,
                                        const Tokenizer& tokenizer, const CorpusOptions& options,
                                        int64_t* invalid_lines = nullptr);

// Sequence indices for training and validation: a seeded shuffle of [0, num_sequences) whose
// first `validation_sequences` (at most half of them) are held out, both parts sorted. Pure.
struct CorpusSplit {
  std::vector<int64_t> train;
  std::vector<int64_t> validation;
};
CorpusSplit SplitCorpus(int64_t num_sequences, int64_t validation_sequences, uint64_t seed);

// The order in which epoch `epoch` visits `train`: a shuffle seeded by (seed, epoch). Pure.
std::vector<int64_t> EpochOrder(const std::vector<int64_t>& train, int64_t epoch, uint64_t seed);

}  // namespace ner::model

#endif  // NER_MODEL_MLM_CORPUS_H_
