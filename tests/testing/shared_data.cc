#include "tests/testing/shared_data.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace ner::testing {
namespace fs = std::filesystem;

std::optional<std::string> SharedDir() {
  for (const char* var : {"NER_SHARED_DIR", "NER_SHARED_DIR_DEFAULT"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && *value != '\0' && fs::is_directory(value)) return std::string(value);
  }
  if (fs::is_directory("../shared")) return std::string("../shared");
  return std::nullopt;
}

std::optional<std::string> SharedPath(const std::string& relative) {
  auto dir = SharedDir();
  if (!dir) return std::nullopt;
  fs::path path = fs::path(*dir) / relative;
  if (!fs::exists(path)) return std::nullopt;
  return path.string();
}

std::string MakeTempDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  fs::path root = base != nullptr ? fs::path(base) : fs::temp_directory_path();
  fs::path dir = root / absl::StrCat("ner_test_", tag, "_", ::getpid(), "_", counter++);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

}  // namespace ner::testing
