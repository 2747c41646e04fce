#ifndef NER_MODEL_TEXT_VECTORS_H_
#define NER_MODEL_TEXT_VECTORS_H_

// Pretrained embedding vectors in the word2vec text format, the format in which published
// Chinese character and bigram vectors are distributed and `ner embed` writes its own:
//
//   <rows> <dim>              optional header line
//   <key> <v1> ... <v_dim>    one row per line, separated by spaces or tabs
//
// No LibTorch here; the model side (which rows of which table a key fills) is in train_setup.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace ner::model {

// Rows of `dim` floats with their keys, in file order.
struct TextVectors {
  int32_t dim = 0;
  std::vector<std::string> keys;
  std::vector<float> values;  // keys.size() * dim, row-major

  int64_t size() const { return static_cast<int64_t>(keys.size()); }
  absl::Span<const float> row(int64_t i) const {
    return absl::MakeConstSpan(values.data() + i * dim, dim);
  }
};

// The largest width ReadTextVectors accepts (a typo must not ask for gigabytes per row).
inline constexpr int32_t kMaxTextVectorDim = 4096;

// What ReadTextVectors saw besides the rows it kept.
struct TextVectorsReadStats {
  int64_t rows = 0;        // data rows in the file
  int64_t skipped = 0;     // rows `keep` rejected
  int64_t duplicates = 0;  // rows whose key an earlier row already had (the first one is kept)
};

// Reads `path` in the word2vec text format, streaming (files of published vectors are large),
// keeping the rows whose key `keep` accepts (all rows when `keep` is empty). The first line is a
// header when it is exactly two integers; the width is the header's or else the first row's, and
// every row must have exactly that many finite numbers. A UTF-8 byte-order mark, '\r' line ends
// and blank lines are tolerated. Errors name the file and line: NOT_FOUND (cannot open),
// INVALID_ARGUMENT (a malformed or ragged row, a non-finite value, a width above
// kMaxTextVectorDim, a header whose row count the file does not match, no rows at all).
absl::StatusOr<TextVectors> ReadTextVectors(
    const std::string& path, const std::function<bool(absl::string_view key)>& keep = {},
    TextVectorsReadStats* stats = nullptr);

// Writes `vectors` to `path` with a header, each value to 6 significant digits, atomically
// (WriteFileAtomically). INVALID_ARGUMENT when a key is empty or contains whitespace, or the
// values do not match keys x dim.
absl::Status WriteTextVectors(const std::string& path, const TextVectors& vectors);

// The embedding row of the character bigram (first, second) of vocabulary ids, -1 standing for
// "no character" (before the first or after the last one): ((first + 1) * (vocab_size + 1) +
// (second + 1)) mod buckets. The same function as NerModel's BigramBuckets (ner_model.h), one
// pair at a time; tests check that the two agree.
int64_t BigramBucket(int64_t first, int64_t second, int64_t vocab_size, int64_t buckets);

}  // namespace ner::model

#endif  // NER_MODEL_TEXT_VECTORS_H_
