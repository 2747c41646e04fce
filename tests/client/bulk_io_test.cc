// The bulk command's input lines, output records and the resume scan of an existing output.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "client/cli/bulk_input.h"
#include "client/cli/bulk_output.h"
#include "client/cli/terminal.h"
#include "tests/testing/shared_data.h"

namespace ner::client::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

TEST(BulkInputTest, ParsesJsonlAndTextLines) {
  struct Case {
    std::string line;
    InputFormat format;
    bool skipped;
    std::string id;
    std::string text;
    absl::StatusCode code;
  };
  const std::vector<Case> cases = {
      {R"({"id": "a1", "text": "张三"})", InputFormat::kJsonl, false, "a1", "张三",
       absl::StatusCode::kOk},
      {R"({"id": 17, "text": "x"})", InputFormat::kJsonl, false, "17", "x", absl::StatusCode::kOk},
      {R"({"text": "no id"})", InputFormat::kJsonl, false, "5", "no id", absl::StatusCode::kOk},
      {"{\"text\": \"crlf\"}\r", InputFormat::kJsonl, false, "5", "crlf", absl::StatusCode::kOk},
      {"   ", InputFormat::kJsonl, true, "", "", absl::StatusCode::kOk},
      {"{\"id\": \"a\"}", InputFormat::kJsonl, false, "5", "", absl::StatusCode::kInvalidArgument},
      {"not json", InputFormat::kJsonl, false, "5", "", absl::StatusCode::kInvalidArgument},
      {R"({"id": [1], "text": "x"})", InputFormat::kJsonl, false, "5", "x",
       absl::StatusCode::kInvalidArgument},
      {"李四去上海\r", InputFormat::kText, false, "5", "李四去上海", absl::StatusCode::kOk},
      {"", InputFormat::kText, false, "5", "", absl::StatusCode::kOk},
  };
  for (const Case& c : cases) {
    std::optional<InputDocument> document = ParseInputLine(c.line, 5, c.format);
    ASSERT_EQ(!document.has_value(), c.skipped) << c.line;
    if (c.skipped) continue;
    EXPECT_EQ(document->error.code(), c.code) << c.line;
    if (c.code != absl::StatusCode::kOk) continue;
    EXPECT_EQ(document->id, c.id) << c.line;
    EXPECT_EQ(document->text, c.text) << c.line;
    EXPECT_EQ(document->line, 5);
  }
}

TEST(BulkInputTest, ReaderDetectsTheFormatAndCountsBytesAndLines) {
  const std::string dir = ner::testing::MakeTempDir("bulk_input");
  const std::string path = dir + "/docs";  // no extension: the first line decides
  std::ofstream(path) << "\n{\"id\": \"a\", \"text\": \"张三\"}\n{\"text\": \"李四\"}";
  absl::StatusOr<std::unique_ptr<InputReader>> reader = InputReader::Open(path, InputFormat::kAuto);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->format(), InputFormat::kJsonl);
  EXPECT_EQ((*reader)->total_lines(), 3);
  std::vector<std::string> ids;
  for (;;) {
    absl::StatusOr<std::optional<InputDocument>> next = (*reader)->Next();
    ASSERT_TRUE(next.ok());
    if (!next->has_value()) break;
    ids.push_back((*next)->id);
  }
  EXPECT_THAT(ids, ::testing::ElementsAre("a", "3"));
  EXPECT_EQ((*reader)->bytes_read(), *(*reader)->total_bytes());

  std::ofstream(dir + "/plain") << "张三\n{not json\n";
  reader = InputReader::Open(dir + "/plain", InputFormat::kAuto);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->format(), InputFormat::kText);
  EXPECT_EQ(InputReader::Open(dir + "/missing", InputFormat::kAuto).status().code(),
            absl::StatusCode::kNotFound);
}

v1::DocumentResult SampleResult() {
  v1::DocumentResult result;
  result.set_id("d1");
  v1::Entity* e = result.add_entities();
  e->set_text("张三");
  e->set_type("PER");
  e->set_begin_char(0);
  e->set_end_char(2);
  e->set_begin_byte(0);
  e->set_end_byte(6);
  e->set_score(0.5);
  e = result.add_entities();
  e->set_text("上海");
  e->set_type("LOC");
  e->set_begin_char(4);
  e->set_end_char(6);
  e->set_begin_byte(12);
  e->set_end_byte(18);
  e->set_score(0.25);
  return result;
}

