#include "model/mlm_corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "model/mlm_masking.h"
#include "model/segmenter.h"
#include "model/utf8.h"

namespace ner::model {

namespace fs = std::filesystem;

absl::StatusOr<std::vector<std::string>> ListCorpusFiles(const std::string& spec) {
  std::vector<std::string> files;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    const std::string path(absl::StripAsciiWhitespace(part));
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".txt") {
          found.push_back(entry.path().string());
        }
      }
      if (ec) return absl::InternalError(absl::StrCat("cannot list '", path, "': ", ec.message()));
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      return absl::NotFoundError(absl::StrCat("corpus path '", path, "' does not exist"));
    }
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no corpus files (*.txt) in '", spec, "'"));
  }
  return files;
}

SequencePacker::SequencePacker(const Tokenizer& tokenizer, int32_t max_len)
    : tokenizer_(tokenizer), max_len_(std::max(max_len, 3)) {}

void SequencePacker::AddLine(std::u32string_view text) {
  const int32_t room = max_len_ - 2;
  std::vector<Token> tokens = tokenizer_.Tokenize(text);
  if (static_cast<int32_t>(tokens.size()) <= room) {
    if (!tokens.empty()) AddTokens(tokens);
    return;
  }
  // A token covers at least one character, so a piece of `room` characters fits.
  for (const TextPiece& piece : SegmentText(text, room)) {
    tokens = tokenizer_.Tokenize(text.substr(piece.begin_char, piece.size()));
    if (!tokens.empty()) AddTokens(tokens);
  }
}

void SequencePacker::AddTokens(const std::vector<Token>& tokens) {
  const Vocab& vocab = tokenizer_.vocab();
  const auto count = static_cast<int64_t>(tokens.size());
  if (open_ && static_cast<int64_t>(ids_.size()) - offsets_.back() + count + 1 > max_len_) {
    Close();
  }
  if (!open_) {
    ids_.push_back(vocab.cls_id());
    open_ = true;
  }
  for (const Token& token : tokens) ids_.push_back(token.id);
  ids_.push_back(vocab.sep_id());
}

void SequencePacker::Close() {
  if (!open_) return;
  offsets_.push_back(static_cast<int64_t>(ids_.size()));
  open_ = false;
}

void SequencePacker::Finish() { Close(); }

void SequencePacker::Release(std::vector<int32_t>* ids, std::vector<int64_t>* offsets) {
  Close();
  *ids = std::move(ids_);
  *offsets = std::move(offsets_);
  ids_.clear();
  offsets_.assign(1, 0);
}

absl::Status CorpusOptions::Validate() const {
  if (max_len < 3) {
    return absl::InvalidArgumentError(absl::StrCat("max_len must be at least 3, got ", max_len));
  }
  if (max_lines.has_value() && *max_lines < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_lines must be positive, got ", *max_lines));
  }
  return absl::OkStatus();
}

absl::StatusOr<PackedCorpus> PackCorpus(const std::vector<std::string>& files,
                                        const Tokenizer& tokenizer, const CorpusOptions& options,
                                        int64_t* invalid_lines) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  SequencePacker packer(tokenizer, options.max_len);
  int64_t lines = 0;
  int64_t invalid = 0;
  std::string line;
  for (const std::string& path : files) {
    if (options.max_lines && lines >= *options.max_lines) break;
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open corpus file '", path, "'"));
    while (std::getline(in, line)) {
      if (options.max_lines && lines >= *options.max_lines) break;
      ++lines;
      absl::StatusOr<DecodedText> text = DecodeUtf8(absl::StripSuffix(line, "\r"));
      if (!text.ok()) {
        ++invalid;
        continue;
      }
      packer.AddLine(text->code_points);
    }
    if (in.bad()) return absl::InternalError(absl::StrCat("cannot read corpus file '", path, "'"));
  }
  if (invalid_lines != nullptr) *invalid_lines = invalid;
  std::vector<int32_t> ids;
  std::vector<int64_t> offsets;
  packer.Release(&ids, &offsets);
  if (offsets.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("the corpus (", files.size(), " file(s), ", lines, " lines) has no text"));
  }
  return PackedCorpus(std::move(ids), std::move(offsets), lines);
}

namespace {

void Shuffle(std::vector<int64_t>& values, uint64_t seed) {
  MlmRandom random(seed);
  for (size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[random.Below(i)]);
}

}  // namespace

CorpusSplit SplitCorpus(int64_t num_sequences, int64_t validation_sequences, uint64_t seed) {
  std::vector<int64_t> all(static_cast<size_t>(std::max<int64_t>(num_sequences, 0)));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  Shuffle(all, MixSeed(seed, 0x5e7a11da7aULL));
  const auto held = static_cast<size_t>(
      std::clamp<int64_t>(validation_sequences, 0, static_cast<int64_t>(all.size()) / 2));
  CorpusSplit split;
  split.validation.assign(all.begin(), all.begin() + held);
  split.train.assign(all.begin() + held, all.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

std::vector<int64_t> EpochOrder(const std::vector<int64_t>& train, int64_t epoch, uint64_t seed) {
  std::vector<int64_t> order = train;
  Shuffle(order, MixSeed(seed, 0xe90c4ULL, static_cast<uint64_t>(epoch)));
  return order;
}

}  // namespace ner::model
