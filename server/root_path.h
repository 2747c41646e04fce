#ifndef NER_SERVER_ROOT_PATH_H_
#define NER_SERVER_ROOT_PATH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::server {

// Resolves `relative`, a path a client sent (a checkpoint under the model root, a dataset under
// the data root), to an absolute path confined to `root`:
//   - empty, absolute, or with a ".." component (before normalisation): INVALID_ARGUMENT;
//   - resolving symbolic links leaves `root` (a link pointing outside it): PERMISSION_DENIED;
//   - `root` itself missing: FAILED_PRECONDITION.
// The target need not exist (the caller's open reports NOT_FOUND). The check follows the links
// present now; a file system an adversary can write to concurrently is out of scope.
// Thread-safe.
absl::StatusOr<std::string> ResolveUnderRoot(absl::string_view root, absl::string_view relative);

}  // namespace ner::server

#endif  // NER_SERVER_ROOT_PATH_H_
