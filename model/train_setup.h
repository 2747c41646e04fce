#ifndef NER_MODEL_TRAIN_SETUP_H_
#define NER_MODEL_TRAIN_SETUP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/entity.h"
#include "model/tag_scheme.h"
#include "model/train_config.h"

namespace ner::model {

// Where the model of a new training run comes from.
struct InitialModelSource {
  // WordPiece vocabulary file; empty = <init>/vocab.txt (then `init` is required).
  std::string vocab_path;
  // A pretrained encoder checkpoint directory (published NEZHA/BERT layout, or `ner pretrain`
  // output) whose encoder weights initialise the model; empty = the config's preset, randomly
  // initialised. For bilstm-crf only its word embeddings are taken, as character embeddings
  // (char_embedding_dim becomes its hidden size).
  std::string init;
};

// Builds the fresh model of a new run, the same way for `ner train` and the Train RPC: entity
// types (hence CRF labels, in `scheme`) from the training documents, the encoder from `init` or
// `config.preset`, weights initialised from `config.seed`. Appends to `notes` (may be null) what
// a user should know: dev types never seen in training, encoder weights not taken from `init`.
// Errors: INVALID_ARGUMENT (no vocabulary, no entity in the training data, `init` with a variant
// without encoder), NOT_FOUND / INVALID_ARGUMENT from reading the vocabulary or `init`.
// Reseeds LibTorch's global generator.
absl::StatusOr<Checkpoint> BuildInitialModel(const TrainConfig& config,
                                             const std::vector<Document>& train,
                                             const std::vector<Document>& dev, TagScheme scheme,
                                             const InitialModelSource& source,
                                             std::vector<std::string>* notes);

}  // namespace ner::model

#endif  // NER_MODEL_TRAIN_SETUP_H_
