#ifndef NER_MODEL_VOCAB_H_
#define NER_MODEL_VOCAB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// A BERT-style WordPiece vocabulary: one token per line, the line number is the id.
// Immutable after creation; thread-safe.
class Vocab {
 public:
  // Reads `path` (UTF-8, split on '\n' only: U+2028 is a legal token; a trailing '\r' is
  // stripped). Requires [PAD], [UNK], [CLS], [SEP] and [MASK]. When a token repeats, the first
  // id wins.
  static absl::StatusOr<Vocab> Load(const std::string& path);
  // Same from the file's contents; `origin` names the source in error messages.
  static absl::StatusOr<Vocab> Parse(absl::string_view contents, absl::string_view origin);

  // Id of `token`, or -1 when absent.
  int32_t Find(absl::string_view token) const;
  // Id of `token`, or the [UNK] id when absent.
  int32_t IdOrUnk(absl::string_view token) const;
  // Token text of `id` (must be in [0, size())).
  const std::string& Token(int32_t id) const { return tokens_[id]; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }

  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t mask_id() const { return mask_id_; }

  // The file's contents, one token per line (for writing a checkpoint's vocab.txt).
  std::string Serialize() const;

 private:
  std::vector<std::string> tokens_;
  absl::flat_hash_map<std::string, int32_t> ids_;  // Heterogeneous lookup by string_view.
  int32_t pad_id_ = -1, unk_id_ = -1, cls_id_ = -1, sep_id_ = -1, mask_id_ = -1;
};

}  // namespace ner::model

#endif  // NER_MODEL_VOCAB_H_
