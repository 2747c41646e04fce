#include "model/recognizer.h"

#include <torch/torch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/label_alignment.h"
#include "model/model_config.h"
#include "model/segmenter.h"

namespace ner::model {

Recognizer::Recognizer(std::shared_ptr<const Checkpoint> checkpoint, const Options& options,
                       std::unique_ptr<TransitionConstraints> constraints)
    : checkpoint_(std::move(checkpoint)),
      model_(checkpoint_->model.ptr()),
      options_(options),
      tokenizer_(checkpoint_->vocab),
      constraints_(std::move(constraints)),
      device_(torch::kCPU) {
  max_forward_tokens_ = options.max_forward_tokens;
  if (max_forward_tokens_ == kAutoForwardTokens) {
    max_forward_tokens_ = HasEncoder(checkpoint_->config.variant) ? kTransformerForwardTokens : 0;
  }
  for (const auto& p : checkpoint_->model->parameters()) {
    device_ = p.device();
    break;
  }
}

absl::StatusOr<std::unique_ptr<Recognizer>> Recognizer::Create(
    std::shared_ptr<const Checkpoint> checkpoint, const Options& options) {
  if (checkpoint == nullptr || !checkpoint->model || checkpoint->vocab == nullptr) {
    return absl::InvalidArgumentError("recognizer needs a loaded checkpoint");
  }
  if (options.max_forward_tokens < kAutoForwardTokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_forward_tokens must be >= 0 (0 = unbounded) or auto, got ",
        options.max_forward_tokens));
  }
  std::unique_ptr<TransitionConstraints> constraints;
  if (options.constrained_decoding) {
    absl::StatusOr<TransitionConstraints> built =
        BuildTransitionConstraints(checkpoint->config.labels);
    if (!built.ok()) return built.status();
    constraints = std::make_unique<TransitionConstraints>(*std::move(built));
  }
  return std::unique_ptr<Recognizer>(
      new Recognizer(std::move(checkpoint), options, std::move(constraints)));
}

absl::StatusOr<PreparedDocument> Recognizer::Prepare(std::string text) const {
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(text);
  if (!decoded.ok()) return decoded.status();
  PreparedDocument doc;
  doc.text = std::move(text);
  doc.decoded = *std::move(decoded);
  const std::u32string_view cps(doc.decoded.code_points);
  for (const TextPiece& piece : SegmentText(cps, checkpoint_->config.SegmentChars())) {
    PreparedPiece prepared;
    prepared.begin_char = piece.begin_char;
    prepared.end_char = piece.end_char;
    prepared.tokens = tokenizer_.Tokenize(cps.substr(piece.begin_char, piece.size()));
    if (prepared.tokens.empty()) continue;  // Only whitespace/control characters.
    for (Token& token : prepared.tokens) {
      token.begin_char += piece.begin_char;
      token.end_char += piece.begin_char;
    }
    doc.pieces.push_back(std::move(prepared));
  }
  return doc;
}

absl::StatusOr<std::vector<std::vector<RecognizedEntity>>> Recognizer::RunBatch(
    const std::vector<const PreparedPiece*>& pieces,
    const std::vector<const PreparedDocument*>& documents) const {
  std::vector<std::vector<RecognizedEntity>> results(pieces.size());
  if (pieces.empty()) return results;
  if (documents.size() != pieces.size()) {
    return absl::InvalidArgumentError("RunBatch needs one document per piece");
  }
  // Shortest first, so that each forward holds pieces of similar length: consecutive pieces are
  // added while pieces x longest stays within the bound (a piece longer than it runs alone).
  std::vector<size_t> order(pieces.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (max_forward_tokens_ > 0) {
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return pieces[a]->tokens.size() < pieces[b]->tokens.size();
    });
  }
  try {
    c10::InferenceMode guard;
    size_t begin = 0;
    while (begin < order.size()) {
      size_t end = max_forward_tokens_ == 0 ? order.size() : begin + 1;
      while (end < order.size() &&
             static_cast<int64_t>((end - begin + 1) * pieces[order[end]]->tokens.size()) <=
                 max_forward_tokens_) {
        ++end;
      }
      RunForward(pieces, documents, order, begin, end, results);
      begin = end;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("model failed: ", e.what_without_backtrace()));
  }
  return results;
}

