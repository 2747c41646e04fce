#include "tools/common_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/internal/parse.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, format, "auto",
          "Dataset format: auto (JSONL when the file starts with '{'), jsonl, or char (one "
          "'CHAR TAG' per line).");
ABSL_FLAG(std::string, scheme, "auto",
          "Tag scheme of char-per-line data: auto (detected from the tags), bio, bioes, bmes.");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads; 0 = one per core.");

namespace ner::tools {

absl::StatusOr<model::ReadOptions> DatasetReadOptionsFromFlags() {
  model::ReadOptions options;
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format == "jsonl") {
    options.format = model::DataFormat::kJsonl;
  } else if (format == "char") {
    options.format = model::DataFormat::kCharPerLine;
  } else if (format != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format must be auto, jsonl or char, not '", format, "'"));
  }
  const std::string scheme = absl::GetFlag(FLAGS_scheme);
  if (scheme != "auto") {
    absl::StatusOr<model::TagScheme> parsed = model::ParseTagScheme(scheme);
    if (!parsed.ok()) return parsed.status();
    options.scheme = *parsed;
  }
  return options;
}

model::RuntimeOptions RuntimeOptionsFromFlags() {
  model::RuntimeOptions options;
  if (const int threads = absl::GetFlag(FLAGS_threads); threads != 0) {
    options.intra_op_threads = threads;
  }
  return options;
}

bool OnCommandLine(absl::string_view name) {
  return absl::flags_internal::WasPresentOnCommandLine(name);
}

}  // namespace ner::tools
