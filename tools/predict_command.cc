// `ner predict --model DIR [TEXT... | --input FILE|-] [--output FILE|-]`: entities as JSONL.

#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/file_util.h"
#include "model/recognizer.h"
#include "model/utf8.h"
#include "nlohmann/json.hpp"
#include "tools/command.h"

ABSL_FLAG(std::string, input, "",
          "Texts to tag: a .jsonl file ({\"id\": ..., \"text\": ...} per line), a text file (one "
          "document per line), or - for stdin (JSONL when it starts with '{').");
ABSL_FLAG(std::string, output, "-", "Where to write the JSONL results; - = stdout.");
ABSL_FLAG(std::string, device, "auto", "Device: auto, cpu, cuda, cuda:N.");
ABSL_FLAG(std::string, dtype, "float32",
          "Encoder dtype: float32, bfloat16 (bf16), float16, or auto (bfloat16 on a CPU with "
          "AMX-BF16, float32 elsewhere). bfloat16 also runs the BiLSTM's products in bf16 on "
          "CPUs with AVX512-BF16 (on AMX tiles where the CPU has AMX).");

namespace ner::tools {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kDocumentsPerChunk = 256;

struct InputText {
  std::string id;
  std::string text;
};

// Parses the --input contents: JSONL objects with "text" (and an optional "id"), or plain text
// with one document per line (ids are line numbers; empty lines are kept as empty documents).
absl::StatusOr<std::vector<InputText>> ParseInput(const std::string& contents,
                                                  const std::string& origin, bool jsonl) {
  std::vector<InputText> texts;
  std::vector<absl::string_view> lines = absl::StrSplit(contents, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    const std::string line_id = absl::StrCat(i + 1);
    if (!jsonl) {
      texts.push_back({line_id, std::string(line)});
      continue;
    }
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const json object = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded() || !object.is_object() || !object.contains("text") ||
        !object["text"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ":", i + 1, ": expected a JSON object with a \"text\" string"));
    }
    InputText input{line_id, object["text"].get<std::string>()};
    if (object.contains("id")) {
      input.id = object["id"].is_string() ? object["id"].get<std::string>() : object["id"].dump();
    }
    texts.push_back(std::move(input));
  }
  return texts;
}

absl::StatusOr<std::vector<InputText>> ReadInputs(const std::vector<std::string>& args) {
  const std::string path = absl::GetFlag(FLAGS_input);
  if (!args.empty() && !path.empty()) {
    return absl::InvalidArgumentError("give either TEXT arguments or --input, not both");
  }
  if (!args.empty()) {
    std::vector<InputText> texts;
    for (size_t i = 0; i < args.size(); ++i) texts.push_back({absl::StrCat(i + 1), args[i]});
    return texts;
  }
  if (path.empty()) {
    return absl::InvalidArgumentError("usage: ner predict --model DIR [TEXT... | --input FILE|-]");
  }
  std::string contents;
  if (path == "-") {
    contents.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    absl::StatusOr<std::string> read = model::ReadFileToString(path);
    if (!read.ok()) return read.status();
    contents = *std::move(read);
  }
  const bool jsonl = absl::EndsWith(path, ".jsonl") ||
                     absl::StartsWith(absl::StripLeadingAsciiWhitespace(contents), "{");
  return ParseInput(contents, path == "-" ? "stdin" : path, jsonl);
}

json EntityJson(const model::RecognizedEntity& e) {
  return {{"start", e.begin_char}, {"end", e.end_char}, {"type", e.type},
          {"text", e.text},        {"score", e.score},  {"begin_byte", e.begin_byte},
          {"end_byte", e.end_byte}};
}

}  // namespace

absl::Status RunPredict(const std::vector<std::string>& args) {
  absl::StatusOr<std::vector<InputText>> inputs = ReadInputs(args);
  if (!inputs.ok()) return inputs.status();
  absl::StatusOr<std::unique_ptr<model::Recognizer>> recognizer = RecognizerFromFlags();
  if (!recognizer.ok()) return recognizer.status();

  const std::string output = absl::GetFlag(FLAGS_output);
  std::string buffered;  // a file is written atomically at the end; stdout streams
  for (size_t begin = 0; begin < inputs->size(); begin += kDocumentsPerChunk) {
    const size_t end = std::min(inputs->size(), begin + kDocumentsPerChunk);
    std::vector<std::string> texts;
    for (size_t i = begin; i < end; ++i) texts.push_back((*inputs)[i].text);
    absl::StatusOr<std::vector<std::vector<model::RecognizedEntity>>> results =
        (*recognizer)->Recognize(texts);
    if (!results.ok()) {
      return absl::Status(results.status().code(), absl::StrCat("input ", begin + 1, "..", end,
                                                                ": ", results.status().message()));
    }
    std::string chunk;
    for (size_t i = begin; i < end; ++i) {
      json entities = json::array();
      for (const model::RecognizedEntity& e : (*results)[i - begin]) {
        entities.push_back(EntityJson(e));
      }
      const json line = {
          {"id", (*inputs)[i].id}, {"text", (*inputs)[i].text}, {"entities", entities}};
      absl::StrAppend(&chunk, line.dump(), "\n");
    }
    if (output == "-") {
      std::fwrite(chunk.data(), 1, chunk.size(), stdout);
      std::fflush(stdout);
    } else {
      absl::StrAppend(&buffered, chunk);
    }
  }
  if (output != "-") return model::WriteFileAtomically(output, buffered);
  return absl::OkStatus();
}

}  // namespace ner::tools
