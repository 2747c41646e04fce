#include "model/dataset.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/file_util.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DatasetTest, ParsesCharPerLineBmes) {
  const std::string contents = "张 B-NAME\n小 M-NAME\n勇 E-NAME\n： O\n\n中 S-LOC\n\n\n";
  absl::StatusOr<Dataset> dataset = ParseDataset(contents, "mem");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->scheme, TagScheme::kBmes);
  ASSERT_EQ(dataset->documents.size(), 2u);
  EXPECT_EQ(dataset->documents[0].text, "张小勇：");
  EXPECT_EQ(dataset->documents[0].id, "1");
  EXPECT_THAT(dataset->documents[0].entities, ElementsAre(EntitySpan{0, 3, "NAME"}));
  EXPECT_EQ(dataset->documents[1].id, "6");
  EXPECT_THAT(dataset->documents[1].entities, ElementsAre(EntitySpan{0, 1, "LOC"}));
}

TEST(DatasetTest, ParsesBioWithCrlfAndSpaceCharacter) {
  const std::string contents = "A B-PER\r\n  O\r\nb I-PER\r\n";
  absl::StatusOr<Dataset> dataset = ParseDataset(contents, "mem");
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ(dataset->scheme, TagScheme::kBio);
  ASSERT_EQ(dataset->documents.size(), 1u);
  EXPECT_EQ(dataset->documents[0].text, "A b");
  // The orphan I-PER after O starts an entity (conlleval).
  EXPECT_THAT(dataset->documents[0].entities,
              ElementsAre(EntitySpan{0, 1, "PER"}, EntitySpan{2, 3, "PER"}));
  EXPECT_EQ(dataset->orphan_entities, 1);
}

struct BadInput {
  const char* name;
  std::string contents;
  const char* message;
};

class DatasetErrorTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(DatasetErrorTest, NamesFileAndLine) {
  absl::StatusOr<Dataset> dataset = ParseDataset(GetParam().contents, "f.txt");
  ASSERT_FALSE(dataset.ok());
  EXPECT_EQ(dataset.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dataset.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Table, DatasetErrorTest,
    ::testing::Values(
        BadInput{"no_tag", "中 O\n国\n", "f.txt:2: expected 'CHAR TAG'"},
        BadInput{"two_chars", "中国 O\n", "f.txt:1: expected one character"},
        BadInput{"bad_tag", "中 O\n国 X-LOC\n", "f.txt:2: malformed tag"},
        BadInput{"control_in_tag", "中 O\r\n国 B-LOC\r\r\n", "f.txt:2: tag 'B-LOC\\r' has"},
        BadInput{"mixed_schemes", "中 B-LOC\n国 M-LOC\n\n人 I-PER\n", "f.txt:4:"},
        BadInput{"bad_utf8", "中 O\n\xFF O\n", "f.txt:2: invalid UTF-8 at byte 0"},
        BadInput{"json_broken", "{\"text\": \"ab\"}\n{\"text\": \n", "f.txt:2: not a JSON object"},
        BadInput{"json_no_text", "{\"id\": 1}\n", "f.txt:1: missing string field \"text\""},
        BadInput{
            "json_entity_out_of_text",
            "{\"text\": \"中国\", \"entities\": [{\"start\": 1, \"end\": 3, \"type\": \"X\"}]}\n",
            "f.txt:1: entity [1, 3) is outside the text of 2 characters"},
        BadInput{
            "json_entity_overlap",
            "{\"text\": \"中国人\", \"entities\": [{\"start\": 0, \"end\": 2, \"type\": \"X\"}, "
            "{\"start\": 1, \"end\": 3, \"type\": \"Y\"}]}\n",
            "overlaps"},
        BadInput{"json_entity_fields", "{\"text\": \"ab\", \"entities\": [{\"start\": 0}]}\n",
                 "f.txt:1: each entity needs"},
        BadInput{
            "json_empty_entity",
            "{\"text\": \"ab\", \"entities\": [{\"start\": 1, \"end\": 1, \"type\": \"X\"}]}\n",
            "is empty"}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

TEST(DatasetTest, JsonlRoundTripAndCharPerLineRoundTrip) {
  std::vector<Document> docs = {
      {"a", "张三在北京。", {{0, 2, "PER"}, {3, 5, "LOC"}}},
      {"b", "无实体", {}},
      {"c", "😀中 国", {{1, 4, "LOC"}}},
  };
  const std::string dir = ner::testing::MakeTempDir("dataset");
  const std::string jsonl = dir + "/docs.jsonl";
  ASSERT_TRUE(WriteJsonl(jsonl, docs).ok());
  absl::StatusOr<Dataset> back = ReadDataset(jsonl);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->documents.size(), 3u);
  for (size_t i = 0; i < docs.size(); ++i) {
    EXPECT_EQ(back->documents[i].id, docs[i].id);
    EXPECT_EQ(back->documents[i].text, docs[i].text);
    EXPECT_EQ(back->documents[i].entities, docs[i].entities);
  }

  for (TagScheme scheme : {TagScheme::kBio, TagScheme::kBioes, TagScheme::kBmes}) {
    const std::string cpl = dir + "/docs.txt";
    ASSERT_TRUE(WriteCharPerLine(cpl, docs, scheme).ok());
    absl::StatusOr<Dataset> again = ReadDataset(cpl, {DataFormat::kCharPerLine, scheme});
    ASSERT_TRUE(again.ok()) << again.status();
    ASSERT_EQ(again->documents.size(), 3u);
    for (size_t i = 0; i < docs.size(); ++i) {
      EXPECT_EQ(again->documents[i].text, docs[i].text);
      EXPECT_EQ(again->documents[i].entities, docs[i].entities);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(DatasetTest, AtomicWriteKeepsOldFileOnFailure) {
  const std::string dir = ner::testing::MakeTempDir("atomic");
  const std::string path = dir + "/out.jsonl";
  ASSERT_TRUE(WriteFileAtomically(path, "old\n").ok());
  // A document with a line break cannot be written char-per-line: nothing may change.
  EXPECT_FALSE(WriteCharPerLine(path, {{"x", "a\nb", {}}}, TagScheme::kBio).ok());
  EXPECT_EQ(*ReadFileToString(path), "old\n");
  // Writing into a missing directory fails cleanly.
  EXPECT_FALSE(WriteFileAtomically(dir + "/missing/out", "x").ok());
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "a temp file was left behind";
  std::filesystem::remove_all(dir);
}

TEST(FileUtilTest, ReadsPseudoFilesThatReportNoSize) {
#ifndef __linux__
  GTEST_SKIP() << "reads Linux's /proc";
#endif
  ASSERT_EQ(std::filesystem::file_size("/proc/self/stat"), 0u);
  absl::StatusOr<std::string> stat = ReadFileToString("/proc/self/stat");
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_GT(stat->size(), 20u);
  EXPECT_EQ(stat->back(), '\n');
  // The bound holds past the reported size too.
  EXPECT_EQ(ReadFileToString("/proc/self/maps", 16).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(DatasetTest, SplitLongDocumentsKeepsEntities) {
  // Two sentences of 6 characters; the entity in the second one moves to piece offsets.
  std::vector<Document> docs = {{"d", "张三去了。李四在北京。", {{0, 2, "PER"}, {7, 9, "LOC"}}}};
  int64_t split = 0;
  std::vector<Document> pieces = SplitLongDocuments(docs, 6, &split);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(pieces[0].id, "d#0");
  EXPECT_EQ(pieces[0].text, "张三去了。");
  EXPECT_THAT(pieces[0].entities, ElementsAre(EntitySpan{0, 2, "PER"}));
  EXPECT_EQ(pieces[1].text, "李四在北京。");
  EXPECT_THAT(pieces[1].entities, ElementsAre(EntitySpan{2, 4, "LOC"}));
  EXPECT_EQ(split, 0);

  // A hard cut through an entity splits it into two parts and counts it.
  std::vector<Document> hard = {{"h", "甲乙丙丁", {{1, 3, "X"}}}};
  std::vector<Document> cut = SplitLongDocuments(hard, 2, &split);
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_THAT(cut[0].entities, ElementsAre(EntitySpan{1, 2, "X"}));
  EXPECT_THAT(cut[1].entities, ElementsAre(EntitySpan{0, 1, "X"}));
  EXPECT_EQ(split, 1);
}

// The public counts of the paper's corpora (see ../shared/data/README.md).
struct CorpusCase {
  const char* file;
  int64_t sentences;
  int64_t chars;
  int64_t entities;
};

class SharedCorpusTest : public ::testing::TestWithParam<CorpusCase> {};

TEST_P(SharedCorpusTest, MatchesPublishedCounts) {
  NER_REQUIRE_SHARED(path, std::string("data/") + GetParam().file);
  absl::StatusOr<Dataset> dataset = ReadDataset(path);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const DatasetStats stats = ComputeStats(dataset->documents);
  EXPECT_EQ(stats.documents, GetParam().sentences);
  EXPECT_EQ(stats.characters, GetParam().chars);
  // Published counts are of B-/S- tags; a few orphan I-/M- starts are entities too (conlleval).
  EXPECT_EQ(stats.entities - dataset->orphan_entities, GetParam().entities);
  EXPECT_LE(dataset->orphan_entities, 5);
}

INSTANTIATE_TEST_SUITE_P(
    Shared, SharedCorpusTest,
    ::testing::Values(CorpusCase{"resume/train.char.bmes", 3821, 124099, 13438},
                      CorpusCase{"resume/dev.char.bmes", 463, 13890, 1497},
                      CorpusCase{"resume/test.char.bmes", 477, 15100, 1630},
                      CorpusCase{"peoples-daily/dev.txt", 2318, 109870, 3819},
                      CorpusCase{"peoples-daily/test.txt", 4636, 219197, 7707},
                      CorpusCase{"peoples-daily/train.txt", 20864, 869282, 27488}),
    [](const ::testing::TestParamInfo<CorpusCase>& info) {
      std::string name = info.param.file;
      for (char& c : name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace ner::model
