#include "model/dataset.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "model/file_util.h"
#include "model/segmenter.h"
#include "model/utf8.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

using json = nlohmann::json;

absl::Status LineError(absl::string_view origin, int64_t line, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(origin, ":", line, ": ", message));
}

// Iterates over lines split on '\n' with a trailing '\r' removed.
class LineReader {
 public:
  explicit LineReader(absl::string_view contents) : contents_(contents) {}
  bool Next(absl::string_view* line) {
    if (pos_ >= contents_.size()) return false;
    size_t end = contents_.find('\n', pos_);
    if (end == absl::string_view::npos) end = contents_.size();
    *line = contents_.substr(pos_, end - pos_);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    pos_ = end + 1;
    ++line_number_;
    return true;
  }
  int64_t line_number() const { return line_number_; }

 private:
  absl::string_view contents_;
  size_t pos_ = 0;
  int64_t line_number_ = 0;
};

struct RawSentence {
  int64_t first_line = 0;
  std::string text;
  std::vector<std::string> tags;
};

absl::StatusOr<Dataset> ParseCharPerLine(absl::string_view contents, absl::string_view origin,
                                         std::optional<TagScheme> scheme) {
  std::vector<RawSentence> sentences;
  RawSentence current;
  LineReader reader(contents);
  absl::string_view line;
  auto flush = [&] {
    if (!current.tags.empty()) sentences.push_back(std::move(current));
    current = RawSentence();
  };
  while (reader.Next(&line)) {
    const int64_t line_number = reader.line_number();
    if (absl::StripAsciiWhitespace(line).empty()) {
      flush();
      continue;
    }
    if (absl::Status s = ValidateUtf8(line); !s.ok()) {
      return LineError(origin, line_number, s.message());
    }
    const size_t sep = line.find_last_of(" \t");
    if (sep == absl::string_view::npos || sep == 0 || sep + 1 == line.size()) {
      return LineError(origin, line_number,
                       absl::StrCat("expected 'CHAR TAG', got '", line, "'"));
    }
    absl::string_view chars = line.substr(0, sep);
    // The tag follows the last separator, so the character itself may be a space ("  O");
    // extra separators before the tag are tolerated.
    if (chars.size() > 1 && (chars.back() == ' ' || chars.back() == '\t')) {
      chars = absl::StripTrailingAsciiWhitespace(chars);
      if (chars.empty()) chars = line.substr(0, 1);
    }
    if (CountCodePoints(chars) != 1) {
      return LineError(origin, line_number,
                       absl::StrCat("expected one character before the tag, got '", chars, "'"));
    }
    absl::string_view tag = line.substr(sep + 1);
    if (scheme) {
      if (absl::Status s = ValidateTag(tag, *scheme); !s.ok()) {
        return LineError(origin, line_number, s.message());
      }
    } else if (tag != "O" && (tag.size() < 3 || tag[1] != '-' ||
                              absl::string_view("BIMES").find(tag[0]) == absl::string_view::npos)) {
      return LineError(origin, line_number, absl::StrCat("malformed tag '", tag, "'"));
    }
    if (current.tags.empty()) current.first_line = line_number;
    absl::StrAppend(&current.text, chars);
    current.tags.emplace_back(tag);
  }
  flush();

  Dataset dataset;
  if (!scheme) {
    std::vector<std::string> all_tags;
    for (const RawSentence& s : sentences) {
      for (const std::string& t : s.tags) {
        if (t != "O") all_tags.push_back(t);
      }
    }
    scheme = DetectTagScheme(all_tags);
    // Detection picked a scheme: every tag must belong to it (mixing BIO and BMES is an error).
    for (const RawSentence& s : sentences) {
      for (size_t i = 0; i < s.tags.size(); ++i) {
        if (absl::Status st = ValidateTag(s.tags[i], *scheme); !st.ok()) {
          return LineError(origin, s.first_line + static_cast<int64_t>(i), st.message());
        }
      }
    }
  }
  dataset.scheme = scheme;
  dataset.documents.reserve(sentences.size());
  for (RawSentence& s : sentences) {
    Document doc;
    doc.id = absl::StrCat(s.first_line);
    doc.text = std::move(s.text);
    for (TagSpan& span : TagsToSpans(s.tags)) {
      const char first = s.tags[span.begin][0];
      if (first != 'B' && first != 'S') ++dataset.orphan_entities;
      doc.entities.push_back({span.begin, span.end, std::move(span.type)});
    }
    dataset.documents.push_back(std::move(doc));
  }
  return dataset;
}

