#ifndef NER_MODEL_MLM_PRETRAIN_LOOP_H_
#define NER_MODEL_MLM_PRETRAIN_LOOP_H_

// The training loop of one `Pretrain` invocation (mlm_pretrainer.h sets it up).

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/encoder_config.h"
#include "model/mlm_checkpoint.h"
#include "model/mlm_corpus.h"
#include "model/mlm_masking.h"
#include "model/mlm_pretrainer.h"
#include "model/vocab.h"

namespace ner::model {

// The data of a pretraining run: packed corpus, train/validation split and masking tables.
struct PretrainData {
  std::shared_ptr<const Vocab> vocab;
  PackedCorpus corpus;
  CorpusSplit split;                          // split.train is non-empty.
  std::optional<MaskingVocab> masking_vocab;  // Always set (optional only to build it late).
};

// Runs one invocation: builds the MLM model (seeded by state.seed) and AdamW (weight decay off
// for biases and LayerNorm), restores options.output_dir when options.resume, evaluates a fresh
// run, plans the schedule, steps until a stop rule holds (see PretrainOptions), checkpointing as
// configured, then evaluates, saves and returns. `start` is when the invocation began (by
// environment.clock; the time budget counts from it). `state` holds the run's identity and data
// fingerprint (a fresh run) or the saved state (a resumed one). Throws c10::Error from LibTorch.
absl::StatusOr<PretrainResult> RunPretrainLoop(const PretrainOptions& options,
                                               const PretrainEnvironment& environment,
                                               absl::Time start, PretrainData data,
                                               PretrainState state,
                                               const EncoderConfig& encoder_config);

}  // namespace ner::model

#endif  // NER_MODEL_MLM_PRETRAIN_LOOP_H_
