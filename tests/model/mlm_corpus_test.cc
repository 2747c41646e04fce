#include "model/mlm_corpus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "model/utf8.h"
#include "model/vocab.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::ElementsAre;

std::shared_ptr<const Vocab> CharVocab() {
  std::string contents = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (char32_t c : std::u32string(U"一二三四五六七八九十。，")) {
    contents += EncodeUtf8(std::u32string(1, c)) + "\n";
  }
  absl::StatusOr<Vocab> vocab = Vocab::Parse(contents, "chars");
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  return std::make_shared<const Vocab>(*std::move(vocab));
}

// Token ids of `text` (one per character here).
std::vector<int32_t> Ids(const Tokenizer& tokenizer, std::u32string_view text) {
  std::vector<int32_t> ids;
  for (const Token& t : tokenizer.Tokenize(text)) ids.push_back(t.id);
  return ids;
}

std::vector<std::vector<int32_t>> Sequences(const SequencePacker& packer) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i + 1 < packer.offsets().size(); ++i) {
    out.emplace_back(packer.ids().begin() + packer.offsets()[i],
                     packer.ids().begin() + packer.offsets()[i + 1]);
  }
  return out;
}

TEST(SequencePackerTest, PacksWholeLinesWithSeparators) {
  const auto vocab = CharVocab();
  const Tokenizer tokenizer(vocab);
  SequencePacker packer(tokenizer, /*max_len=*/8);
  packer.AddLine(U"一二");   // [CLS] 一 二 [SEP]
  packer.AddLine(U"三 四");  // + 三 四 [SEP] = 7 tokens
  packer.AddLine(U"五");     // would make 9: new sequence
  packer.AddLine(U"   ");    // no tokens: skipped
  packer.Finish();
  const int32_t cls = vocab->cls_id(), sep = vocab->sep_id();
  const auto id = [&](const char* s) { return vocab->Find(s); };
  EXPECT_THAT(Sequences(packer),
              ElementsAre(ElementsAre(cls, id("一"), id("二"), sep, id("三"), id("四"), sep),
                          ElementsAre(cls, id("五"), sep)));
}

TEST(SequencePackerTest, CutsLongLinesAtSentenceEndsAndKeepsEveryToken) {
  const auto vocab = CharVocab();
  const Tokenizer tokenizer(vocab);
  SequencePacker packer(tokenizer, /*max_len=*/8);
  const std::u32string line = U"一二三。四五六七八。九十一二三四五六七八九十";
  packer.AddLine(line);
  packer.Finish();
  std::vector<int32_t> content;
  for (const auto& sequence : Sequences(packer)) {
    ASSERT_LE(sequence.size(), 8u);
    EXPECT_EQ(sequence.front(), vocab->cls_id());
    EXPECT_EQ(sequence.back(), vocab->sep_id());
    for (int32_t t : sequence) {
      if (t != vocab->cls_id() && t != vocab->sep_id()) content.push_back(t);
    }
  }
  EXPECT_EQ(content, Ids(tokenizer, line));
  // The first sentence ends at the first 。 (4 characters), so it is a piece of its own.
  const auto first = Sequences(packer).front();
  EXPECT_EQ(first[4], vocab->Find("。"));
}

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ListCorpusFilesTest, ExpandsDirectoriesToSortedTextFiles) {
  const std::string dir = ::ner::testing::MakeTempDir("corpus_list");
  const std::string b = WriteFile(dir, "b.txt", "二\n");
  const std::string a = WriteFile(dir, "a.txt", "一\n");
  WriteFile(dir, "SOURCES.md", "notes\n");
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(a, b));
  files = ListCorpusFiles(b + "," + a);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(b, a));
  EXPECT_EQ(ListCorpusFiles(dir + "/missing.txt").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ListCorpusFiles(::ner::testing::MakeTempDir("corpus_empty")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PackCorpusTest, StreamsFilesInOrderAndHonoursTheLineCap) {
  const auto vocab = CharVocab();
  const Tokenizer tokenizer(vocab);
  const std::string dir = ::ner::testing::MakeTempDir("corpus_pack");
  const std::string a = WriteFile(dir, "a.txt", "一二三\n四五\n\xff\xfe bad\n");
  const std::string b = WriteFile(dir, "b.txt", "六七八九\r\n十\n");
  CorpusOptions options;
  options.max_len = 6;
  int64_t invalid = 0;
  absl::StatusOr<PackedCorpus> corpus = PackCorpus({a, b}, tokenizer, options, &invalid);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->num_lines(), 5);
  EXPECT_EQ(invalid, 1);
  // Each next line would overflow 6 tokens, so every line is a sequence of its own.
  ASSERT_EQ(corpus->size(), 4);
  const auto seq = [&](int64_t i) {
    return std::vector<int32_t>(corpus->sequence(i).begin(), corpus->sequence(i).end());
  };
  const int32_t cls = vocab->cls_id(), sep = vocab->sep_id();
  const auto id = [&](const char* s) { return vocab->Find(s); };
  EXPECT_THAT(seq(0), ElementsAre(cls, id("一"), id("二"), id("三"), sep));
  EXPECT_THAT(seq(1), ElementsAre(cls, id("四"), id("五"), sep));
  EXPECT_THAT(seq(2), ElementsAre(cls, id("六"), id("七"), id("八"), id("九"), sep));
  EXPECT_THAT(seq(3), ElementsAre(cls, id("十"), sep));
  EXPECT_EQ(corpus->num_tokens(), 5 + 4 + 6 + 3);
  options.max_lines = 4;  // The invalid line counts: "十" is not read.
  corpus = PackCorpus({a, b}, tokenizer, options);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->num_lines(), 4);
  EXPECT_EQ(corpus->size(), 3);
  EXPECT_EQ(PackCorpus({dir + "/none.txt"}, tokenizer, options).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SplitCorpusTest, HoldsOutASeededDisjointSlice) {
  const CorpusSplit split = SplitCorpus(100, 10, 7);
  EXPECT_EQ(split.validation.size(), 10u);
  EXPECT_EQ(split.train.size(), 90u);
  std::set<int64_t> all(split.train.begin(), split.train.end());
  all.insert(split.validation.begin(), split.validation.end());
  EXPECT_EQ(all.size(), 100u);
  EXPECT_TRUE(std::is_sorted(split.validation.begin(), split.validation.end()));
  EXPECT_EQ(SplitCorpus(100, 10, 7).validation, split.validation);
  EXPECT_NE(SplitCorpus(100, 10, 8).validation, split.validation);
  // Not simply the tail: spread over the corpus.
  EXPECT_LT(split.validation.front(), 90);
  EXPECT_EQ(SplitCorpus(10, 8, 7).validation.size(), 5u) << "at most half";
}

TEST(EpochOrderTest, IsASeededPermutationPerEpoch) {
  std::vector<int64_t> train(50);
  for (int i = 0; i < 50; ++i) train[i] = 2 * i;
  const std::vector<int64_t> e0 = EpochOrder(train, 0, 1);
  const std::vector<int64_t> e1 = EpochOrder(train, 1, 1);
  EXPECT_EQ(e0, EpochOrder(train, 0, 1));
  EXPECT_NE(e0, e1);
  EXPECT_NE(e0, train);
  std::vector<int64_t> sorted = e1;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, train);
}

}  // namespace
}  // namespace ner::model
