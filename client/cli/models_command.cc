// `ner-client models`, `ner-client load NAME PATH` and `ner-client unload NAME`.

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/commands.h"
#include "client/cli/terminal.h"

namespace ner::client::cli {
namespace {

std::string DevF1(const v1::ModelInfo& model) {
  return model.has_dev_f1() ? absl::StrFormat("%.4f", model.dev_f1()) : "-";
}

}  // namespace

absl::Status RunModels(const std::vector<std::string>& args) {
  if (!args.empty()) return absl::InvalidArgumentError("usage: ner-client models");
  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(absl::Seconds(30));
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::ListModelsResponse> response = (*client)->ListModels();
  if (!response.ok()) return response.status();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ToJson(*response).c_str());
    return absl::OkStatus();
  }
  if (response->models().empty()) {
    std::printf("no models loaded (requests without a model name use \"%s\")\n",
                response->default_model().c_str());
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const v1::ModelInfo& model : response->models()) {
    const bool is_default = model.name() == response->default_model();
    rows.push_back({absl::StrCat(model.name(), is_default ? " *" : ""), model.version(),
                    model.variant(), DevF1(model), absl::StrJoin(model.entity_types(), ","),
                    model.path()});
  }
  std::fputs(FormatTable({"name", "version", "variant", "dev F1", "types", "path"}, rows).c_str(),
             stdout);
  std::printf("(* = the default model)\n");
  return absl::OkStatus();
}

absl::Status RunLoad(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    return absl::InvalidArgumentError(
        "usage: ner-client load NAME PATH (PATH under the server's model root)");
  }
  // A load reads and self-tests a checkpoint: no deadline unless --timeout says so.
  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(std::nullopt);
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::ModelInfo> model = (*client)->LoadModel(args[0], args[1]);
  if (!model.ok()) return model.status();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ToJson(*model).c_str());
    return absl::OkStatus();
  }
  std::printf("serving %s: version %s, %s, types %s, dev F1 %s, from %s\n", model->name().c_str(),
              model->version().c_str(), model->variant().c_str(),
              absl::StrJoin(model->entity_types(), ",").c_str(), DevF1(*model).c_str(),
              model->path().c_str());
  return absl::OkStatus();
}

absl::Status RunUnload(const std::vector<std::string>& args) {
  if (args.size() != 1) return absl::InvalidArgumentError("usage: ner-client unload NAME");
  // An unload waits for a load in progress: no deadline unless --timeout says so.
  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(std::nullopt);
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::ModelInfo> model = (*client)->UnloadModel(args[0]);
  if (!model.ok()) return model.status();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", ToJson(*model).c_str());
    return absl::OkStatus();
  }
  std::printf("unloaded %s: version %s, %s, from %s\n", model->name().c_str(),
              model->version().c_str(), model->variant().c_str(), model->path().c_str());
  return absl::OkStatus();
}

}  // namespace ner::client::cli
