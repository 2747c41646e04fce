#include "server/root_path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/fingerprint.h"
#include "tests/testing/shared_data.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;

class RootPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = ::ner::testing::MakeTempDir("root_path");
    root_ = base_ + "/root";
    fs::create_directories(root_ + "/models/a");
    fs::create_directories(base_ + "/outside");
    fs::create_symlink(base_ + "/outside", root_ + "/escape");
    fs::create_symlink(root_ + "/models/a", root_ + "/inside");
  }
  std::string base_;
  std::string root_;
};

TEST_F(RootPathTest, ResolvesPathsInsideTheRoot) {
  const std::string canonical_root = fs::canonical(root_).string();
  EXPECT_EQ(*ResolveUnderRoot(root_, "models/a"), canonical_root + "/models/a");
  EXPECT_EQ(*ResolveUnderRoot(root_, "models/./a/"), canonical_root + "/models/a");
  // Missing targets resolve (the caller reports NOT_FOUND when opening them).
  EXPECT_EQ(*ResolveUnderRoot(root_, "models/new"), canonical_root + "/models/new");
  // A link that stays inside is fine.
  EXPECT_EQ(*ResolveUnderRoot(root_, "inside"), canonical_root + "/models/a");
}

TEST_F(RootPathTest, RejectsEscapes) {
  struct Case {
    const char* path;
    absl::StatusCode code;
  };
  for (const Case& c : {Case{"", absl::StatusCode::kInvalidArgument},
                        Case{"/etc/passwd", absl::StatusCode::kInvalidArgument},
                        Case{"../outside", absl::StatusCode::kInvalidArgument},
                        Case{"models/../../outside", absl::StatusCode::kInvalidArgument},
                        Case{"models/..", absl::StatusCode::kInvalidArgument},
                        Case{"escape", absl::StatusCode::kPermissionDenied},
                        Case{"escape/sub/dir", absl::StatusCode::kPermissionDenied}}) {
    absl::StatusOr<std::string> resolved = ResolveUnderRoot(root_, c.path);
    EXPECT_EQ(resolved.status().code(), c.code) << "path '" << c.path << "'";
  }
}

TEST_F(RootPathTest, MissingRootIsAFailedPrecondition) {
  EXPECT_EQ(ResolveUnderRoot(base_ + "/nope", "a").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RootPathTest, FingerprintFollowsContent) {
  auto write = [](const std::string& path, const std::string& contents) {
    std::ofstream(path, std::ios::binary) << contents;
  };
  write(base_ + "/x", "0123456789abcdefXYZ");
  write(base_ + "/y", "0123456789abcdefXYZ");
  write(base_ + "/z", "0123456789abcdefXYz");
  write(base_ + "/empty", "");
  const std::string x = *FingerprintFiles({base_ + "/x"});
  EXPECT_EQ(x.size(), 16u);
  EXPECT_EQ(x, *FingerprintFiles({base_ + "/y"}));
  EXPECT_NE(x, *FingerprintFiles({base_ + "/z"}));
  // File boundaries count: the sizes are mixed in.
  EXPECT_NE(*FingerprintFiles({base_ + "/x", base_ + "/empty"}),
            *FingerprintFiles({base_ + "/empty", base_ + "/x"}));
  EXPECT_EQ(FingerprintFiles({base_ + "/missing"}).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ner::server
