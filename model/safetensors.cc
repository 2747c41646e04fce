#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";
// A valid header nests three deep ({name: {shape: [...]}}); the cap keeps a hostile header of
// 100 MB of '[' from costing gigabytes in the JSON DOM.
constexpr int kMaxJsonDepth = 16;

absl::Status Invalid(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid safetensors: ", what));
}

// Returns the deepest nesting of arrays and objects in `json`, ignoring brackets inside strings.
int JsonDepth(std::string_view json) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

// Returns `value` as compact JSON, cut to a length fit for an error message.
std::string Brief(const Json& value) {
  std::string text = value.dump();
  if (text.size() > 64) text = absl::StrCat(text.substr(0, 60), "...");
  return text;
}

// Returns a non-negative JSON integer as int64, or std::nullopt for anything else.
std::optional<int64_t> NonNegativeInt(const Json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) {
    const int64_t v = value.get<int64_t>();
    if (v >= 0) return v;
  }
  return std::nullopt;
}

struct Entry {
  std::string name;
  RawTensor tensor;  // Data not yet filled in.
  int64_t begin = 0;
  int64_t end = 0;
};

absl::StatusOr<Entry> ParseEntry(const std::string& name, const Json& info, int64_t data_size) {
  const std::string where = absl::StrCat("tensor '", name, "': ");
  if (!info.is_object()) return Invalid(absl::StrCat(where, "entry is not a JSON object"));
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(key)) return Invalid(absl::StrCat(where, "missing \"", key, "\""));
  }
  Entry entry;
  entry.name = name;
  const Json& dtype = info["dtype"];
  if (!dtype.is_string()) return Invalid(absl::StrCat(where, "\"dtype\" is not a string"));
  std::optional<DType> parsed = DTypeFromName(dtype.get_ref<const std::string&>());
  if (!parsed) {
    return Invalid(
        absl::StrCat(where, "unsupported dtype \"", dtype.get_ref<const std::string&>(), "\""));
  }
  entry.tensor.dtype = *parsed;

  const Json& shape = info["shape"];
  if (!shape.is_array()) return Invalid(absl::StrCat(where, "\"shape\" is not an array"));
  for (const Json& dim : shape) {
    std::optional<int64_t> d = NonNegativeInt(dim);
    if (!d)
      return Invalid(absl::StrCat(where, "shape dim ", Brief(dim), " is not an integer >= 0"));
    entry.tensor.shape.push_back(*d);
  }
  std::optional<int64_t> nbytes = CheckedByteSize(entry.tensor.shape, entry.tensor.dtype);
  if (!nbytes) return Invalid(absl::StrCat(where, "shape overflows int64"));

  const Json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    return Invalid(absl::StrCat(where, "\"data_offsets\" is not a [begin, end] pair"));
  }
  std::optional<int64_t> begin = NonNegativeInt(offsets[0]);
  std::optional<int64_t> end = NonNegativeInt(offsets[1]);
  if (!begin || !end || *begin > *end) {
    return Invalid(absl::StrCat(where, "bad data_offsets ", Brief(offsets)));
  }
  if (*end > data_size) {
    return Invalid(absl::StrCat(where, "data_offsets ", Brief(offsets),
                                " run past the data buffer of ", data_size, " bytes"));
  }
  if (*end - *begin != *nbytes) {
    return Invalid(absl::StrCat(where, "data_offsets ", Brief(offsets), " span ", *end - *begin,
                                " bytes but dtype ", std::string(DTypeName(entry.tensor.dtype)),
                                " x ", *CheckedNumel(entry.tensor.shape), " elements need ",
                                *nbytes));
  }
  entry.begin = *begin;
  entry.end = *end;
  return entry;
}

absl::Status ParseMetadata(const Json& value, std::map<std::string, std::string>* metadata) {
  if (!value.is_object()) return Invalid("\"__metadata__\" is not a JSON object");
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return Invalid(absl::StrCat("\"__metadata__\" value for '", key, "' is not a string"));
    }
    if (metadata != nullptr) (*metadata)[key] = item.get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status WithContext(const absl::Status& status, const std::string& context) {
  return absl::Status(status.code(), absl::StrCat(context, status.message()));
}

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  const int saved = errno;
  // Out of storage is RESOURCE_EXHAUSTED, as in file_util.cc (absl makes EFBIG OUT_OF_RANGE).
  if (saved == ENOSPC || saved == EDQUOT || saved == EFBIG) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, " '", path, "': ", std::strerror(saved)));
  }
  return absl::ErrnoToStatus(saved, absl::StrCat(what, " '", path, "'"));
}

// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Writes `pieces`, concatenated, to `path` by way of a fsynced temporary file and a rename.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::vector<std::string_view>& pieces) {
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create temporary file", tmp);
  absl::Status status;
  for (std::string_view piece : pieces) {
    if (!WriteAll(fd, piece)) {
      status = ErrnoError("cannot write", tmp);
      break;
    }
  }
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("cannot fsync", tmp);
  if (::close(fd) != 0 && status.ok()) status = ErrnoError("cannot close", tmp);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = ErrnoError(absl::StrCat("cannot rename '", tmp, "' over"), path);
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  // Without this the rename itself may not survive a power loss.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError("cannot open directory", dir);
  if (::fsync(dir_fd) != 0) status = ErrnoError("cannot fsync directory", dir);
  ::close(dir_fd);
  return status;
}

