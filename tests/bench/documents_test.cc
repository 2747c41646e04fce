#include "bench/load/documents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace ner::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(ReadDocumentsTest, Lines) {
  const auto docs = ReadDocuments(WriteTemp("a.txt", "张三\n\n  李四在北京 \n"), TextFormat::kLines);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_THAT(*docs, ElementsAre("张三", "李四在北京"));
}

TEST(ReadDocumentsTest, Jsonl) {
  const auto docs = ReadDocuments(
      WriteTemp("a.jsonl", "{\"id\":\"1\",\"text\":\"张三\"}\n{\"text\":\"a b\"}\n"),
      TextFormat::kJsonl);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_THAT(*docs, ElementsAre("张三", "a b"));
  const auto bad = ReadDocuments(WriteTemp("b.jsonl", "{\"text\":\"x\"}\n{\"id\":2}\n"),
                                 TextFormat::kJsonl);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr(":2:"));
}

TEST(ReadDocumentsTest, ColumnSentences) {
  const auto docs = ReadDocuments(
      WriteTemp("a.bmes", "张 B-PER\n三 E-PER\n\n\n在 O\n京\tS-LOC\n"), TextFormat::kColumn);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_THAT(*docs, ElementsAre("张三", "在京"));
  EXPECT_FALSE(ReadDocuments(WriteTemp("b.bmes", "张\n"), TextFormat::kColumn).ok());
}

TEST(ReadDocumentsTest, JoinsToAMinimumLength) {
  const auto docs =
      ReadDocuments(WriteTemp("c.txt", "一二\n三四\n五六\n七\n"), TextFormat::kLines, 3);
  ASSERT_TRUE(docs.ok()) << docs.status();
  EXPECT_THAT(*docs, ElementsAre("一二三四", "五六七"));
}

TEST(ReadDocumentsTest, MissingAndEmptyFiles) {
  EXPECT_EQ(ReadDocuments("/nonexistent/x", TextFormat::kLines).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadDocuments(WriteTemp("e.txt", "\n\n"), TextFormat::kLines).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseTextFormat("csv").ok());
  EXPECT_EQ(CountCodePoints("a张三"), 3);
}

}  // namespace
}  // namespace ner::bench
