#include "client/cli/bulk_input.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ner::client::cli {
namespace {

// Counts lines ("\n"-terminated, plus an unterminated last one) of a regular file quickly.
std::optional<int64_t> CountLines(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return std::nullopt;
  std::string buffer(1 << 20, '\0');
  int64_t lines = 0;
  char last = '\n';
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file)) > 0) {
    for (size_t i = 0; i < n; ++i) lines += buffer[i] == '\n';
    last = buffer[n - 1];
  }
  std::fclose(file);
  return lines + (last != '\n' ? 1 : 0);
}

}  // namespace

absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name) {
  if (name == "auto") return InputFormat::kAuto;
  if (name == "jsonl") return InputFormat::kJsonl;
  if (name == "text") return InputFormat::kText;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown input format \"", name, "\": use auto, jsonl or text"));
}

std::optional<InputDocument> ParseInputLine(absl::string_view line, int64_t line_number,
                                            InputFormat format) {
  if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
  InputDocument document;
  document.line = line_number;
  document.id = absl::StrCat(line_number);
  if (format != InputFormat::kJsonl) {
    document.text = std::string(line);
    return document;
  }
  if (absl::StripAsciiWhitespace(line).empty()) return std::nullopt;
  const nlohmann::json object =
      nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    document.error = absl::InvalidArgumentError("not a JSON object");
    return document;
  }
  const auto text = object.find("text");
  if (text == object.end() || !text->is_string()) {
    document.error = absl::InvalidArgumentError("no \"text\" string");
    return document;
  }
  document.text = text->get<std::string>();
  const auto id = object.find("id");
  if (id != object.end() && !id->is_null()) {
    if (id->is_string()) {
      document.id = id->get<std::string>();
    } else if (id->is_number()) {
      document.id = id->dump();
    } else {
      document.error = absl::InvalidArgumentError("\"id\" must be a string or a number");
    }
  }
  return document;
}

absl::StatusOr<std::unique_ptr<InputReader>> InputReader::Open(const std::string& path,
                                                               InputFormat format) {
  std::unique_ptr<InputReader> reader(new InputReader());
  if (path == "-") {
    reader->origin_ = "stdin";
    reader->in_ = &std::cin;
  } else {
    reader->origin_ = path;
    reader->file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*reader->file_) {
      const int error = errno;
      const std::string message = absl::StrCat("cannot open ", path, ": ", std::strerror(error));
      if (error == EACCES) return absl::PermissionDeniedError(message);
      return absl::NotFoundError(message);
    }
    reader->in_ = reader->file_.get();
    struct stat info;
    if (::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
      reader->total_bytes_ = static_cast<uint64_t>(info.st_size);
      reader->total_lines_ = CountLines(path);
    }
  }
  if (format == InputFormat::kAuto) {
    if (absl::EndsWith(path, ".jsonl")) {
      format = InputFormat::kJsonl;
    } else if (absl::EndsWith(path, ".txt")) {
      format = InputFormat::kText;
    } else {
      // Peek: the first non-blank line decides; the lines read are replayed by Next().
      format = InputFormat::kText;
      std::string line;
      while (std::getline(*reader->in_, line)) {
        const bool blank = absl::StripAsciiWhitespace(line).empty();
        const bool terminated = !reader->in_->eof();
        reader->peeked_.emplace_back(std::move(line), terminated);
        if (!blank) {
          if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(reader->peeked_.back().first),
                               "{")) {
            format = InputFormat::kJsonl;
          }
          break;
        }
      }
    }
  }
  reader->format_ = format;
  return reader;
}

bool InputReader::ReadLine(std::string* line) {
  if (!peeked_.empty()) {
    *line = std::move(peeked_.front().first);
    bytes_read_ += line->size() + (peeked_.front().second ? 1 : 0);
    peeked_.pop_front();
    return true;
  }
  if (!std::getline(*in_, *line)) return false;
  bytes_read_ += line->size() + (in_->eof() ? 0 : 1);
  return true;
}

absl::StatusOr<std::optional<InputDocument>> InputReader::Next() {
  std::string line;
  while (ReadLine(&line)) {
    ++line_number_;
    std::optional<InputDocument> document = ParseInputLine(line, line_number_, format_);
    if (!document.has_value()) continue;
    if (!document->error.ok()) {
      document->error =
          absl::Status(document->error.code(),
                       absl::StrCat(origin_, ":", line_number_, ": ", document->error.message()));
    }
    return document;
  }
  if (in_->bad()) return absl::InternalError(absl::StrCat("reading ", origin_, " failed"));
  return std::optional<InputDocument>();
}

}  // namespace ner::client::cli