// Builds the 8-byte length and padded JSON header; `order` receives the tensors in file order.
absl::StatusOr<std::string> BuildHeader(const RawTensorMap& tensors,
                                        const std::map<std::string, std::string>& metadata,
                                        std::vector<const RawTensor*>* order) {
  std::vector<const RawTensorMap::value_type*> sorted;
  for (const auto& item : tensors) {
    if (item.first == kMetadataKey) {
      return absl::InvalidArgumentError("a tensor may not be named \"__metadata__\"");
    }
    if (absl::Status status = ValidateRawTensor(item.second); !status.ok()) {
      return WithContext(status, absl::StrCat("tensor '", item.first, "': "));
    }
    sorted.push_back(&item);
  }
  // Largest elements first keeps every tensor aligned to its element size.
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return DTypeSize(a->second.dtype) > DTypeSize(b->second.dtype);
  });
  Json header = Json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;
  int64_t offset = 0;
  for (const auto* item : sorted) {
    const RawTensor& tensor = item->second;
    const int64_t end = offset + static_cast<int64_t>(tensor.data.size());
    header[item->first] = {{"dtype", std::string(DTypeName(tensor.dtype))},
                           {"shape", tensor.shape},
                           {"data_offsets", {offset, end}}};
    offset = end;
    order->push_back(&tensor);
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode safetensors header: ", e.what()));
  }
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t length = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  out += json;
  return out;
}

}  // namespace

absl::StatusOr<RawTensorMap> ParseSafetensors(std::string_view bytes,
                                              std::map<std::string, std::string>* metadata) {
  if (bytes.size() < 8) {
    return Invalid(
        absl::StrCat("only ", bytes.size(), " bytes, less than the 8-byte header length"));
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<uint8_t>(bytes[i]);
  if (header_size > static_cast<uint64_t>(kMaxSafetensorsHeaderBytes)) {
    return Invalid(absl::StrCat("header length ", header_size, " exceeds the limit of ",
                                kMaxSafetensorsHeaderBytes, " bytes"));
  }
  if (header_size > bytes.size() - 8) {
    return Invalid(absl::StrCat("header length ", header_size, " exceeds the ", bytes.size() - 8,
                                " bytes after it (truncated file?)"));
  }
  const std::string_view header_text = bytes.substr(8, header_size);
  const std::string_view data = bytes.substr(8 + header_size);
  if (JsonDepth(header_text) > kMaxJsonDepth) return Invalid("header JSON nests too deep");
  const Json header = Json::parse(header_text.begin(), header_text.end(), nullptr,
                                  /*allow_exceptions=*/false);
  if (header.is_discarded()) return Invalid("header is not valid JSON");
  if (!header.is_object()) return Invalid("header is not a JSON object");

  std::map<std::string, std::string> parsed_metadata;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == kMetadataKey) {
      if (absl::Status status = ParseMetadata(info, &parsed_metadata); !status.ok()) return status;
      continue;
    }
    absl::StatusOr<Entry> entry = ParseEntry(name, info, static_cast<int64_t>(data.size()));
    if (!entry.ok()) return entry.status();
    entries.push_back(*std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end) {
      return Invalid(absl::StrCat("tensors '", entries[i - 1].name, "' and '", entries[i].name,
                                  "' overlap in the data buffer"));
    }
  }
  RawTensorMap tensors;
  for (Entry& entry : entries) {
    entry.tensor.data.assign(data.substr(entry.begin, entry.end - entry.begin));
    tensors.emplace(std::move(entry.name), std::move(entry.tensor));
  }
  if (metadata != nullptr) *metadata = std::move(parsed_metadata);
  return tensors;
}

absl::StatusOr<RawTensorMap> ReadSafetensors(const std::string& path,
                                             std::map<std::string, std::string>* metadata) {
  const std::string context = absl::StrCat("safetensors file '", path, "': ");
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
  absl::StatusOr<RawTensorMap> tensors = ParseSafetensors(bytes, metadata);
  if (!tensors.ok()) return WithContext(tensors.status(), context);
  return tensors;
}

absl::StatusOr<std::string> SerializeSafetensors(
    const RawTensorMap& tensors, const std::map<std::string, std::string>& metadata) {
  std::vector<const RawTensor*> order;
  absl::StatusOr<std::string> out = BuildHeader(tensors, metadata, &order);
  if (!out.ok()) return out.status();
  for (const RawTensor* tensor : order) out->append(tensor->data);
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const RawTensorMap& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<const RawTensor*> order;
  absl::StatusOr<std::string> header = BuildHeader(tensors, metadata, &order);
  if (!header.ok()) {
    return WithContext(header.status(), absl::StrCat("cannot write '", path, "': "));
  }
  std::vector<std::string_view> pieces = {*header};
  for (const RawTensor* tensor : order) pieces.push_back(tensor->data);
  return WriteFileAtomically(path, pieces);
}

}  // namespace ner::model
