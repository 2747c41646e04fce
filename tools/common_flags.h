#ifndef NER_TOOLS_COMMON_FLAGS_H_
#define NER_TOOLS_COMMON_FLAGS_H_

#include "absl/status/statusor.h"
#include "model/dataset.h"
#include "model/runtime.h"

namespace ner::tools {

// --format and --scheme as dataset read options.
absl::StatusOr<model::ReadOptions> DatasetReadOptionsFromFlags();
// --threads as runtime options.
model::RuntimeOptions RuntimeOptionsFromFlags();

}  // namespace ner::tools

#endif  // NER_TOOLS_COMMON_FLAGS_H_
