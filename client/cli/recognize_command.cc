// `ner-client recognize TEXT...`: the entities of a few texts, highlighted on a terminal.

#include <cstdio>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/bulk_output.h"
#include "client/cli/commands.h"
#include "client/cli/terminal.h"

namespace ner::client::cli {

absl::Status RunRecognize(const std::vector<std::string>& args) {
  std::vector<std::string> texts = args;
  if (texts.size() == 1 && texts[0] == "-") {
    texts.clear();
    std::string line;
    while (std::getline(std::cin, line)) texts.push_back(line);
  }
  if (texts.empty()) {
    return absl::InvalidArgumentError(
        "usage: ner-client recognize TEXT... (or `-` for one text per line on stdin)");
  }
  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(absl::Seconds(30));
  if (!client.ok()) return client.status();

  v1::RecognizeRequest request;
  for (size_t i = 0; i < texts.size(); ++i) {
    v1::Document* document = request.add_documents();
    document->set_id(absl::StrCat(i + 1));
    document->set_text(texts[i]);
  }
  *request.mutable_options() = RecognizeOptionsFromFlags();
  absl::StatusOr<v1::RecognizeResponse> response = (*client)->Recognize(request);
  if (!response.ok()) return response.status();

  if (absl::GetFlag(FLAGS_json)) {
    for (int i = 0; i < response->results_size(); ++i) {
      const v1::DocumentResult& result = response->results(i);
      std::fputs(
          FormatResultRecord(OutputFormat::kJsonl, result.id(), request.documents(i).text(), result)
              .c_str(),
          stdout);
    }
    return absl::OkStatus();
  }

  const bool color = UseColor(stdout);
  std::string out;
  for (int i = 0; i < response->results_size(); ++i) {
    const v1::DocumentResult& result = response->results(i);
    const std::vector<v1::Entity> entities(result.entities().begin(), result.entities().end());
    if (i > 0) absl::StrAppend(&out, "\n");
    if (response->results_size() > 1) absl::StrAppend(&out, "#", result.id(), "\n");
    absl::StrAppend(&out, HighlightEntities(request.documents(i).text(), entities, color), "\n");
    if (entities.empty()) {
      absl::StrAppend(&out, "(no entities)\n");
      continue;
    }
    std::vector<std::vector<std::string>> rows;
    for (const v1::Entity& e : entities) {
      rows.push_back({color ? absl::StrCat(TypeColor(e.type()), e.type(), kColorReset) : e.type(),
                      e.text(), absl::StrCat(e.begin_char(), "-", e.end_char()),
                      absl::StrCat(e.begin_byte(), "-", e.end_byte()),
                      absl::StrFormat("%.3f", e.score())});
    }
    absl::StrAppend(&out, "\n", FormatTable({"type", "text", "chars", "bytes", "score"}, rows));
  }
  std::fputs(out.c_str(), stdout);
  std::fprintf(stderr, "model %s version %s\n", response->model_name().c_str(),
               response->model_version().c_str());
  return absl::OkStatus();
}

}  // namespace ner::client::cli
