#ifndef NER_TOOLS_COMMON_FLAGS_H_
#define NER_TOOLS_COMMON_FLAGS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/dataset.h"
#include "model/runtime.h"

namespace ner::tools {

// --format and --scheme as dataset read options.
absl::StatusOr<model::ReadOptions> DatasetReadOptionsFromFlags();
// --threads as runtime options.
model::RuntimeOptions RuntimeOptionsFromFlags();
// Whether --`name` was on the command line (so that commands sharing a flag can keep their own
// defaults). CommandLineFlag::IsSpecifiedOnCommandLine is private in abseil 20220623, so this uses
// the parser's record (flags_internal, part of flags_parse).
bool OnCommandLine(absl::string_view name);

}  // namespace ner::tools

#endif  // NER_TOOLS_COMMON_FLAGS_H_
