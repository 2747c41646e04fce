#ifndef NER_TESTS_TESTING_SHARED_DATA_H_
#define NER_TESTS_TESTING_SHARED_DATA_H_

#include <optional>
#include <string>

namespace ner::testing {

// Returns the shared material directory: $NER_SHARED_DIR, else the build's default (the checkout's
// sibling `shared/`), else std::nullopt when neither exists.
std::optional<std::string> SharedDir();

// Returns SharedDir()/relative if that file or directory exists, else std::nullopt.
std::optional<std::string> SharedPath(const std::string& relative);

// Returns a fresh empty directory under the test's temp dir, removed by nobody (ctest's tmp).
std::string MakeTempDir(const std::string& tag);

}  // namespace ner::testing

// Skips the current test with a clear message when a shared file is absent.
#define NER_REQUIRE_SHARED(var, relative)                                          \
  std::string var;                                                                \
  do {                                                                            \
    auto ner_path_ = ::ner::testing::SharedPath(relative);                        \
    if (!ner_path_) {                                                             \
      GTEST_SKIP() << "shared data '" << (relative)                               \
                   << "' not found: set NER_SHARED_DIR to the shared/ directory"; \
    }                                                                             \
    var = *ner_path_;                                                             \
  } while (0)

#endif  // NER_TESTS_TESTING_SHARED_DATA_H_
