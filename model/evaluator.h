#ifndef NER_MODEL_EVALUATOR_H_
#define NER_MODEL_EVALUATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/entity.h"
#include "model/metrics.h"
#include "model/recognizer.h"

namespace ner::model {

struct EvaluationOptions {
  // Pieces per model batch. The trainer's dev F1 and `ner evaluate` use the same value, so the
  // batches (and thus the floating-point results) are the same.
  int batch_pieces = 32;
  // Documents recognised per Recognizer::Recognize call (bounds memory on big test sets).
  int documents_per_chunk = 1024;
};

struct Evaluation {
  EntityMetrics metrics;   // entity-level exact match, micro-averaged (conlleval)
  int64_t characters = 0;  // code points of all documents
  absl::Duration elapsed;  // wall time of the recognition
};

// Recognises every document's text with `recognizer` and scores the entities against the gold
// ones (span and type). The model is used as it is: put it in eval mode first (a checkpoint from
// LoadCheckpoint is). INVALID_ARGUMENT for a document that is not valid UTF-8 (naming its id),
// INTERNAL when the model fails. Thread-safe as the Recognizer is.
absl::StatusOr<Evaluation> Evaluate(const Recognizer& recognizer,
                                    const std::vector<Document>& documents,
                                    const EvaluationOptions& options = {});

// The entities of a recognition as plain spans.
std::vector<EntitySpan> ToEntitySpans(const std::vector<RecognizedEntity>& entities);

}  // namespace ner::model

#endif  // NER_MODEL_EVALUATOR_H_
