#ifndef NER_MODEL_TORCH_PICKLE_H_
#define NER_MODEL_TORCH_PICKLE_H_

// Reads the zip-format checkpoints that PyTorch's torch.save writes (e.g. HuggingFace
// `pytorch_model.bin`) without LibTorch. LibTorch 1.13's torch::pickle_load cannot read them: they
// hold a `collections.OrderedDict`.
//
// The archive is `<dir>/data.pkl` (a pickle) plus one `<dir>/data/<key>` entry per storage, all
// STORED (uncompressed). The pickle runs on a small, safe virtual machine: it knows the opcodes
// torch.save emits (protocol 2, plus a few harmless later ones) and only these globals:
// collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and
// the torch.*Storage types. Any other global is refused; nothing is ever executed.
//
// Readers validate everything and never crash, whatever the input: they are meant to be fuzzed.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/raw_tensor.h"

namespace ner::model {

// Parses a whole torch.save zip archive held in memory into its flat state dict: the pickled
// object must be a dict or OrderedDict mapping strings to tensors. Every tensor comes back
// contiguous, honouring storage offset and strides; tensors sharing a storage get their own copy.
// Errors: INVALID_ARGUMENT for a malformed zip or pickle, a forbidden global, a compressed entry,
// a non-tensor value or a view outside its storage; DATA_LOSS for a CRC mismatch;
// RESOURCE_EXHAUSTED past the built-in limits (pickle stack/memo/objects, or tensors totalling
// more than 4x the archive size + 64 MiB, which only hostile stride-0 views reach). Thread-safe.
absl::StatusOr<RawTensorMap> ParseTorchCheckpoint(std::string_view zip_bytes);

// Reads the file at `path` and parses it as ParseTorchCheckpoint does, with the path in every error
// message (NOT_FOUND when the file is missing). Holds the whole file in memory while parsing.
// Thread-safe.
absl::StatusOr<RawTensorMap> ReadTorchCheckpoint(const std::string& path);

}  // namespace ner::model

#endif  // NER_MODEL_TORCH_PICKLE_H_
