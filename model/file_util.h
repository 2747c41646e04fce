#ifndef NER_MODEL_FILE_UTIL_H_
#define NER_MODEL_FILE_UTIL_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// Reads a whole file, to its end whatever size it reports (pseudo-files such as /proc's report
// 0). NOT_FOUND when it cannot be opened; `max_bytes` bounds what is accepted (larger ->
// RESOURCE_EXHAUSTED) so a bad path cannot exhaust memory.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             int64_t max_bytes = int64_t{4} << 30);

// Replaces `path` with `contents` atomically: writes a temp file in the same directory, fsyncs
// it, renames it over `path` and fsyncs the directory. On any failure the temp file is removed,
// `path` keeps its previous contents, and the error names the step that failed:
// RESOURCE_EXHAUSTED when the storage is full (ENOSPC, EDQUOT, EFBIG), else INTERNAL.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Replaces the directory `dir` atomically with one that `fill` writes: `fill` receives a fresh
// empty sibling directory (`dir` + ".tmp.<pid>.<n>") and must write complete, fsynced files into
// it (WriteFileAtomically, SaveStateDict); that directory is then fsynced and moved to `dir` in
// one rename (renameat2 RENAME_EXCHANGE when `dir` exists; the previous contents are removed
// afterwards). Missing parent directories are created. Readers see either the old or the new
// directory, never a mix. When `fill` or the swap fails (or the process dies), `dir` is left as
// it was and the temp directory is removed (or left as a `.tmp.` sibling after a crash); the
// error is `fill`'s or names the step that failed. FAILED_PRECONDITION when `dir` exists and is
// not a directory. Thread-safe for distinct `dir`s.
absl::Status ReplaceDirectoryAtomically(
    const std::string& dir, const std::function<absl::Status(const std::string& temp_dir)>& fill);

}  // namespace ner::model

#endif  // NER_MODEL_FILE_UTIL_H_
