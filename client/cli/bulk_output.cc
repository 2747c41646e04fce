#include "client/cli/bulk_output.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/terminal.h"
#include "client/status.h"
#include "nlohmann/json.hpp"

namespace ner::client::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr absl::string_view kDocPrefix = "#doc ";
constexpr absl::string_view kErrorPrefix = "#error ";

std::string JsonString(absl::string_view value) {
  return json(std::string(value)).dump(-1, ' ', false, json::error_handler_t::replace);
}

json ErrorJson(const absl::Status& error) {
  return {{"code", StatusCodeName(error.code())}, {"message", std::string(error.message())}};
}

// A character as written on a BIO line: control characters (line breaks, tabs) become a space so
// that every code point keeps exactly one line.
absl::string_view BioChar(absl::string_view point) {
  if (point.size() == 1 && (static_cast<unsigned char>(point[0]) < 0x20 || point[0] == 0x7f)) {
    return " ";
  }
  return point;
}

std::string OneLine(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

// The id of a `#doc "<id>"` header line; nullopt when the line is not one.
std::optional<std::string> ParseDocHeader(absl::string_view line) {
  if (!absl::StartsWith(line, kDocPrefix)) return std::nullopt;
  line.remove_prefix(kDocPrefix.size());
  const json id = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (id.is_discarded() || !id.is_string()) return std::nullopt;
  return id.get<std::string>();
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view name) {
  if (name == "jsonl") return OutputFormat::kJsonl;
  if (name == "bio") return OutputFormat::kBio;
  if (name == "brat") return OutputFormat::kBrat;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown output format \"", name, "\": use jsonl, bio or brat"));
}

std::string FormatResultRecord(OutputFormat format, absl::string_view id, absl::string_view text,
                               const v1::DocumentResult& result) {
  switch (format) {
    case OutputFormat::kJsonl: {
      json entities = json::array();
      for (const v1::Entity& e : result.entities()) {
        entities.push_back({{"start", e.begin_char()},
                            {"end", e.end_char()},
                            {"type", e.type()},
                            {"text", e.text()},
                            {"score", e.score()},
                            {"begin_byte", e.begin_byte()},
                            {"end_byte", e.end_byte()}});
      }
      const json line = {
          {"id", std::string(id)}, {"text", std::string(text)}, {"entities", entities}};
      return absl::StrCat(line.dump(-1, ' ', false, json::error_handler_t::replace), "\n");
    }
    case OutputFormat::kBio: {
      const std::vector<absl::string_view> points = SplitCodePoints(text);
      std::vector<std::string> tags(points.size(), "O");
      for (const v1::Entity& e : result.entities()) {
        for (int i = std::max(0, e.begin_char());
             i < e.end_char() && i < static_cast<int>(points.size()); ++i) {
          tags[static_cast<size_t>(i)] = absl::StrCat(i == e.begin_char() ? "B-" : "I-", e.type());
        }
      }
      std::string record = absl::StrCat(kDocPrefix, JsonString(id), "\n");
      for (size_t i = 0; i < points.size(); ++i) {
        absl::StrAppend(&record, BioChar(points[i]), " ", tags[i], "\n");
      }
      absl::StrAppend(&record, "\n");
      return record;
    }
    case OutputFormat::kBrat: {
      std::string record = absl::StrCat(kDocPrefix, JsonString(id), "\n");
      int n = 0;
      for (const v1::Entity& e : result.entities()) {
        ++n;
        absl::StrAppend(&record, "T", n, "\t", e.type(), " ", e.begin_char(), " ", e.end_char(),
                        "\t", OneLine(e.text()), "\n");
        absl::StrAppend(&record, "#", n, "\tAnnotatorNotes T", n, "\t",
                        absl::StrFormat("score=%.4f", e.score()), "\n");
      }
      absl::StrAppend(&record, "\n");
      return record;
    }
  }
  return "";
}

std::string FormatErrorRecord(OutputFormat format, absl::string_view id,
                              const absl::Status& error) {
  if (format == OutputFormat::kJsonl) {
    const json line = {{"id", std::string(id)}, {"error", ErrorJson(error)}};
    return absl::StrCat(line.dump(-1, ' ', false, json::error_handler_t::replace), "\n");
  }
  return absl::StrCat(kDocPrefix, JsonString(id), "\n", kErrorPrefix,
                      ErrorJson(error).dump(-1, ' ', false, json::error_handler_t::replace),
                      "\n\n");
}

absl::StatusOr<ExistingOutput> ScanOutput(OutputFormat format, std::istream& in,
                                          const std::string& origin) {
  ExistingOutput out;
  std::string line;
  int64_t line_number = 0;
  // The first malformed line after the last complete record: harmless if nothing valid follows.
  int64_t bad_line = 0;
  // bio/brat: the record being read.
  std::optional<std::string> record_id;
  bool record_is_error = false;
  uint64_t record_begin = 0;

  auto complete = [&](const std::string& id, bool is_error, uint64_t begin,
                      uint64_t end) -> absl::Status {
    if (bad_line != 0) {
      return absl::DataLossError(absl::StrCat(
          origin, ":", bad_line, ": not a record of `ner-client bulk` output in this format, ",
          "followed by complete records; refusing to append to it"));
    }
    out.ids.insert(id);
    if (is_error) {
      out.error_ids.insert(id);
      out.error_ranges.emplace_back(begin, end);
    }
    ++out.records;
    out.valid_bytes = end;
    return absl::OkStatus();
  };

  while (std::getline(in, line)) {
    ++line_number;
    const uint64_t begin = out.total_bytes;
    const bool terminated = !in.eof();
    out.total_bytes += line.size() + (terminated ? 1 : 0);
    if (!terminated) break;  // an unfinished last line is never a record (nor part of one)

    if (format == OutputFormat::kJsonl) {
      const json object = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (object.is_discarded() || !object.is_object() || !object.contains("id") ||
          !object["id"].is_string() || !(object.contains("entities") || object.contains("error"))) {
        if (bad_line == 0) bad_line = line_number;
        continue;
      }
      if (absl::Status s = complete(object["id"].get<std::string>(), object.contains("error"),
                                    begin, out.total_bytes);
          !s.ok()) {
        return s;
      }
      continue;
    }

    if (!record_id.has_value()) {
      record_id = ParseDocHeader(line);
      if (!record_id.has_value()) {
        if (bad_line == 0) bad_line = line_number;
        continue;
      }
      record_is_error = false;
      record_begin = begin;
      continue;
    }
    if (line.empty()) {
      if (absl::Status s = complete(*record_id, record_is_error, record_begin, out.total_bytes);
          !s.ok()) {
        return s;
      }
      record_id.reset();
      continue;
    }
    if (absl::StartsWith(line, kErrorPrefix)) record_is_error = true;
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("reading ", origin, " failed"));
  return out;
}

}  // namespace ner::client::cli
