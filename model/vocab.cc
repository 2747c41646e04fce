#include "model/vocab.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "model/utf8.h"

namespace ner::model {

absl::StatusOr<Vocab> Vocab::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open vocabulary '", path, "'"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return Parse(buffer.str(), path);
}

absl::StatusOr<Vocab> Vocab::Parse(absl::string_view contents, absl::string_view origin) {
  if (absl::Status s = ValidateUtf8(contents); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("vocabulary '", origin, "': ", s.message()));
  }
  Vocab vocab;
  size_t start = 0;
  while (start < contents.size()) {
    size_t end = contents.find('\n', start);
    if (end == absl::string_view::npos) end = contents.size();
    absl::string_view line = contents.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto id = static_cast<int32_t>(vocab.tokens_.size());
    vocab.tokens_.emplace_back(line);
    vocab.ids_.emplace(std::string(line), id);  // First occurrence wins.
    start = end + 1;
  }
  if (vocab.tokens_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("vocabulary '", origin, "' is empty"));
  }
  struct Special {
    const char* name;
    int32_t* id;
  };
  for (const Special& special : {Special{"[PAD]", &vocab.pad_id_}, Special{"[UNK]", &vocab.unk_id_},
                                 Special{"[CLS]", &vocab.cls_id_}, Special{"[SEP]", &vocab.sep_id_},
                                 Special{"[MASK]", &vocab.mask_id_}}) {
    *special.id = vocab.Find(special.name);
    if (*special.id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocabulary '", origin, "' lacks the special token ", special.name));
    }
  }
  return vocab;
}

int32_t Vocab::Find(absl::string_view token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

int32_t Vocab::IdOrUnk(absl::string_view token) const {
  const int32_t id = Find(token);
  return id < 0 ? unk_id_ : id;
}

std::string Vocab::Serialize() const {
  std::string out;
  for (const std::string& token : tokens_) absl::StrAppend(&out, token, "\n");
  return out;
}

}  // namespace ner::model