absl::StatusOr<Dataset> ParseJsonl(absl::string_view contents, absl::string_view origin) {
  Dataset dataset;
  LineReader reader(contents);
  absl::string_view line;
  while (reader.Next(&line)) {
    const int64_t line_number = reader.line_number();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (absl::Status s = ValidateUtf8(line); !s.ok()) {
      return LineError(origin, line_number, s.message());
    }
    json object = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded() || !object.is_object()) {
      return LineError(origin, line_number, "not a JSON object");
    }
    Document doc;
    auto text = object.find("text");
    if (text == object.end() || !text->is_string()) {
      return LineError(origin, line_number, "missing string field \"text\"");
    }
    doc.text = text->get<std::string>();
    auto id = object.find("id");
    if (id == object.end() || id->is_null()) {
      doc.id = absl::StrCat(line_number);
    } else if (id->is_string()) {
      doc.id = id->get<std::string>();
    } else if (id->is_number_integer()) {
      doc.id = absl::StrCat(id->get<int64_t>());
    } else {
      return LineError(origin, line_number, "field \"id\" must be a string or an integer");
    }
    auto entities = object.find("entities");
    if (entities != object.end() && !entities->is_null()) {
      if (!entities->is_array()) {
        return LineError(origin, line_number, "field \"entities\" must be an array");
      }
      for (const json& e : *entities) {
        if (!e.is_object() || !e.contains("start") || !e.contains("end") ||
            !e.contains("type") || !e["start"].is_number_integer() ||
            !e["end"].is_number_integer() || !e["type"].is_string()) {
          return LineError(origin, line_number,
                           "each entity needs integer \"start\", \"end\" and string \"type\"");
        }
        const int64_t start = e["start"].get<int64_t>();
        const int64_t end = e["end"].get<int64_t>();
        if (start < 0 || end > INT32_MAX || start >= end) {
          return LineError(origin, line_number,
                           absl::StrCat("entity [", start, ", ", end, ") is empty or negative"));
        }
        doc.entities.push_back(
            {static_cast<int32_t>(start), static_cast<int32_t>(end), e["type"].get<std::string>()});
      }
    }
    std::sort(doc.entities.begin(), doc.entities.end());
    if (absl::Status s = ValidateDocument(doc); !s.ok()) {
      return LineError(origin, line_number, s.message());
    }
    dataset.documents.push_back(std::move(doc));
  }
  return dataset;
}

}  // namespace

absl::Status ValidateDocument(const Document& document) {
  if (absl::Status s = ValidateUtf8(document.text); !s.ok()) return s;
  const int64_t length = CountCodePoints(document.text);
  int32_t previous_end = 0;
  std::vector<EntitySpan> sorted = document.entities;
  std::sort(sorted.begin(), sorted.end());
  for (const EntitySpan& e : sorted) {
    if (e.begin_char < 0 || e.begin_char >= e.end_char || e.end_char > length) {
      return absl::InvalidArgumentError(absl::StrCat("entity [", e.begin_char, ", ", e.end_char,
                                                     ") is outside the text of ", length,
                                                     " characters"));
    }
    if (e.type.empty()) return absl::InvalidArgumentError("entity with an empty type");
    if (e.begin_char < previous_end) {
      return absl::InvalidArgumentError(absl::StrCat("entity [", e.begin_char, ", ", e.end_char,
                                                     ") overlaps the one before it"));
    }
    previous_end = e.end_char;
  }
  return absl::OkStatus();
}

absl::StatusOr<Dataset> ParseDataset(absl::string_view contents, absl::string_view origin,
                                     const ReadOptions& options) {
  DataFormat format = options.format;
  if (format == DataFormat::kAuto) {
    const absl::string_view stripped = absl::StripLeadingAsciiWhitespace(contents);
    format = !stripped.empty() && stripped.front() == '{' ? DataFormat::kJsonl
                                                          : DataFormat::kCharPerLine;
  }
  if (format == DataFormat::kJsonl) return ParseJsonl(contents, origin);
  return ParseCharPerLine(contents, origin, options.scheme);
}

absl::StatusOr<Dataset> ReadDataset(const std::string& path, const ReadOptions& options) {
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (!contents.ok()) return contents.status();
  return ParseDataset(*contents, path, options);
}

