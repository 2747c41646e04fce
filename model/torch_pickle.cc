#include "model/torch_pickle.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/pickle_machine.h"
#include "model/zip_archive.h"

namespace ner::model {
namespace {

constexpr size_t kMaxDims = 64;
constexpr size_t kMaxExternals = size_t{1} << 20;

absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(what); }

// Debian's Abseil has its own string_view type, which StrCat needs.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The only globals a checkpoint may name. Storage types are kStorage + DType.
enum Global : int64_t { kOrderedDict, kRebuildTensorV2, kRebuildParameter, kStorage };

// A typed storage (sizes/strides empty) or a view of one: what _rebuild_tensor_v2 returns.
struct TensorView {
  bool is_tensor = false;
  DType dtype = DType::kF32;
  std::string_view storage;  // storage_numel elements: a prefix of a zip entry.
  int64_t storage_numel = 0;
  int64_t offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

// Copies the elements `view` selects into a contiguous row-major buffer. Precondition: the view
// was validated by RebuildTensor.
std::string Materialize(const TensorView& view) {
  const int64_t size = DTypeSize(view.dtype);
  const int64_t numel = *CheckedNumel(view.sizes);
  std::string out(static_cast<size_t>(numel * size), '\0');
  if (numel == 0) return out;
  const int dims = static_cast<int>(view.sizes.size());
  // Copy runs along the last dim; an odometer walks the others.
  const int64_t run = dims == 0 ? 1 : view.sizes[dims - 1];
  const int64_t run_stride = dims == 0 ? 1 : view.strides[dims - 1];
  std::vector<int64_t> index(dims > 0 ? dims - 1 : 0, 0);
  char* dst = out.data();
  for (int64_t done = 0; done < numel; done += run) {
    int64_t src = view.offset;
    for (int d = 0; d + 1 < dims; ++d) src += index[d] * view.strides[d];
    if (run_stride == 1) {
      std::memcpy(dst, view.storage.data() + src * size, static_cast<size_t>(run * size));
      dst += run * size;
    } else {
      for (int64_t k = 0; k < run; ++k, dst += size) {
        std::memcpy(dst, view.storage.data() + (src + k * run_stride) * size, size);
      }
    }
    for (int d = dims - 2; d >= 0 && ++index[d] == view.sizes[d]; --d) index[d] = 0;
  }
  return out;
}

// What torch.save pickles may do: build OrderedDicts, storages and tensors, nothing else.
class TorchHooks : public PickleHooks {
 public:
  // `entries` must outlive the hooks; storages are `<storage_prefix><key>` entries.
  TorchHooks(const ZipEntries& entries, std::string storage_prefix)
      : entries_(entries), storage_prefix_(std::move(storage_prefix)) {}

  // The tensor a value stands for, or nullptr.
  const TensorView* Tensor(const PickleValue& value) const {
    if (value.kind != PickleKind::kExternal) return nullptr;
    const TensorView& view = externals_[static_cast<size_t>(value.i)];
    return view.is_tensor ? &view : nullptr;
  }

  absl::StatusOr<int64_t> ResolveGlobal(std::string_view module, std::string_view name) override {
    if (module == "collections" && name == "OrderedDict") return kOrderedDict;
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") return kRebuildTensorV2;
    if (module == "torch._utils" && name == "_rebuild_parameter") return kRebuildParameter;
    static constexpr std::pair<std::string_view, DType> kStorages[] = {
        {"FloatStorage", DType::kF32},     {"HalfStorage", DType::kF16},
        {"BFloat16Storage", DType::kBF16}, {"DoubleStorage", DType::kF64},
        {"LongStorage", DType::kI64},      {"IntStorage", DType::kI32},
        {"ShortStorage", DType::kI16},     {"CharStorage", DType::kI8},
        {"ByteStorage", DType::kU8},       {"BoolStorage", DType::kBool}};
    for (const auto& [storage, dtype] : kStorages) {
      if (module == "torch" && name == storage) return kStorage + static_cast<int64_t>(dtype);
    }
    return Invalid(absl::StrCat("refusing global '", AsAbsl(module), ".", AsAbsl(name),
                                "': a checkpoint may only hold OrderedDicts and tensors"));
  }

