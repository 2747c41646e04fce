// Where the serving time of one batch goes, for a real checkpoint (default: the shipped
// models/default, or $NER_BENCH_MODEL): pre-processing (Recognizer::Prepare: UTF-8 validation,
// segmentation, tokenization), the whole Recognizer::RunBatch the server's batcher calls, and
// inside it the network (input tensors + NerModel::Emissions) and the CRF (constrained Viterbi +
// forward-backward marginals). Texts: People's Daily test sentences joined to >= 100 characters,
// the load of issue 8's batching target; batches of 1, 20 (a server's at concurrency 64) and 64.
// Pre/post-processing + CRF share of the batch time =
//   (Prepare + RunBatch - Emissions) / (Prepare + RunBatch).
// NER_BENCH_DTYPE=bfloat16 (or any --dtype value) loads the model as the server's
// --encoder_dtype does (the BiLSTM's products in bf16; see docs/performance.md).

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/checkpoint.h"
#include "model/crf.h"
#include "model/dataset.h"
#include "model/device.h"
#include "model/recognizer.h"
#include "model/utf8.h"

namespace {

using ner::model::PreparedDocument;
using ner::model::PreparedPiece;
using ner::model::Recognizer;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// The model, its constraints and the texts, loaded once for all benchmarks.
struct Fixture {
  std::shared_ptr<const ner::model::Checkpoint> checkpoint;
  std::unique_ptr<Recognizer> recognizer;  // default options
  std::unique_ptr<ner::model::TransitionConstraints> constraints;
  std::vector<std::string> texts;
  std::string error;
};

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    const std::string dir = EnvOr("NER_BENCH_MODEL", NER_DEFAULT_MODEL_DIR);
    ner::model::LoadOptions load;
    auto dtype = ner::model::ParseDtype(EnvOr("NER_BENCH_DTYPE", "float32"));
    if (!dtype.ok()) {
      f->error = absl::StrCat("NER_BENCH_DTYPE: ", dtype.status().message());
      return f;
    }
    load.encoder_dtype = *dtype;
    auto checkpoint = ner::model::LoadCheckpoint(dir, load);
    if (!checkpoint.ok()) {
      f->error = absl::StrCat(dir, ": ", checkpoint.status().message());
      return f;
    }
    auto constraints = ner::model::BuildTransitionConstraints(checkpoint->config.labels);
    if (constraints.ok()) {
      f->constraints = std::make_unique<ner::model::TransitionConstraints>(*constraints);
    }
    f->checkpoint = std::make_shared<const ner::model::Checkpoint>(*std::move(checkpoint));
    auto recognizer = Recognizer::Create(f->checkpoint);
    if (!recognizer.ok()) {
      f->error = std::string(recognizer.status().message());
      return f;
    }
    f->recognizer = *std::move(recognizer);
    const std::string shared = EnvOr("NER_SHARED_DIR", NER_SHARED_DIR_DEFAULT);
    auto dataset = ner::model::ReadDataset(shared + "/data/peoples-daily/test.txt");
    if (!dataset.ok()) {
      f->error = absl::StrCat("People's Daily test set not found under ", shared,
                              " (set NER_SHARED_DIR): ", dataset.status().message());
      return f;
    }
    std::string current;
    for (const auto& document : dataset->documents) {
      current += document.text;
      if (ner::model::CountCodePoints(current) >= 100) {
        f->texts.push_back(std::move(current));
        current.clear();
      }
    }
    return f;
  }();
  return *fixture;
}

// The first `n` texts, prepared.
std::vector<PreparedDocument> Prepared(const Fixture& f, int n) {
  std::vector<PreparedDocument> documents;
  for (int i = 0; i < n; ++i) documents.push_back(*f.recognizer->Prepare(f.texts[i]));
  return documents;
}

// One piece per document (a ~100-character text is one piece) and its owner.
void Pieces(const std::vector<PreparedDocument>& documents,
            std::vector<const PreparedPiece*>* pieces,
            std::vector<const PreparedDocument*>* owners) {
  for (const PreparedDocument& d : documents) {
    for (const PreparedPiece& p : d.pieces) {
      pieces->push_back(&p);
      owners->push_back(&d);
    }
  }
}

ner::model::TokenBatch ToBatch(const std::vector<const PreparedPiece*>& pieces) {
  size_t longest = 0;
  for (const PreparedPiece* p : pieces) longest = std::max(longest, p->tokens.size());
  auto ids = torch::zeros({static_cast<int64_t>(pieces.size()), static_cast<int64_t>(longest)},
                          torch::kInt64);
  auto mask = torch::zeros_like(ids, torch::kBool);
  for (size_t b = 0; b < pieces.size(); ++b) {
    for (size_t t = 0; t < pieces[b]->tokens.size(); ++t) {
      ids[b][t] = pieces[b]->tokens[t].id;
      mask[b][t] = true;
    }
  }
  return {ids, mask};
}

