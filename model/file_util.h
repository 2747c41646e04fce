#ifndef NER_MODEL_FILE_UTIL_H_
#define NER_MODEL_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// Reads a whole file. NOT_FOUND when it cannot be opened; `max_bytes` bounds what is accepted
// (larger -> RESOURCE_EXHAUSTED) so a bad path cannot exhaust memory.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             int64_t max_bytes = int64_t{4} << 30);

// Replaces `path` with `contents` atomically: writes a temp file in the same directory, fsyncs
// it, renames it over `path` and fsyncs the directory. On any failure the temp file is removed,
// `path` keeps its previous contents, and the error names the step that failed.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

}  // namespace ner::model

#endif  // NER_MODEL_FILE_UTIL_H_
