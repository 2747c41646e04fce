// Fuzzes the vocabulary parser, the tokenizer and label alignment.
//
// The input is text (any bytes; see LossyDecodeUtf8). It is parsed as a vocabulary file, which
// must either fail cleanly or give a vocabulary that survives Serialize() and Parse(). It is then
// tokenized with a fixed small vocabulary and the Token invariants are checked. Brackets in the
// text mark entities, "[张三]在[北京]", which go through CharSpansToTokenTags and back.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fuzz/fuzz_util.h"
#include "model/char_class.h"
#include "model/entity.h"
#include "model/label_alignment.h"
#include "model/tag_scheme.h"
#include "model/tokenizer.h"
#include "model/vocab.h"

namespace ner::fuzz {
namespace {

// The special tokens plus characters and word pieces of the seed texts, so that lookups hit,
// miss, split into pieces and fail to split.
constexpr char kVocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
    "张\n三\n在\n北\n京\n工\n作\n，\n。\n!\n,\n(\n)\n[\n]\n😀\n"
    "a\nb\n##b\nip\n##hone\niphone\n##12\n20\n##21\n##2\n##1\nx\n##x\n";

const model::Tokenizer& SharedTokenizer() {
  static const model::Tokenizer* const tokenizer = [] {
    absl::StatusOr<model::Vocab> vocab = model::Vocab::Parse(kVocab, "kVocab");
    FUZZ_CHECK(vocab.ok());
    return new model::Tokenizer(std::make_shared<const model::Vocab>(*std::move(vocab)),
                                /*max_word_chars=*/12);
  }();
  return *tokenizer;
}

void CheckVocab(absl::string_view contents) {
  absl::StatusOr<model::Vocab> vocab = model::Vocab::Parse(contents, "fuzz");
  if (!vocab.ok()) return;
  FUZZ_CHECK(vocab->size() >= 5);
  for (int32_t id :
       {vocab->pad_id(), vocab->unk_id(), vocab->cls_id(), vocab->sep_id(), vocab->mask_id()}) {
    FUZZ_CHECK(id >= 0 && id < vocab->size());
  }
  bool ends_in_cr = false;
  for (int32_t id = 0; id < vocab->size(); ++id) {
    const int32_t found = vocab->Find(vocab->Token(id));
    FUZZ_CHECK(found >= 0 && found <= id && vocab->Token(found) == vocab->Token(id));
    const std::string& token = vocab->Token(id);
    ends_in_cr = ends_in_cr || (!token.empty() && token.back() == '\r');
  }
  // A token that still ends in '\r' after the CRLF strip cannot be written one per line.
  if (ends_in_cr) return;
  absl::StatusOr<model::Vocab> again = model::Vocab::Parse(vocab->Serialize(), "again");
  FUZZ_CHECK(again.ok() && again->size() == vocab->size());
  for (int32_t id = 0; id < vocab->size(); ++id) FUZZ_CHECK(again->Token(id) == vocab->Token(id));
}

void CheckTokens(const std::u32string& text, const std::vector<model::Token>& tokens,
                 int32_t vocab_size) {
  const auto n = static_cast<int32_t>(text.size());
  std::vector<bool> covered(text.size(), false);
  int32_t previous_end = 0;
  for (const model::Token& t : tokens) {
    FUZZ_CHECK(t.id >= 0 && t.id < vocab_size);
    FUZZ_CHECK(t.begin_char >= previous_end && t.begin_char < t.end_char && t.end_char <= n);
    previous_end = t.end_char;
    const char32_t first = text[t.begin_char];
    FUZZ_CHECK(!model::IsWhitespace(first) && !model::IsControl(first) &&
               !model::IsExtending(first));
    for (int32_t i = t.begin_char; i < t.end_char; ++i) {
      covered[i] = true;
      // A token is one character, or a run of word characters, plus extending characters.
      FUZZ_CHECK(i == t.begin_char || model::IsExtending(text[i]) ||
                 model::IsWordChar(model::NormalizeForLookup(text[i])));
    }
  }
  for (int32_t i = 0; i < n; ++i) {
    FUZZ_CHECK(covered[i] || model::IsWhitespace(text[i]) || model::IsControl(text[i]) ||
               model::IsExtending(text[i]));
  }
}

// "[...]" marks an entity over the characters inside the brackets; the type follows from its
// position so that neighbours of different types occur.
std::vector<model::EntitySpan> BracketEntities(const std::u32string& text) {
  std::vector<model::EntitySpan> entities;
  int32_t open = -1;
  for (int32_t i = 0; i < static_cast<int32_t>(text.size()); ++i) {
    if (text[i] == U'[') open = i;
    if (text[i] == U']' && open >= 0 && open + 1 < i) {
      entities.push_back({open + 1, i, i % 3 == 0 ? "PER" : i % 3 == 1 ? "LOC" : "ORG"});
      open = -1;
    }
  }
  return entities;
}

void CheckAlignment(const std::u32string& text, const std::vector<model::Token>& tokens) {
  const std::vector<model::EntitySpan> entities = BracketEntities(text);
  const auto scheme = static_cast<model::TagScheme>(text.size() % 3);
  const model::TokenTags tagged = model::CharSpansToTokenTags(tokens, entities, scheme);
  FUZZ_CHECK(tagged.tags.size() == tokens.size());
  FUZZ_CHECK(tagged.dropped >= 0 && tagged.dropped <= static_cast<int64_t>(entities.size()));
  for (const std::string& tag : tagged.tags) FUZZ_CHECK(model::ValidateTag(tag, scheme).ok());
  // Every entity that was not dropped is tagged, and decodes back.
  const std::vector<model::TagSpan> spans = model::TagsToSpans(tagged.tags);
  FUZZ_CHECK(static_cast<int64_t>(spans.size()) ==
             static_cast<int64_t>(entities.size()) - tagged.dropped);
  for (const model::EntitySpan& e : model::TokenSpansToCharSpans(tokens, spans)) {
    FUZZ_CHECK(e.begin_char >= 0 && e.begin_char < e.end_char &&
               e.end_char <= static_cast<int32_t>(text.size()));
  }
}

void FuzzTokenizer(absl::string_view bytes) {
  CheckVocab(bytes);
  const model::Tokenizer& tokenizer = SharedTokenizer();
  const std::u32string text = LossyDecodeUtf8(bytes);
  const std::vector<model::Token> tokens = tokenizer.Tokenize(text);
  CheckTokens(text, tokens, tokenizer.vocab().size());
  CheckAlignment(text, tokens);
}

}  // namespace
}  // namespace ner::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ner::fuzz::FuzzTokenizer(ner::fuzz::Bytes(data, size));
  return 0;
}
