#include "tests/testing/tiny_model.h"

#include <torch/torch.h>

#include "model/utf8.h"

namespace ner::testing {

std::shared_ptr<const model::Vocab> TinyVocab() {
  std::string contents = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (char c = 'a'; c <= 'z'; ++c) contents += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  for (char c = '0'; c <= '9'; ++c) contents += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  for (const char* p : {"，", "。", "！", "？", "、", "：", "“", "”", ",", ".", "!", "?"}) {
    contents += std::string(p) + "\n";
  }
  const std::u32string cjk =
      U"张三李四王五在北京上海大学工作中国人民银行华为公司的是了和有我他她说年月日去来到东西南";
  for (char32_t c : cjk) contents += model::EncodeUtf8(std::u32string(1, c)) + "\n";
  absl::StatusOr<model::Vocab> vocab = model::Vocab::Parse(contents, "tiny");
  return std::make_shared<const model::Vocab>(*std::move(vocab));
}

model::EncoderConfig TinyEncoderConfig(model::EncoderKind kind, int64_t vocab_size) {
  model::EncoderConfig config;
  config.kind = kind;
  config.vocab_size = vocab_size;
  config.hidden_size = 32;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.intermediate_size = 64;
  config.max_relative_position = 8;
  config.max_position_embeddings = 512;
  return config;
}

model::Checkpoint TinyCheckpoint(model::Variant variant, uint64_t seed) {
  torch::manual_seed(seed);
  model::Checkpoint checkpoint;
  checkpoint.vocab = TinyVocab();
  const model::EncoderKind kind = variant == model::Variant::kBertBiLstmCrf
                                      ? model::EncoderKind::kBert
                                      : model::EncoderKind::kNezha;
  checkpoint.config = model::MakeModelConfig(
      variant, TinyEncoderConfig(kind, checkpoint.vocab->size()), model::TagScheme::kBio,
      {"PER", "LOC", "ORG"});
  checkpoint.config.lstm_hidden = 16;
  checkpoint.config.char_embedding_dim = 24;
  checkpoint.model = model::NerModel(checkpoint.config, checkpoint.vocab->cls_id(),
                                     checkpoint.vocab->sep_id());
  // Spread the random weights so that decoding produces varied paths.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : checkpoint.model->parameters()) p.uniform_(-0.5, 0.5);
    // Make "O" less attractive so that the random model tags a fair share of entities.
    for (auto& item : checkpoint.model->named_parameters()) {
      if (item.key() == "emissions.bias") item.value()[0] = -1.5;
    }
  }
  checkpoint.model->eval();
  return checkpoint;
}

}  // namespace ner::testing