TEST(BulkOutputTest, FormatsRecords) {
  const std::string text = "张三\n去上海";
  EXPECT_EQ(
      FormatResultRecord(OutputFormat::kJsonl, "d1", text, SampleResult()),
      R"({"id":"d1","text":"张三\n去上海","entities":[)"
      R"({"start":0,"end":2,"type":"PER","text":"张三","score":0.5,"begin_byte":0,"end_byte":6},)"
      R"({"start":4,"end":6,"type":"LOC","text":"上海","score":0.25,"begin_byte":12,"end_byte":18}]})"
      "\n");
  EXPECT_EQ(FormatResultRecord(OutputFormat::kBio, "d1", text, SampleResult()),
            "#doc \"d1\"\n张 B-PER\n三 I-PER\n  O\n去 O\n上 B-LOC\n海 I-LOC\n\n");
  EXPECT_EQ(FormatResultRecord(OutputFormat::kBrat, "d1", text, SampleResult()),
            "#doc \"d1\"\nT1\tPER 0 2\t张三\n#1\tAnnotatorNotes T1\tscore=0.5000\n"
            "T2\tLOC 4 6\t上海\n#2\tAnnotatorNotes T2\tscore=0.2500\n\n");
  EXPECT_EQ(FormatErrorRecord(OutputFormat::kJsonl, "7", absl::InvalidArgumentError("bad")),
            "{\"id\":\"7\",\"error\":{\"code\":\"INVALID_ARGUMENT\",\"message\":\"bad\"}}\n");
  EXPECT_EQ(FormatErrorRecord(OutputFormat::kBio, "7", absl::InvalidArgumentError("bad")),
            "#doc \"7\"\n#error {\"code\":\"INVALID_ARGUMENT\",\"message\":\"bad\"}\n\n");
}

absl::StatusOr<ExistingOutput> Scan(OutputFormat format, const std::string& contents) {
  std::istringstream in(contents);
  return ScanOutput(format, in, "out");
}

TEST(BulkOutputTest, ScanFindsCompleteRecordsAndTheUnfinishedTail) {
  for (const OutputFormat format :
       {OutputFormat::kJsonl, OutputFormat::kBio, OutputFormat::kBrat}) {
    const std::string a = FormatResultRecord(format, "a", "张三\n去上海", SampleResult());
    const std::string b = FormatErrorRecord(format, "b", absl::DeadlineExceededError("late"));
    const std::string c = FormatResultRecord(format, "c", "张三\n去上海", SampleResult());
    const std::string complete = a + b + c;
    absl::StatusOr<ExistingOutput> scan = Scan(format, complete);
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_THAT(scan->ids, UnorderedElementsAre("a", "b", "c"));
    EXPECT_THAT(scan->error_ids, UnorderedElementsAre("b"));
    ASSERT_EQ(scan->error_ranges.size(), 1u);
    EXPECT_EQ(scan->error_ranges[0].first, a.size());
    EXPECT_EQ(scan->error_ranges[0].second, a.size() + b.size());
    EXPECT_EQ(scan->valid_bytes, complete.size());
    EXPECT_EQ(scan->total_bytes, complete.size());
    EXPECT_EQ(scan->records, 3);

    // Every cut inside the last record leaves exactly the first two.
    for (size_t cut = a.size() + b.size() + 1; cut < complete.size(); ++cut) {
      scan = Scan(format, complete.substr(0, cut));
      ASSERT_TRUE(scan.ok()) << scan.status() << " cut " << cut;
      EXPECT_THAT(scan->ids, UnorderedElementsAre("a", "b")) << "cut " << cut;
      EXPECT_EQ(scan->valid_bytes, a.size() + b.size()) << "cut " << cut;
      EXPECT_EQ(scan->total_bytes, cut);
    }
  }
}

TEST(BulkOutputTest, GarbageBeforeCompleteRecordsIsNotOurs) {
  const std::string a = FormatResultRecord(OutputFormat::kJsonl, "a", "x", v1::DocumentResult());
  absl::StatusOr<ExistingOutput> scan = Scan(OutputFormat::kJsonl, "hello\n" + a);
  EXPECT_EQ(scan.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(scan.status().message(), HasSubstr("out:1"));
  // Garbage only at the end (a crash mid-write, then a newline) is a repairable tail.
  scan = Scan(OutputFormat::kJsonl, a + "{\"id\":\"b\",\"tex\n");
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->valid_bytes, a.size());
  scan = Scan(OutputFormat::kBio, "张 O\n\n");
  EXPECT_TRUE(scan.ok());
  EXPECT_EQ(scan->valid_bytes, 0u);
}

TEST(TerminalTest, HighlightsAndMeasures) {
  const v1::DocumentResult result = SampleResult();
  const std::vector<v1::Entity> entities(result.entities().begin(), result.entities().end());
  EXPECT_EQ(HighlightEntities("张三\n去上海", entities, false), "[张三]/PER\n去[上海]/LOC");
  EXPECT_EQ(HighlightEntities("张三\n去上海", entities, true),
            absl::StrCat(TypeColor("PER"), "张三", kColorReset, "\n去", TypeColor("LOC"), "上海",
                         kColorReset));
  EXPECT_EQ(DisplayWidth("张三ab"), 6);
  EXPECT_EQ(DisplayWidth(absl::StrCat(TypeColor("PER"), "PER", kColorReset)), 3);
  EXPECT_EQ(SplitCodePoints("a张😀\xff").size(), 4u);
  EXPECT_EQ(FormatTable({"type", "text"}, {{"PER", "张三"}, {"LOCATION", "x"}}),
            "type      text\n--------  ----\nPER       张三\nLOCATION  x\n");
}

}  // namespace
}  // namespace ner::client::cli
