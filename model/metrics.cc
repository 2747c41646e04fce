#include "model/metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace ner::model {

double PrfCounts::precision() const {
  return predicted == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(predicted);
}

double PrfCounts::recall() const {
  return gold == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(gold);
}

double PrfCounts::f1() const {
  const double p = precision();
  const double r = recall();
  return p + r == 0.0 ? 0.0 : 2.0 * p * r / (p + r);
}

void EntityMetrics::Add(const std::vector<EntitySpan>& gold,
                        const std::vector<EntitySpan>& predicted) {
  ++documents_;
  std::vector<EntitySpan> g = gold;
  std::vector<EntitySpan> p = predicted;
  std::sort(g.begin(), g.end());
  std::sort(p.begin(), p.end());
  for (const EntitySpan& e : g) {
    ++overall_.gold;
    ++by_type_[e.type].gold;
  }
  for (const EntitySpan& e : p) {
    ++overall_.predicted;
    ++by_type_[e.type].predicted;
  }
  // Multiset intersection of two sorted lists.
  size_t i = 0, j = 0;
  while (i < g.size() && j < p.size()) {
    if (g[i] < p[j]) {
      ++i;
    } else if (p[j] < g[i]) {
      ++j;
    } else {
      ++overall_.correct;
      ++by_type_[g[i].type].correct;
      ++i;
      ++j;
    }
  }
}

void EntityMetrics::Merge(const EntityMetrics& other) {
  auto add = [](PrfCounts& to, const PrfCounts& from) {
    to.gold += from.gold;
    to.predicted += from.predicted;
    to.correct += from.correct;
  };
  add(overall_, other.overall_);
  for (const auto& [type, counts] : other.by_type_) add(by_type_[type], counts);
  documents_ += other.documents_;
}

std::string EntityMetrics::FormatTable() const {
  size_t width = 7;
  for (const auto& [type, counts] : by_type_) width = std::max(width, type.size());
  std::string out = absl::StrFormat("%-*s %8s %9s %8s %7s %7s %7s\n", width, "type", "gold",
                                    "predicted", "correct", "P", "R", "F1");
  auto row = [&](const std::string& name, const PrfCounts& c) {
    absl::StrAppend(&out, absl::StrFormat("%-*s %8d %9d %8d %7.2f %7.2f %7.2f\n", width, name,
                                          c.gold, c.predicted, c.correct, 100 * c.precision(),
                                          100 * c.recall(), 100 * c.f1()));
  };
  for (const auto& [type, counts] : by_type_) row(type, counts);
  row("overall", overall_);
  return out;
}

std::string EntityMetrics::ToJson() const {
  auto to_json = [](const PrfCounts& c) {
    return nlohmann::json{{"gold", c.gold},           {"predicted", c.predicted},
                          {"correct", c.correct},     {"precision", c.precision()},
                          {"recall", c.recall()},     {"f1", c.f1()}};
  };
  nlohmann::json by_type = nlohmann::json::object();
  for (const auto& [type, counts] : by_type_) by_type[type] = to_json(counts);
  nlohmann::json out = {
      {"overall", to_json(overall_)}, {"by_type", by_type}, {"documents", documents_}};
  return out.dump(2);
}

}  // namespace ner::model
