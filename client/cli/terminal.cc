#include "client/cli/terminal.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ner::client::cli {
namespace {

// Decodes the code point starting `bytes` long; U+FFFD for an invalid sequence.
char32_t DecodeCodePoint(absl::string_view bytes) {
  const unsigned char lead = static_cast<unsigned char>(bytes[0]);
  if (bytes.size() == 1) return lead < 0x80 ? lead : 0xFFFD;
  char32_t value = lead & (bytes.size() == 2 ? 0x1F : bytes.size() == 3 ? 0x0F : 0x07);
  for (size_t i = 1; i < bytes.size(); ++i) {
    value = (value << 6) | (static_cast<unsigned char>(bytes[i]) & 0x3F);
  }
  return value;
}

bool IsWide(char32_t c) {
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
         (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
         (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
         (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD);
}

}  // namespace

bool IsTerminal(FILE* stream) { return isatty(fileno(stream)) == 1; }

bool UseColor(FILE* stream) {
  if (!IsTerminal(stream)) return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

std::vector<absl::string_view> SplitCodePoints(absl::string_view text) {
  std::vector<absl::string_view> points;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    size_t length = lead < 0x80           ? 1
                    : (lead >> 5) == 0x6  ? 2
                    : (lead >> 4) == 0xE  ? 3
                    : (lead >> 3) == 0x1E ? 4
                                          : 1;
    if (i + length > text.size()) length = 1;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
        length = 1;
        break;
      }
    }
    points.push_back(text.substr(i, length));
    i += length;
  }
  return points;
}

int DisplayWidth(absl::string_view text) {
  int width = 0;
  bool escape = false;  // inside an ANSI "\033[...m" sequence, which takes no column
  for (absl::string_view point : SplitCodePoints(text)) {
    if (escape) {
      escape = point != "m";
      continue;
    }
    if (point == "\033") {
      escape = true;
      continue;
    }
    width += IsWide(DecodeCodePoint(point)) ? 2 : 1;
  }
  return width;
}

std::string TypeColor(absl::string_view type) {
  // Bold red, green, yellow, blue, magenta, cyan.
  static constexpr const char* kColors[] = {"\033[1;31m", "\033[1;32m", "\033[1;33m",
                                            "\033[1;34m", "\033[1;35m", "\033[1;36m"};
  uint32_t hash = 2166136261u;  // FNV-1a: stable across runs and platforms
  for (const char c : type) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  return kColors[hash % 6];
}

std::string HighlightEntities(absl::string_view text, const std::vector<v1::Entity>& entities,
                              bool color) {
  const std::vector<absl::string_view> points = SplitCodePoints(text);
  std::string out;
  size_t next = 0;  // next entity to open
  for (size_t i = 0; i < points.size(); ++i) {
    if (next < entities.size() && static_cast<size_t>(entities[next].begin_char()) == i) {
      absl::StrAppend(&out, color ? TypeColor(entities[next].type()) : "[");
    }
    absl::StrAppend(&out, points[i]);
    if (next < entities.size() && static_cast<size_t>(entities[next].end_char()) == i + 1) {
      if (color) {
        absl::StrAppend(&out, kColorReset);
      } else {
        absl::StrAppend(&out, "]/", entities[next].type());
      }
      ++next;
    }
  }
  return out;
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<int> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      absl::StrAppend(&out, row[c]);
      if (c + 1 < row.size()) {
        out.append(static_cast<size_t>(widths[c] - DisplayWidth(row[c]) + 2), ' ');
      }
    }
    absl::StrAppend(&out, "\n");
    return out;
  };
  std::string table = line(header);
  std::vector<std::string> rule;
  for (const int w : widths) rule.push_back(std::string(static_cast<size_t>(w), '-'));
  absl::StrAppend(&table, line(rule));
  for (const auto& row : rows) absl::StrAppend(&table, line(row));
  return table;
}

std::string ShortDuration(absl::Duration duration) {
  const int64_t seconds = absl::ToInt64Seconds(duration);
  if (seconds < 60) return absl::StrCat(std::max<int64_t>(seconds, 0), "s");
  if (seconds < 3600) return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrFormat("%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
}

std::string FormatCount(double value) {
  if (value < 1000) return absl::StrFormat("%.0f", value);
  if (value < 1e6) return absl::StrFormat("%.1fk", value / 1e3);
  return absl::StrFormat("%.1fM", value / 1e6);
}

}  // namespace ner::client::cli