int64_t Characters(const std::vector<const PreparedPiece*>& pieces) {
  int64_t n = 0;
  for (const PreparedPiece* p : pieces) n += p->end_char - p->begin_char;
  return n;
}

#define NER_FIXTURE_OR_SKIP(state)               \
  const Fixture& f = GetFixture();               \
  if (!f.error.empty() || f.texts.size() < 64) { \
    (state).SkipWithError(f.error.c_str());      \
    return;                                      \
  }

void BM_Prepare(benchmark::State& state) {
  NER_FIXTURE_OR_SKIP(state);
  const int n = static_cast<int>(state.range(0));
  int64_t characters = 0;
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) {
      auto prepared = f.recognizer->Prepare(f.texts[i]);
      benchmark::DoNotOptimize(prepared);
    }
  }
  for (int i = 0; i < n; ++i) characters += ner::model::CountCodePoints(f.texts[i]);
  state.counters["chars/s"] = benchmark::Counter(static_cast<double>(characters),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_RunBatch(benchmark::State& state) {
  NER_FIXTURE_OR_SKIP(state);
  const std::vector<PreparedDocument> documents = Prepared(f, static_cast<int>(state.range(0)));
  std::vector<const PreparedPiece*> pieces;
  std::vector<const PreparedDocument*> owners;
  Pieces(documents, &pieces, &owners);
  for (auto _ : state) {
    auto entities = f.recognizer->RunBatch(pieces, owners);
    benchmark::DoNotOptimize(entities);
  }
  state.counters["chars/s"] = benchmark::Counter(static_cast<double>(Characters(pieces)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// RunBatch of range(0) texts with Options::max_forward_tokens = range(1) (0 = one forward).
void BM_RunBatchForwardTokens(benchmark::State& state) {
  NER_FIXTURE_OR_SKIP(state);
  Recognizer::Options options;
  options.max_forward_tokens = state.range(1);
  auto recognizer = Recognizer::Create(f.checkpoint, options);
  if (!recognizer.ok()) {
    state.SkipWithError(std::string(recognizer.status().message()).c_str());
    return;
  }
  const std::vector<PreparedDocument> documents = Prepared(f, static_cast<int>(state.range(0)));
  std::vector<const PreparedPiece*> pieces;
  std::vector<const PreparedDocument*> owners;
  Pieces(documents, &pieces, &owners);
  for (auto _ : state) {
    auto entities = (*recognizer)->RunBatch(pieces, owners);
    benchmark::DoNotOptimize(entities);
  }
  state.counters["chars/s"] = benchmark::Counter(static_cast<double>(Characters(pieces)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Emissions(benchmark::State& state) {
  NER_FIXTURE_OR_SKIP(state);
  const std::vector<PreparedDocument> documents = Prepared(f, static_cast<int>(state.range(0)));
  std::vector<const PreparedPiece*> pieces;
  std::vector<const PreparedDocument*> owners;
  Pieces(documents, &pieces, &owners);
  const auto model = f.recognizer->checkpoint().model.ptr();
  c10::InferenceMode guard;
  for (auto _ : state) {
    torch::Tensor emissions = model->Emissions(ToBatch(pieces));
    benchmark::DoNotOptimize(emissions.data_ptr());
  }
}

void BM_CrfDecodeAndMarginals(benchmark::State& state) {
  NER_FIXTURE_OR_SKIP(state);
  const std::vector<PreparedDocument> documents = Prepared(f, static_cast<int>(state.range(0)));
  std::vector<const PreparedPiece*> pieces;
  std::vector<const PreparedDocument*> owners;
  Pieces(documents, &pieces, &owners);
  const auto model = f.recognizer->checkpoint().model.ptr();
  c10::InferenceMode guard;
  const ner::model::TokenBatch batch = ToBatch(pieces);
  const torch::Tensor emissions = model->Emissions(batch).to(torch::kFloat32);
  for (auto _ : state) {
    auto paths = model->crf()->Decode(emissions, batch.mask, f.constraints.get());
    torch::Tensor marginals = model->crf()->Marginals(emissions, batch.mask);
    benchmark::DoNotOptimize(paths);
    benchmark::DoNotOptimize(marginals.data_ptr());
  }
}

BENCHMARK(BM_Prepare)->Arg(1)->Arg(20)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RunBatch)->Arg(1)->Arg(20)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RunBatchForwardTokens)
    ->ArgsProduct({{64}, {0, 512, 1024, 2048, 4096, 8192}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Emissions)->Arg(1)->Arg(20)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrfDecodeAndMarginals)->Arg(1)->Arg(20)->Arg(64)->Unit(benchmark::kMillisecond);

}  // namespace