std::string ToJsonl(const std::vector<Document>& documents) {
  std::string out;
  for (const Document& doc : documents) {
    json entities = json::array();
    for (const EntitySpan& e : doc.entities) {
      entities.push_back({{"start", e.begin_char}, {"end", e.end_char}, {"type", e.type}});
    }
    json object = {{"id", doc.id}, {"text", doc.text}, {"entities", std::move(entities)}};
    absl::StrAppend(&out, object.dump(-1, ' ', false, json::error_handler_t::replace), "\n");
  }
  return out;
}

absl::StatusOr<std::string> ToCharPerLine(const std::vector<Document>& documents,
                                          TagScheme scheme) {
  std::string out;
  for (const Document& doc : documents) {
    absl::StatusOr<DecodedText> text = DecodeUtf8(doc.text);
    if (!text.ok()) return text.status();
    std::vector<TagSpan> spans;
    for (const EntitySpan& e : doc.entities) spans.push_back({e.begin_char, e.end_char, e.type});
    absl::StatusOr<std::vector<std::string>> tags =
        SpansToTags(static_cast<int32_t>(text->size()), spans, scheme);
    if (!tags.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("document '", doc.id, "': ",
                                                     tags.status().message()));
    }
    for (int64_t i = 0; i < text->size(); ++i) {
      const char32_t cp = text->code_points[i];
      if (cp == U'\n' || cp == U'\r') {
        return absl::InvalidArgumentError(absl::StrCat(
            "document '", doc.id, "' contains a line break, which char-per-line cannot hold"));
      }
      AppendUtf8(cp, &out);
      absl::StrAppend(&out, " ", (*tags)[i], "\n");
    }
    out.push_back('\n');
  }
  return out;
}

absl::Status WriteJsonl(const std::string& path, const std::vector<Document>& documents) {
  return WriteFileAtomically(path, ToJsonl(documents));
}

absl::Status WriteCharPerLine(const std::string& path, const std::vector<Document>& documents,
                              TagScheme scheme) {
  absl::StatusOr<std::string> contents = ToCharPerLine(documents, scheme);
  if (!contents.ok()) return contents.status();
  return WriteFileAtomically(path, *contents);
}

std::vector<Document> SplitLongDocuments(const std::vector<Document>& documents,
                                         int32_t max_chars, int64_t* split_entities) {
  std::vector<Document> out;
  out.reserve(documents.size());
  for (const Document& doc : documents) {
    if (CountCodePoints(doc.text) <= max_chars) {
      out.push_back(doc);
      continue;
    }
    absl::StatusOr<DecodedText> text = DecodeUtf8(doc.text);
    if (!text.ok()) {  // Callers validate first; keep the document whole rather than lose it.
      out.push_back(doc);
      continue;
    }
    const std::vector<TextPiece> pieces = SegmentText(text->code_points, max_chars);
    for (size_t p = 0; p < pieces.size(); ++p) {
      const TextPiece& piece = pieces[p];
      Document part;
      part.id = absl::StrCat(doc.id, "#", p);
      part.text = doc.text.substr(text->byte_offsets[piece.begin_char],
                                  text->byte_offsets[piece.end_char] -
                                      text->byte_offsets[piece.begin_char]);
      for (const EntitySpan& e : doc.entities) {
        const int32_t begin = std::max(e.begin_char, piece.begin_char);
        const int32_t end = std::min(e.end_char, piece.end_char);
        if (begin >= end) continue;
        if (split_entities != nullptr && begin == e.begin_char && end < e.end_char) {
          ++*split_entities;  // Counted once, in the piece where the entity begins.
        }
        part.entities.push_back({begin - piece.begin_char, end - piece.begin_char, e.type});
      }
      out.push_back(std::move(part));
    }
  }
  return out;
}

DatasetStats ComputeStats(const std::vector<Document>& documents) {
  DatasetStats stats;
  std::map<std::string, int64_t> by_type;
  for (const Document& doc : documents) {
    ++stats.documents;
    const int64_t chars = CountCodePoints(doc.text);
    stats.characters += chars;
    stats.max_document_chars = std::max(stats.max_document_chars, chars);
    stats.entities += static_cast<int64_t>(doc.entities.size());
    for (const EntitySpan& e : doc.entities) ++by_type[e.type];
  }
  stats.entities_by_type.assign(by_type.begin(), by_type.end());
  return stats;
}

}  // namespace ner::model
