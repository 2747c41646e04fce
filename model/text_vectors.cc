#include "model/text_vectors.h"

#include <cmath>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "model/file_util.h"

namespace ner::model {
namespace {

std::vector<absl::string_view> Fields(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

}  // namespace

absl::StatusOr<TextVectors> ReadTextVectors(const std::string& path,
                                            const std::function<bool(absl::string_view key)>& keep,
                                            TextVectorsReadStats* stats) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open vectors file '", path, "'"));
  TextVectorsReadStats local;
  TextVectors vectors;
  std::optional<int64_t> header_rows;
  absl::flat_hash_set<std::string> seen;
  auto error = [&](int64_t line_number, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", line_number, ": ", what));
  };

  std::string line;
  int64_t line_number = 0;
  bool first_content = true;
  while (std::getline(in, line)) {
    ++line_number;
    absl::string_view view = line;
    if (line_number == 1) absl::ConsumePrefix(&view, "\xEF\xBB\xBF");
    absl::ConsumeSuffix(&view, "\r");
    const std::vector<absl::string_view> fields = Fields(view);
    if (fields.empty()) continue;
    if (first_content) {
      first_content = false;
      int64_t rows = 0, dim = 0;
      if (fields.size() == 2 && absl::SimpleAtoi(fields[0], &rows) &&
          absl::SimpleAtoi(fields[1], &dim)) {
        if (rows < 0 || dim < 1 || dim > kMaxTextVectorDim) {
          return error(line_number,
                       absl::StrCat("header '", view,
                                    "': need rows >= 0 and 1 <= dim <= ", kMaxTextVectorDim));
        }
        header_rows = rows;
        vectors.dim = static_cast<int32_t>(dim);
        continue;
      }
    }
    const int64_t width = static_cast<int64_t>(fields.size()) - 1;
    if (vectors.dim == 0) {
      if (width < 1 || width > kMaxTextVectorDim) {
        return error(line_number, absl::StrCat("a row needs a key and 1 to ", kMaxTextVectorDim,
                                               " values, found ", width));
      }
      vectors.dim = static_cast<int32_t>(width);
    }
    if (width != vectors.dim) {
      return error(line_number, absl::StrCat("'", fields[0], "' has ", width, " values, expected ",
                                             vectors.dim));
    }
    ++local.rows;
    const absl::string_view key = fields[0];
    if (keep && !keep(key)) {
      ++local.skipped;
      continue;
    }
    if (!seen.insert(std::string(key)).second) {
      ++local.duplicates;
      continue;
    }
    const size_t base = vectors.values.size();
    vectors.values.resize(base + vectors.dim);
    for (int32_t d = 0; d < vectors.dim; ++d) {
      float value = 0;
      if (!absl::SimpleAtof(fields[d + 1], &value) || !std::isfinite(value)) {
        return error(line_number, absl::StrCat("'", fields[0], "': value ", d + 1, " '",
                                               fields[d + 1], "' is not a finite number"));
      }
      vectors.values[base + d] = value;
    }
    vectors.keys.emplace_back(key);
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading '", path, "'"));
  if (header_rows && *header_rows != local.rows) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the header announces ", *header_rows,
                                                   " rows, the file has ", local.rows,
                                                   " (truncated?)"));
  }
  if (local.rows == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no vectors in the file"));
  }
  if (stats != nullptr) *stats = local;
  return vectors;
}

absl::Status WriteTextVectors(const std::string& path, const TextVectors& vectors) {
  if (vectors.dim < 1 || vectors.values.size() != vectors.keys.size() * vectors.dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("vectors for '", path, "': ", vectors.values.size(), " values for ",
                     vectors.keys.size(), " keys of width ", vectors.dim));
  }
  std::string out = absl::StrCat(vectors.keys.size(), " ", vectors.dim, "\n");
  out.reserve(out.size() + vectors.keys.size() * (vectors.dim * 11 + 8));
  for (int64_t i = 0; i < vectors.size(); ++i) {
    const std::string& key = vectors.keys[i];
    if (key.empty() || key.find_first_of(" \t\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("vectors for '", path, "': key ", i, " '", key,
                                                     "' is empty or contains whitespace"));
    }
    out += key;
    for (float value : vectors.row(i)) absl::StrAppendFormat(&out, " %.6g", value);
    out += '\n';
  }
  return WriteFileAtomically(path, out);
}

int64_t BigramBucket(int64_t first, int64_t second, int64_t vocab_size, int64_t buckets) {
  // Non-negative operands (first, second >= -1), so % is the mathematical modulus here, as
  // torch's remainder is for the tensor version.
  return ((first + 1) * (vocab_size + 1) + (second + 1)) % buckets;
}

}  // namespace ner::model