  absl::StatusOr<PickleValue> Call(PickleMachine& machine, int64_t id,
                                   const std::vector<PickleValue>& args) override {
    switch (id) {
      case kOrderedDict:
        if (!args.empty()) return Invalid("OrderedDict() with arguments is not supported");
        return machine.NewObject(PickleKind::kDict, PickleObject{});
      case kRebuildTensorV2:
        return RebuildTensor(machine, args);
      case kRebuildParameter:  // (data, requires_grad, backward_hooks): the data is the tensor.
        if (args.size() != 3 || Tensor(args[0]) == nullptr) {
          return Invalid("_rebuild_parameter needs (tensor, requires_grad, backward_hooks)");
        }
        return args[0];
      default:
        return Invalid("a storage type cannot be called");
    }
  }

  // ('storage', storage_type, key, location, numel) -> a typed view of `<prefix><key>`.
  absl::StatusOr<PickleValue> PersistentLoad(PickleMachine& machine,
                                             const PickleValue& pid) override {
    const std::vector<PickleValue>* items =
        pid.kind == PickleKind::kTuple ? &machine.object(pid).items : nullptr;
    if (items == nullptr || items->size() != 5 || machine.String((*items)[0]) != "storage" ||
        (*items)[1].kind != PickleKind::kGlobal || (*items)[1].i < kStorage ||
        !machine.String((*items)[2]) || (*items)[4].kind != PickleKind::kInt) {
      return Invalid("persistent id is not ('storage', type, key, location, numel)");
    }
    TensorView storage;
    storage.dtype = static_cast<DType>((*items)[1].i - kStorage);
    const std::string name = absl::StrCat(storage_prefix_, AsAbsl(*machine.String((*items)[2])));
    auto entry = entries_.find(name);
    if (entry == entries_.end()) return Invalid(absl::StrCat("storage '", name, "' is missing"));
    const int64_t numel = (*items)[4].i;
    int64_t bytes = 0;
    if (numel < 0 || __builtin_mul_overflow(numel, int64_t{DTypeSize(storage.dtype)}, &bytes) ||
        static_cast<uint64_t>(bytes) > entry->second.size()) {
      return Invalid(absl::StrCat("storage '", name, "' holds ", entry->second.size(),
                                  " bytes, not the ", numel, " elements it claims"));
    }
    storage.storage = entry->second.substr(0, static_cast<size_t>(bytes));
    storage.storage_numel = numel;
    return AddExternal(std::move(storage));
  }

