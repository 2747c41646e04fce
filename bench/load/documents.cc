#include "bench/load/documents.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ner::bench {
namespace {

// Joins consecutive documents until each has at least `min_chars` code points.
std::vector<std::string> JoinToLength(std::vector<std::string> documents, int min_chars) {
  if (min_chars <= 0) return documents;
  std::vector<std::string> joined;
  std::string current;
  for (std::string& document : documents) {
    current += document;
    if (CountCodePoints(current) >= min_chars) joined.push_back(std::move(current)), current = {};
  }
  if (!current.empty()) joined.push_back(std::move(current));
  return joined;
}

}  // namespace

absl::StatusOr<TextFormat> ParseTextFormat(absl::string_view name) {
  if (name == "lines") return TextFormat::kLines;
  if (name == "jsonl") return TextFormat::kJsonl;
  if (name == "column") return TextFormat::kColumn;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown text format \"", name, "\" (lines, jsonl, column)"));
}

int64_t CountCodePoints(absl::string_view text) {
  int64_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

absl::StatusOr<std::vector<std::string>> ReadDocuments(const std::string& path, TextFormat format,
                                                       int min_chars) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<std::string> documents;
  std::string line;
  std::string sentence;  // kColumn: the characters read so far
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const absl::string_view stripped = absl::StripAsciiWhitespace(line);
    switch (format) {
      case TextFormat::kLines:
        if (!stripped.empty()) documents.emplace_back(stripped);
        break;
      case TextFormat::kJsonl: {
        if (stripped.empty()) break;
        const nlohmann::json record = nlohmann::json::parse(stripped, nullptr, false);
        if (!record.is_object() || !record.contains("text") || !record["text"].is_string()) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ":", line_number, ": not a JSON object with a string field \"text\""));
        }
        documents.push_back(record["text"].get<std::string>());
        break;
      }
      case TextFormat::kColumn: {
        if (stripped.empty()) {
          if (!sentence.empty()) documents.push_back(std::move(sentence)), sentence = {};
          break;
        }
        const size_t space = stripped.find_first_of(" \t");
        if (space == absl::string_view::npos) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ":", line_number, ": expected \"CHAR TAG\""));
        }
        absl::StrAppend(&sentence, stripped.substr(0, space));
        break;
      }
    }
  }
  if (!sentence.empty()) documents.push_back(std::move(sentence));
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  if (documents.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no documents"));
  return JoinToLength(std::move(documents), min_chars);
}

}  // namespace ner::bench
