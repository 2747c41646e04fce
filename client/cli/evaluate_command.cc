// `ner-client evaluate --dataset PATH`: per-type precision, recall and F1 of a model.

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/cli/commands.h"
#include "client/cli/terminal.h"

ABSL_FLAG(std::string, dataset, "",
          "evaluate: labelled data, a path under the server's data root (JSONL or "
          "char-per-line, see --data_format).");

namespace ner::client::cli {

absl::StatusOr<v1::DataFormat> DataFormatFromFlag();  // train_command.cc

namespace {

std::vector<std::string> MetricsRow(const std::string& name, const v1::PrfMetrics& m) {
  return {name,
          absl::StrCat(m.gold()),
          absl::StrCat(m.predicted()),
          absl::StrCat(m.correct()),
          absl::StrFormat("%.4f", m.precision()),
          absl::StrFormat("%.4f", m.recall()),
          absl::StrFormat("%.4f", m.f1())};
}

}  // namespace

absl::Status RunEvaluate(const std::vector<std::string>& args) {
  if (!args.empty() || absl::GetFlag(FLAGS_dataset).empty()) {
    return absl::InvalidArgumentError(
        "usage: ner-client evaluate --dataset PATH [--model NAME] [--data_format "
        "auto|jsonl|char] (PATH under the server's data root)");
  }
  absl::StatusOr<v1::DataFormat> format = DataFormatFromFlag();
  if (!format.ok()) return format.status();
  v1::EvaluateRequest request;
  request.set_model(RecognizeOptionsFromFlags().model());
  request.mutable_dataset()->set_path(absl::GetFlag(FLAGS_dataset));
  request.mutable_dataset()->set_format(*format);

  // An evaluation takes as long as its data: no deadline unless --timeout says so.
  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(std::nullopt);
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::EvaluateResponse> response = (*client)->Evaluate(request);
  if (!response.ok()) return response.status();

  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ToJson(*response).c_str());
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::TypeMetrics& type : response->by_type()) {
    rows.push_back(MetricsRow(type.type(), type.metrics()));
  }
  rows.push_back(MetricsRow("overall", response->overall()));
  std::fputs(FormatTable({"type", "gold", "predicted", "correct", "P", "R", "F1"}, rows).c_str(),
             stdout);
  std::printf("\n%lld documents, model %s version %s\n",
              static_cast<long long>(response->documents()), response->model_name().c_str(),
              response->model_version().c_str());
  return absl::OkStatus();
}

}  // namespace ner::client::cli
