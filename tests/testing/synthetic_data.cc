#include "tests/testing/synthetic_data.h"

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "model/utf8.h"

namespace ner::testing {
namespace {

// Appends `piece` to `text` and, when `type` is set, records it as an entity (code points).
void Append(const std::u32string& piece, const char* type, std::u32string& text,
            std::vector<model::EntitySpan>& entities) {
  const auto begin = static_cast<int32_t>(text.size());
  text += piece;
  if (type != nullptr) entities.push_back({begin, static_cast<int32_t>(text.size()), type});
}

}  // namespace

std::vector<model::Document> SyntheticDocuments(int count, uint64_t seed) {
  static const std::u32string kPeople[] = {U"张三", U"李四", U"王五"};
  static const std::u32string kPlaces[] = {U"北京", U"上海", U"中国", U"南京"};
  static const std::u32string kOrgs[] = {U"华为公司", U"人民银行", U"北京大学"};
  std::mt19937_64 random(seed);
  auto pick = [&random](const auto& items) -> const std::u32string& {
    return items[random() % std::size(items)];
  };
  std::vector<model::Document> documents;
  for (int i = 0; i < count; ++i) {
    std::u32string text;
    std::vector<model::EntitySpan> entities;
    switch (random() % 4) {
      case 0:  // PER在LOC工作。
        Append(pick(kPeople), "PER", text, entities);
        Append(U"在", nullptr, text, entities);
        Append(pick(kPlaces), "LOC", text, entities);
        Append(U"工作。", nullptr, text, entities);
        break;
      case 1:  // PER去ORG了。
        Append(pick(kPeople), "PER", text, entities);
        Append(U"去", nullptr, text, entities);
        Append(pick(kOrgs), "ORG", text, entities);
        Append(U"了。", nullptr, text, entities);
        break;
      case 2:  // 我和PER说LOC的ORG。
        Append(U"我和", nullptr, text, entities);
        Append(pick(kPeople), "PER", text, entities);
        Append(U"说", nullptr, text, entities);
        Append(pick(kPlaces), "LOC", text, entities);
        Append(U"的", nullptr, text, entities);
        Append(pick(kOrgs), "ORG", text, entities);
        Append(U"。", nullptr, text, entities);
        break;
      default:  // 他到LOC来。
        Append(U"他到", nullptr, text, entities);
        Append(pick(kPlaces), "LOC", text, entities);
        Append(U"来。", nullptr, text, entities);
        break;
    }
    documents.push_back({absl::StrCat(seed, "-", i), model::EncodeUtf8(text), std::move(entities)});
  }
  return documents;
}

}  // namespace ner::testing
