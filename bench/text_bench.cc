// The text pipeline before the model, in characters (Unicode code points) per second:
//
//   Utf8/Validate, Utf8/Decode     ValidateUtf8 / DecodeUtf8 of the whole document
//   Segment                        SegmentText of the decoded document into 510-character pieces
//                                  (a base model's window: min(512, 512 - 2))
//   Tokenize                       Tokenizer::Tokenize of the decoded document in one call
//   Preprocess/document            decode + segment + tokenize each piece + shift the token
//                                  offsets, as Recognizer::Prepare does, for the one document
//   Preprocess/sentences           the same per sentence (one request per sentence, 47 chars)
//
// The text is People's Daily test.txt (4,636 sentences, 219,197 characters; Resume test as a
// fallback) from $NER_SHARED_DIR/data, sentences joined by '\n' into one document of ~0.66 MB;
// the vocabulary is data/vocab/bert-base-chinese-vocab.txt. Every benchmark is skipped with a
// message naming the file when the shared data is absent.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "model/segmenter.h"
#include "model/tokenizer.h"
#include "model/utf8.h"
#include "model/vocab.h"

namespace ner::bench {
namespace {

namespace fs = std::filesystem;

constexpr int32_t kPieceChars = 510;

// $NER_SHARED_DIR, else the checkout's sibling shared/ (baked in at build time), else
// ../shared relative to the working directory.
std::optional<fs::path> SharedDir() {
  const char* env = std::getenv("NER_SHARED_DIR");
  for (const char* dir : {env, NER_SHARED_DIR_DEFAULT, "../shared"}) {
    if (dir != nullptr && *dir != '\0' && fs::is_directory(dir)) return fs::path(dir);
  }
  return std::nullopt;
}

// The benchmark input, loaded once.
struct TextCorpus {
  std::vector<std::string> sentences;  // UTF-8, one per sentence of the char-per-line file
  std::string document;                // the sentences joined by '\n'
  int64_t document_chars = 0;          // code points in `document`
  std::unique_ptr<model::Tokenizer> tokenizer;
  std::string error;  // Non-empty when the data is missing; then the rest is empty.
};

// Reads a "char TAG" per line file: the first column of each line, a blank line ends a sentence.
std::vector<std::string> ReadSentences(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> sentences;
  std::string line, current;
  while (std::getline(in, line)) {
    const size_t space = line.find_first_of(" \t\r");
    const std::string first = line.substr(0, space);
    if (first.empty()) {
      if (!current.empty()) sentences.push_back(std::move(current));
      current.clear();
    } else {
      current += first;
    }
  }
  if (!current.empty()) sentences.push_back(std::move(current));
  return sentences;
}

TextCorpus LoadCorpus() {
  TextCorpus corpus;
  const std::optional<fs::path> shared = SharedDir();
  if (!shared) {
    corpus.error = "shared data not found: set NER_SHARED_DIR to the shared/ directory";
    return corpus;
  }
  const fs::path vocab_path = *shared / "data/vocab/bert-base-chinese-vocab.txt";
  absl::StatusOr<model::Vocab> vocab = model::Vocab::Load(vocab_path.string());
  if (!vocab.ok()) {
    corpus.error = absl::StrCat("cannot load ", vocab_path.string(), ": ",
                                vocab.status().ToString());
    return corpus;
  }
  for (const char* relative : {"data/peoples-daily/test.txt", "data/resume/test.char.bmes"}) {
    if (fs::exists(*shared / relative)) {
      corpus.sentences = ReadSentences(*shared / relative);
      break;
    }
  }
  if (corpus.sentences.empty()) {
    corpus.error = absl::StrCat("no text: neither data/peoples-daily/test.txt nor ",
                                "data/resume/test.char.bmes under ", shared->string());
    return corpus;
  }
  corpus.document = absl::StrJoin(corpus.sentences, "\n");
  corpus.document_chars = model::CountCodePoints(corpus.document);
  corpus.tokenizer = std::make_unique<model::Tokenizer>(
      std::make_shared<const model::Vocab>(*std::move(vocab)));
  return corpus;
}

// The corpus, or nullptr after skipping `state` with the reason.
const TextCorpus* CorpusOrSkip(benchmark::State& state) {
  static const TextCorpus* const corpus = new TextCorpus(LoadCorpus());
  if (!corpus->error.empty()) {
    state.SkipWithError(corpus->error.c_str());
    return nullptr;
  }
  return corpus;
}

void ReportChars(benchmark::State& state, int64_t chars_per_iteration) {
  state.SetItemsProcessed(state.iterations() * chars_per_iteration);
  state.SetLabel("items = characters");
}

// What Recognizer::Prepare does with one text: its token count (to keep the work observable).
size_t Preprocess(absl::string_view text, const model::Tokenizer& tokenizer) {
  absl::StatusOr<model::DecodedText> decoded = model::DecodeUtf8(text);
  if (!decoded.ok()) return 0;
  const std::u32string_view cps(decoded->code_points);
  size_t tokens = 0;
  for (const model::TextPiece& piece : model::SegmentText(cps, kPieceChars)) {
    std::vector<model::Token> piece_tokens =
        tokenizer.Tokenize(cps.substr(piece.begin_char, piece.size()));
    for (model::Token& token : piece_tokens) {
      token.begin_char += piece.begin_char;
      token.end_char += piece.begin_char;
    }
    tokens += piece_tokens.size();
    benchmark::DoNotOptimize(piece_tokens.data());
  }
  return tokens;
}

void BM_Utf8Validate(benchmark::State& state) {
  const TextCorpus* corpus = CorpusOrSkip(state);
  if (corpus == nullptr) return;
  for (auto _ : state) {
    absl::Status status = model::ValidateUtf8(corpus->document);
    benchmark::DoNotOptimize(status);
  }
  ReportChars(state, corpus->document_chars);
}

void BM_Utf8Decode(benchmark::State& state) {
  const TextCorpus* corpus = CorpusOrSkip(state);
  if (corpus == nullptr) return;
  for (auto _ : state) {
    absl::StatusOr<model::DecodedText> decoded = model::DecodeUtf8(corpus->document);
    benchmark::DoNotOptimize(decoded->code_points.data());
  }
  ReportChars(state, corpus->document_chars);
}

void BM_Segment(benchmark::State& state) {
  const TextCorpus* corpus = CorpusOrSkip(state);
  if (corpus == nullptr) return;
  const std::u32string cps = model::DecodeUtf8(corpus->document)->code_points;
  for (auto _ : state) {
    std::vector<model::TextPiece> pieces = model::SegmentText(cps, kPieceChars);
    benchmark::DoNotOptimize(pieces.data());
  }
  ReportChars(state, corpus->document_chars);
}

void BM_Tokenize(benchmark::State& state) {
  const TextCorpus* corpus = CorpusOrSkip(state);
  if (corpus == nullptr) return;
  const std::u32string cps = model::DecodeUtf8(corpus->document)->code_points;
  for (auto _ : state) {
    std::vector<model::Token> tokens = corpus->tokenizer->Tokenize(cps);
    benchmark::DoNotOptimize(tokens.data());
  }
  ReportChars(state, corpus->document_chars);
}

void BM_PreprocessDocument(benchmark::State& state) {
  const TextCorpus* corpus = CorpusOrSkip(state);
  if (corpus == nullptr) return;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Preprocess(corpus->document, *corpus->tokenizer));
  }
  ReportChars(state, corpus->document_chars);
}

void BM_PreprocessSentences(benchmark::State& state) {
  const TextCorpus* corpus = CorpusOrSkip(state);
  if (corpus == nullptr) return;
  for (auto _ : state) {
    for (const std::string& sentence : corpus->sentences) {
      benchmark::DoNotOptimize(Preprocess(sentence, *corpus->tokenizer));
    }
  }
  // The document is the sentences plus one '\n' between each two.
  ReportChars(state,
              corpus->document_chars - static_cast<int64_t>(corpus->sentences.size()) + 1);
}

BENCHMARK(BM_Utf8Validate)->Name("Utf8/Validate")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Utf8Decode)->Name("Utf8/Decode")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Segment)->Name("Segment")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tokenize)->Name("Tokenize")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PreprocessDocument)->Name("Preprocess/document")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PreprocessSentences)->Name("Preprocess/sentences")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ner::bench