void Recognizer::RunForward(const std::vector<const PreparedPiece*>& pieces,
                            const std::vector<const PreparedDocument*>& documents,
                            const std::vector<size_t>& order, size_t begin, size_t end,
                            std::vector<std::vector<RecognizedEntity>>& results) const {
  size_t longest = 0;
  for (size_t i = begin; i < end; ++i) {
    longest = std::max(longest, pieces[order[i]]->tokens.size());
  }
  const auto batch = static_cast<int64_t>(end - begin);
  const auto length = static_cast<int64_t>(longest);
  torch::Tensor ids = torch::zeros({batch, length}, torch::kInt64);
  torch::Tensor mask = torch::zeros({batch, length}, torch::kBool);
  auto ids_a = ids.accessor<int64_t, 2>();
  auto mask_a = mask.accessor<bool, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<Token>& tokens = pieces[order[begin + b]]->tokens;
    for (size_t t = 0; t < tokens.size(); ++t) {
      ids_a[b][t] = tokens[t].id;
      mask_a[b][t] = true;
    }
  }
  TokenBatch input{ids.to(device_), mask.to(device_)};
  const torch::Tensor emissions = model_->Emissions(input).to(torch::kFloat32);
  const std::vector<ViterbiResult> paths =
      model_->crf()->Decode(emissions, input.mask, constraints_.get());
  const torch::Tensor marginals = model_->crf()->Marginals(emissions, input.mask).to(torch::kCPU);
  const std::vector<std::string>& labels = checkpoint_->config.labels;
  for (int64_t b = 0; b < batch; ++b) {
    const size_t index = order[begin + b];
    std::vector<std::string> tags;
    tags.reserve(paths[b].path.size());
    for (int64_t label : paths[b].path) tags.push_back(labels[label]);
    const std::vector<TagSpan> spans = TagsToSpans(tags);
    const std::vector<Token>& tokens = pieces[index]->tokens;
    const PreparedDocument& document = *documents[index];
    for (const TagSpan& span : spans) {
      RecognizedEntity entity;
      entity.type = span.type;
      entity.begin_char = tokens[span.begin].begin_char;
      entity.end_char = tokens[span.end - 1].end_char;
      entity.begin_byte = document.decoded.byte_offsets[entity.begin_char];
      entity.end_byte = document.decoded.byte_offsets[entity.end_char];
      entity.text =
          document.text.substr(entity.begin_byte, entity.end_byte - entity.begin_byte);
      entity.score = static_cast<float>(
          SpanConfidence(marginals[b], span.begin, span.end, paths[b].path));
      results[index].push_back(std::move(entity));
    }
  }
}

absl::StatusOr<std::vector<std::vector<RecognizedEntity>>> Recognizer::Recognize(
    const std::vector<std::string>& texts, int max_batch_pieces) const {
  std::vector<PreparedDocument> docs;
  docs.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    absl::StatusOr<PreparedDocument> doc = Prepare(texts[i]);
    if (!doc.ok()) {
      return absl::Status(doc.status().code(),
                          absl::StrCat("document ", i, ": ", doc.status().message()));
    }
    docs.push_back(*std::move(doc));
  }
  // All pieces, sorted by length so that batches carry little padding.
  struct Ref {
    size_t doc;
    const PreparedPiece* piece;
  };
  std::vector<Ref> refs;
  for (size_t d = 0; d < docs.size(); ++d) {
    for (const PreparedPiece& p : docs[d].pieces) refs.push_back({d, &p});
  }
  std::stable_sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
    return a.piece->tokens.size() < b.piece->tokens.size();
  });
  std::vector<std::vector<RecognizedEntity>> results(texts.size());
  const size_t step = static_cast<size_t>(std::max(1, max_batch_pieces));
  for (size_t start = 0; start < refs.size(); start += step) {
    const size_t end = std::min(refs.size(), start + step);
    std::vector<const PreparedPiece*> pieces;
    std::vector<const PreparedDocument*> owners;
    for (size_t i = start; i < end; ++i) {
      pieces.push_back(refs[i].piece);
      owners.push_back(&docs[refs[i].doc]);
    }
    absl::StatusOr<std::vector<std::vector<RecognizedEntity>>> batch = RunBatch(pieces, owners);
    if (!batch.ok()) return batch.status();
    for (size_t i = start; i < end; ++i) {
      auto& out = results[refs[i].doc];
      for (RecognizedEntity& e : (*batch)[i - start]) out.push_back(std::move(e));
    }
  }
  for (auto& entities : results) {
    std::sort(entities.begin(), entities.end(),
              [](const RecognizedEntity& a, const RecognizedEntity& b) {
                return a.begin_char < b.begin_char;
              });
  }
  return results;
}

}  // namespace ner::model
