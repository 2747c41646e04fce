#include "model/train_setup.h"

#include <torch/torch.h>

#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/encoder_config.h"
#include "model/model_config.h"
#include "model/ner_model.h"
#include "model/vocab.h"

namespace ner::model {

absl::StatusOr<Checkpoint> BuildInitialModel(const TrainConfig& config,
                                             const std::vector<Document>& train,
                                             const std::vector<Document>& dev, TagScheme scheme,
                                             const InitialModelSource& source,
                                             std::vector<std::string>* notes) {
  std::vector<std::string> ignored;
  if (notes == nullptr) notes = &ignored;
  std::string vocab_path = source.vocab_path;
  if (vocab_path.empty() && !source.init.empty()) vocab_path = source.init + "/vocab.txt";
  if (vocab_path.empty()) {
    return absl::InvalidArgumentError("a vocabulary is required without an init checkpoint");
  }
  absl::StatusOr<Vocab> vocab = Vocab::Load(vocab_path);
  if (!vocab.ok()) return vocab.status();

  std::set<std::string> types;
  for (const Document& d : train) {
    for (const EntitySpan& e : d.entities) types.insert(e.type);
  }
  if (types.empty()) {
    return absl::InvalidArgumentError("the training data has no entities");
  }
  std::set<std::string> dev_only;
  for (const Document& d : dev) {
    for (const EntitySpan& e : d.entities) {
      if (types.count(e.type) == 0) dev_only.insert(e.type);
    }
  }
  if (!dev_only.empty()) {
    notes->push_back(absl::StrCat("dev types never seen in training (always missed): ",
                                  absl::StrJoin(dev_only, ", ")));
  }

  EncoderConfig encoder;
  if (HasEncoder(config.variant)) {
    absl::StatusOr<EncoderConfig> loaded =
        source.init.empty() ? EncoderPreset(config.preset) : LoadEncoderConfig(source.init);
    if (!loaded.ok()) return loaded.status();
    encoder = *loaded;
  }
  TrainConfig adjusted = config;
  if (!source.init.empty() && !HasEncoder(config.variant)) {
    // bilstm-crf: the init's word embeddings become the character embeddings, so their width
    // is the init's hidden size.
    absl::StatusOr<EncoderConfig> pretrained = LoadEncoderConfig(source.init);
    if (!pretrained.ok()) return pretrained.status();
    if (pretrained->hidden_size != config.char_embedding_dim) {
      notes->push_back(absl::StrCat("char_embedding_dim ", config.char_embedding_dim, " -> ",
                                    pretrained->hidden_size, " (the width of ", source.init,
                                    "'s word embeddings)"));
      adjusted.char_embedding_dim = pretrained->hidden_size;
    }
  }
  absl::StatusOr<ModelConfig> model_config = ModelConfigForTraining(
      adjusted, encoder, scheme, std::vector<std::string>(types.begin(), types.end()),
      vocab->size());
  if (!model_config.ok()) return model_config.status();

  Checkpoint checkpoint;
  checkpoint.config = *std::move(model_config);
  checkpoint.vocab = std::make_shared<const Vocab>(*std::move(vocab));
  torch::manual_seed(config.seed);
  absl::StatusOr<NerModel> net =
      CreateNerModel(checkpoint.config, checkpoint.vocab->cls_id(), checkpoint.vocab->sep_id());
  if (!net.ok()) return net.status();
  checkpoint.model = *net;
  if (!source.init.empty() && !HasEncoder(config.variant)) {
    if (absl::Status s = InitCharEmbeddingsFromPretrained(source.init, checkpoint.model);
        !s.ok()) {
      return s;
    }
    notes->push_back(absl::StrCat("character embeddings initialised from ", source.init,
                                  "'s word embeddings"));
  } else if (!source.init.empty()) {
    std::vector<std::string> init_notes;
    if (absl::Status s = InitEncoderFromPretrained(source.init, checkpoint.model, &init_notes);
        !s.ok()) {
      return s;
    }
    notes->push_back(absl::StrCat("encoder initialised from ", source.init));
    for (std::string& note : init_notes) notes->push_back(std::move(note));
  }
  return checkpoint;
}

}  // namespace ner::model