  // OrderedDict state (a state dict's `_metadata`) carries no tensors: accept and drop it.
  absl::Status Build(PickleMachine&, const PickleValue& target, const PickleValue&) override {
    if (target.kind != PickleKind::kDict) return Invalid("BUILD is only supported on a dict");
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<PickleValue> AddExternal(TensorView view) {
    if (externals_.size() >= kMaxExternals) {
      return absl::ResourceExhaustedError("too many storages and tensors");
    }
    externals_.push_back(std::move(view));
    PickleValue value;
    value.kind = PickleKind::kExternal;
    value.i = static_cast<int64_t>(externals_.size() - 1);
    return value;
  }

  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  absl::StatusOr<PickleValue> RebuildTensor(PickleMachine& machine,
                                            const std::vector<PickleValue>& args) {
    if (args.size() != 6 && args.size() != 7) {
      return Invalid(absl::StrCat("_rebuild_tensor_v2 takes 6 or 7 arguments, got ", args.size()));
    }
    if (args[0].kind != PickleKind::kExternal || Tensor(args[0]) != nullptr ||
        args[1].kind != PickleKind::kInt) {
      return Invalid("_rebuild_tensor_v2 needs a storage and an int offset");
    }
    TensorView t = externals_[static_cast<size_t>(args[0].i)];
    std::optional<std::vector<int64_t>> sizes = machine.IntTuple(args[2], kMaxDims);
    std::optional<std::vector<int64_t>> strides = machine.IntTuple(args[3], kMaxDims);
    if (!sizes || !strides || sizes->size() != strides->size()) {
      return Invalid("_rebuild_tensor_v2 needs size and stride tuples of ints of equal length");
    }
    t.is_tensor = true;
    t.offset = args[1].i;
    t.sizes = *std::move(sizes);
    t.strides = *std::move(strides);
    std::optional<int64_t> numel = CheckedNumel(t.sizes);
    if (!numel || !CheckedByteSize(t.sizes, t.dtype) || t.offset < 0) {
      return Invalid("tensor with a negative offset, a negative size or too many elements");
    }
    if (*numel > 0) {  // The last element must lie inside the storage.
      int64_t last = t.offset;
      for (size_t d = 0; d < t.sizes.size(); ++d) {
        int64_t step = 0;
        if (t.strides[d] < 0 || __builtin_mul_overflow(t.sizes[d] - 1, t.strides[d], &step) ||
            __builtin_add_overflow(last, step, &last)) {
          return Invalid("tensor with a negative or overflowing stride");
        }
      }
      if (last >= t.storage_numel) {
        return Invalid(absl::StrCat("tensor view reaches element ", last, " of a storage of ",
                                    t.storage_numel));
      }
    }
    return AddExternal(std::move(t));
  }

  const ZipEntries& entries_;
  std::string storage_prefix_;
  std::vector<TensorView> externals_;  // Indexed by a kExternal value's `i`.
};

// Finds the single `<dir>/data.pkl` record and returns `<dir>/`.
absl::StatusOr<std::string> RecordPrefix(const ZipEntries& entries) {
  std::optional<std::string> prefix;
  for (const auto& [name, contents] : entries) {
    const size_t slash = name.find('/');
    if (slash == std::string::npos || name.substr(slash + 1) != "data.pkl") continue;
    if (prefix) return Invalid("archive holds more than one data.pkl");
    prefix = name.substr(0, slash + 1);
  }
  if (!prefix) {
    return Invalid("archive has no <dir>/data.pkl record: not a torch.save checkpoint");
  }
  auto byteorder = entries.find(*prefix + "byteorder");
  if (byteorder != entries.end() && byteorder->second != "little") {
    return Invalid(absl::StrCat("unsupported byte order '", AsAbsl(byteorder->second), "'"));
  }
  return *prefix;
}

}  // namespace

absl::StatusOr<RawTensorMap> ParseTorchCheckpoint(std::string_view zip_bytes) {
  if (zip_bytes.size() >= 2 && zip_bytes[0] == '\x80' && zip_bytes[1] == '\x02') {
    return Invalid(
        "legacy (non-zip) torch.save format is not supported; re-save it with PyTorch >= 1.6");
  }
  absl::StatusOr<ZipEntries> entries = ReadStoredZip(zip_bytes);
  if (!entries.ok()) return entries.status();
  absl::StatusOr<std::string> prefix = RecordPrefix(*entries);
  if (!prefix.ok()) return prefix.status();
  TorchHooks hooks(*entries, *prefix + "data/");
  PickleMachine machine(entries->at(*prefix + "data.pkl"), &hooks);
  absl::StatusOr<PickleValue> root = machine.Run();
  if (!root.ok()) {
    return absl::Status(root.status().code(), absl::StrCat("data.pkl: ", root.status().message()));
  }
  if (root->kind != PickleKind::kDict) {
    return Invalid(
        absl::StrCat("the checkpoint holds a ", PickleKindName(root->kind), ", not a state dict"));
  }
  const std::vector<PickleValue>& items = machine.object(*root).items;
  std::map<std::string, const TensorView*> views;
  for (size_t k = 0; k + 1 < items.size(); k += 2) {
    std::optional<std::string_view> key = machine.String(items[k]);
    if (!key) {
      return Invalid(
          absl::StrCat("state dict key is a ", PickleKindName(items[k].kind), ", not a str"));
    }
    const TensorView* view = hooks.Tensor(items[k + 1]);
    if (view == nullptr) {
      return Invalid(absl::StrCat("state dict entry '", AsAbsl(*key), "' is a ",
                                  PickleKindName(items[k + 1].kind), ", not a tensor"));
    }
    views[std::string(*key)] = view;
  }
  // Stride-0 views and repeated entries could otherwise turn a small file into terabytes.
  const uint64_t budget = 4 * uint64_t{zip_bytes.size()} + (uint64_t{64} << 20);
  uint64_t total = 0;
  for (const auto& [key, view] : views) {
    total += static_cast<uint64_t>(*CheckedByteSize(view->sizes, view->dtype));
    if (total > budget) {
      return absl::ResourceExhaustedError(absl::StrCat("tensors would total more than ", budget,
                                                       " bytes (stride-0 views?) at '", key, "'"));
    }
  }
  RawTensorMap tensors;
  for (const auto& [key, view] : views) {
    tensors[key] = RawTensor{view->dtype, view->sizes, Materialize(*view)};
  }
  return tensors;
}

absl::StatusOr<RawTensorMap> ReadTorchCheckpoint(const std::string& path) {
  const std::string context = absl::StrCat("torch checkpoint '", path, "': ");
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat(context, "not found or not a regular file"));
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat(context, "cannot open"));
  std::string bytes(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat(context, "cannot read"));
  }
  absl::StatusOr<RawTensorMap> tensors = ParseTorchCheckpoint(bytes);
  if (!tensors.ok()) {
    return absl::Status(tensors.status().code(), absl::StrCat(context, tensors.status().message()));
  }
  return tensors;
}

}  // namespace ner::model
