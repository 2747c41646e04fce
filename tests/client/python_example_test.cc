// examples/python: generates the Python stubs with gen_stubs.sh and runs recognize.py against
// the real server in-process. Exits 77 (skipped) when Debian's python3-grpcio (or the stub
// generator) is missing.
//
// Usage: python_example_test PYTHON3 PROTOC GRPC_PYTHON_PLUGIN EXAMPLES_DIR

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/server/server_test_util.h"
#include "tests/testing/shared_data.h"

namespace {

std::string g_python, g_protoc, g_plugin, g_examples;

std::string Quote(const std::string& s) {
  std::string quoted = "'";
  for (const char c : s) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// Runs `command` with sh; its exit status and output (stdout and stderr).
int RunShell(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buffer;
  size_t n;
  output->clear();
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output->append(buffer.data(), n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(PythonExampleTest, RecognizesThroughTheRealServer) {
  absl::StatusOr<std::unique_ptr<ner::server::testing::TestServer>> server =
      ner::server::testing::TestServer::Start(ner::server::testing::TestConfig());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string stubs = ner::testing::MakeTempDir("python_stubs");
  std::string output;
  ASSERT_EQ(
      RunShell(absl::StrCat("PROTOC=", Quote(g_protoc), " GRPC_PYTHON_PLUGIN=", Quote(g_plugin),
                            " ", Quote(g_examples + "/gen_stubs.sh"), " ", Quote(stubs)),
               &output),
      0)
      << output;

  const std::vector<std::string> texts = {"张三在北京大学工作。", "李四去上海中国人民银行。"};
  ASSERT_EQ(RunShell(absl::StrCat(Quote(g_python), " ", Quote(g_examples + "/recognize.py"),
                                  " --address ", (*server)->address(), " --stubs ", Quote(stubs),
                                  " ", Quote(texts[0]), " ", Quote(texts[1])),
                     &output),
            0)
      << output;
  std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), texts.size()) << output;
  for (size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json result = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(result["id"], absl::StrCat(i + 1));
    EXPECT_EQ(result["text"], texts[i]);
    EXPECT_EQ(result["model"], "default");
    ASSERT_TRUE(result["entities"].is_array());
  }

  // Errors come back as a gRPC code: an unknown entity type is INVALID_ARGUMENT.
  EXPECT_EQ(RunShell(absl::StrCat(Quote(g_python), " ", Quote(g_examples + "/recognize.py"),
                                  " --address ", (*server)->address(), " --stubs ", Quote(stubs),
                                  " --types NOPE x"),
                     &output),
            1);
  EXPECT_NE(output.find("INVALID_ARGUMENT"), std::string::npos) << output;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PYTHON3 PROTOC GRPC_PYTHON_PLUGIN EXAMPLES_DIR\n", argv[0]);
    return 2;
  }
  g_python = argv[1];
  g_protoc = argv[2];
  g_plugin = argv[3];
  g_examples = argv[4];
  std::string output;
  if (RunShell(Quote(g_python) + " -c 'import grpc, google.protobuf'", &output) != 0) {
    std::printf("SKIPPED: %s cannot import grpc (Debian: python3-grpcio): %s\n", g_python.c_str(),
                output.c_str());
    return 77;
  }
  if (g_plugin.empty() || g_plugin.find("NOTFOUND") != std::string::npos) {
    std::printf("SKIPPED: grpc_python_plugin not found (Debian: protobuf-compiler-grpc)\n");
    return 77;
  }
  return RUN_ALL_TESTS();
}
