#include "server/root_path.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;

// True when `path` equals `root` or lies below it; both lexically normal and absolute.
bool IsWithin(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // The trailing "" of "dir/".
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> ResolveUnderRoot(absl::string_view root, absl::string_view relative) {
  if (relative.empty()) return absl::InvalidArgumentError("the path is empty");
  const fs::path rel{std::string(relative)};
  if (rel.is_absolute()) {
    return absl::InvalidArgumentError(
        absl::StrCat("path '", relative, "' is absolute; give it relative to the root"));
  }
  for (const fs::path& part : rel) {
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("path '", relative, "' has a '..' component"));
    }
  }
  std::error_code ec;
  const fs::path canonical_root = fs::canonical(fs::path(std::string(root)), ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("the server's root '", root, "' is unusable: ", ec.message()));
  }
  // weakly_canonical resolves the links of the existing prefix, so a link anywhere along the
  // path that points outside the root is caught; the missing tail is normalised lexically.
  const fs::path resolved = fs::weakly_canonical(canonical_root / rel, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve path '", relative, "': ", ec.message()));
  }
  if (!IsWithin(resolved, canonical_root)) {
    return absl::PermissionDeniedError(
        absl::StrCat("path '", relative, "' leads outside the server's root"));
  }
  return resolved.string();
}

}  // namespace ner::server
