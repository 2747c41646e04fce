#include "model/evaluator.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "model/utf8.h"

namespace ner::model {

std::vector<EntitySpan> ToEntitySpans(const std::vector<RecognizedEntity>& entities) {
  std::vector<EntitySpan> spans;
  spans.reserve(entities.size());
  for (const RecognizedEntity& e : entities) spans.push_back({e.begin_char, e.end_char, e.type});
  return spans;
}

absl::StatusOr<Evaluation> Evaluate(const Recognizer& recognizer,
                                    const std::vector<Document>& documents,
                                    const EvaluationOptions& options) {
  Evaluation result;
  const absl::Time start = absl::Now();
  const size_t chunk = static_cast<size_t>(std::max(1, options.documents_per_chunk));
  for (size_t begin = 0; begin < documents.size(); begin += chunk) {
    const size_t end = std::min(documents.size(), begin + chunk);
    std::vector<std::string> texts;
    texts.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      if (absl::Status s = ValidateUtf8(documents[i].text); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("document '", documents[i].id, "': ", s.message()));
      }
      texts.push_back(documents[i].text);
      result.characters += CountCodePoints(documents[i].text);
    }
    absl::StatusOr<std::vector<std::vector<RecognizedEntity>>> recognized =
        recognizer.Recognize(texts, options.batch_pieces);
    if (!recognized.ok()) return recognized.status();
    for (size_t i = begin; i < end; ++i) {
      result.metrics.Add(documents[i].entities, ToEntitySpans((*recognized)[i - begin]));
    }
  }
  result.elapsed = absl::Now() - start;
  return result;
}

}  // namespace ner::model
