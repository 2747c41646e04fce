#ifndef NER_MODEL_METRICS_H_
#define NER_MODEL_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/entity.h"

namespace ner::model {

// Counts behind precision/recall/F1 of one entity type (or all of them).
struct PrfCounts {
  int64_t gold = 0;       // entities in the reference
  int64_t predicted = 0;  // entities in the prediction
  int64_t correct = 0;    // predicted entities with exactly the gold span and type

  // conlleval's definitions: precision = correct / predicted, recall = correct / gold,
  // F1 = 2PR / (P + R); each is 0 when its denominator is 0. Fractions in [0, 1].
  double precision() const;
  double recall() const;
  double f1() const;
};

// Entity-level exact-match evaluation (span and type), micro-averaged, as conlleval computes it.
// Not thread-safe: one per evaluation.
class EntityMetrics {
 public:
  // Adds one document's gold and predicted entities (any order; duplicates count as many).
  void Add(const std::vector<EntitySpan>& gold, const std::vector<EntitySpan>& predicted);
  // Merges another accumulator (e.g. from another thread).
  void Merge(const EntityMetrics& other);

  const PrfCounts& overall() const { return overall_; }
  // Per type, sorted by type; a type appears when it is in the gold or the prediction.
  const std::map<std::string, PrfCounts>& by_type() const { return by_type_; }
  int64_t documents() const { return documents_; }

  // A fixed-width table: type, gold, predicted, correct, P, R, F1 (percent), then the overall row.
  std::string FormatTable() const;
  // {"overall": {...}, "by_type": {"PER": {...}}, "documents": N}, fractions in [0, 1].
  std::string ToJson() const;

 private:
  PrfCounts overall_;
  std::map<std::string, PrfCounts> by_type_;
  int64_t documents_ = 0;
};

}  // namespace ner::model

#endif  // NER_MODEL_METRICS_H_
