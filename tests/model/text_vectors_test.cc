// Reading and writing embedding vectors in the word2vec text format.

#include "model/text_vectors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = ner::testing::MakeTempDir("text_vectors") + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(TextVectorsTest, ReadsRowsWithAndWithoutAHeader) {
  const std::string with_header = WriteFile("a.vec", "2 3\n中 1 2 3 \n国 -0.5 0 1e-3\n");
  absl::StatusOr<TextVectors> read = ReadTextVectors(with_header);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->dim, 3);
  EXPECT_THAT(read->keys, ElementsAre("中", "国"));
  EXPECT_THAT(read->row(1), ElementsAre(-0.5f, 0.0f, 1e-3f));

  // No header, a byte-order mark, CRLF ends, tabs and blank lines (published files vary).
  const std::string plain = WriteFile("b.vec",
                                      "\xEF\xBB\xBF"
                                      "中\t1\t2\r\n\r\n国 3 4\r\n");
  read = ReadTextVectors(plain);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->dim, 2);
  EXPECT_THAT(read->keys, ElementsAre("中", "国"));
  EXPECT_THAT(read->values, ElementsAre(1, 2, 3, 4));
}

TEST(TextVectorsTest, KeepsWhatTheFilterAcceptsAndTheFirstOfDuplicates) {
  const std::string path = WriteFile("c.vec", "a 1\nb 2\na 3\nc 4\n");
  TextVectorsReadStats stats;
  absl::StatusOr<TextVectors> read = ReadTextVectors(
      path, [](absl::string_view key) { return key != "c"; }, &stats);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_THAT(read->keys, ElementsAre("a", "b"));
  EXPECT_THAT(read->values, ElementsAre(1, 2));
  EXPECT_EQ(stats.rows, 4);
  EXPECT_EQ(stats.skipped, 1);
  EXPECT_EQ(stats.duplicates, 1);
}

TEST(TextVectorsTest, MalformedFilesAreRefusedWithTheLine) {
  struct Case {
    const char* contents;
    const char* message;
  };
  for (const Case& c : {
           Case{"a 1 2\nb 3\n", ":2: 'b' has 1 values, expected 2"},
           Case{"a 1 nan\n", "is not a finite number"},
           Case{"a 1 x\n", "'x' is not a finite number"},
           Case{"3 2\na 1 2\nb 3 4\n", "announces 3 rows, the file has 2"},
           Case{"1 5000\n", "dim <= 4096"},
           Case{"a\n", "a row needs a key"},
           Case{"\n\n", "no vectors"},
       }) {
    absl::StatusOr<TextVectors> read = ReadTextVectors(WriteFile("bad.vec", c.contents));
    ASSERT_FALSE(read.ok()) << c.contents;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << c.contents;
    EXPECT_THAT(read.status().message(), HasSubstr(c.message)) << c.contents;
  }
  EXPECT_EQ(ReadTextVectors("/nonexistent/x.vec").status().code(), absl::StatusCode::kNotFound);
}

TEST(TextVectorsTest, WritesWhatItReadsBackAtomically) {
  TextVectors vectors;
  vectors.dim = 2;
  vectors.keys = {"北京", "，"};
  vectors.values = {0.1234567f, -2.0f, 1e-8f, 3.5f};
  const std::string dir = ner::testing::MakeTempDir("text_vectors_write");
  const std::string path = dir + "/out.vec";
  ASSERT_TRUE(WriteTextVectors(path, vectors).ok());
  absl::StatusOr<TextVectors> read = ReadTextVectors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->keys, vectors.keys);
  for (size_t i = 0; i < vectors.values.size(); ++i) {
    EXPECT_NEAR(read->values[i], vectors.values[i], 5e-6 * std::abs(vectors.values[i]))
        << "6 significant digits";
  }
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1) << "no temporary file left";

  // A key the format cannot hold is refused, and the file keeps its contents.
  vectors.keys[1] = "a b";
  EXPECT_EQ(WriteTextVectors(path, vectors).code(), absl::StatusCode::kInvalidArgument);
  vectors.keys[1] = "，";
  vectors.values.pop_back();
  EXPECT_EQ(WriteTextVectors(path, vectors).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ReadTextVectors(path).ok());
}

TEST(TextVectorsTest, BigramBucketHashesThePairWithNoCharacterAsMinusOne) {
  EXPECT_EQ(BigramBucket(-1, -1, 10, 1000), 0);
  EXPECT_EQ(BigramBucket(0, 0, 10, 1000), 12);
  EXPECT_EQ(BigramBucket(3, -1, 10, 1000), 44);
  EXPECT_EQ(BigramBucket(9, 9, 10, 7), (10 * 11 + 10) % 7);
}

}  // namespace
}  // namespace ner::model
