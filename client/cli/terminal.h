#ifndef NER_CLIENT_CLI_TERMINAL_H_
#define NER_CLIENT_CLI_TERMINAL_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ner/v1/ner.pb.h"

namespace ner::client::cli {

// True when `stream` is a terminal and colours are wanted (NO_COLOR unset, TERM not "dumb").
bool UseColor(FILE* stream);
// True when `stream` is a terminal.
bool IsTerminal(FILE* stream);

// The UTF-8 code points of `text`, each as its bytes; an invalid byte counts as one. Pure.
std::vector<absl::string_view> SplitCodePoints(absl::string_view text);

// Columns a string takes on a terminal: East Asian wide and full-width characters count 2,
// ANSI colour sequences 0, everything else 1. Pure.
int DisplayWidth(absl::string_view text);

// The ANSI colour sequence of an entity type: one of six colours, chosen by a hash of the type
// so that a type keeps its colour from run to run. Pure.
std::string TypeColor(absl::string_view type);
inline constexpr absl::string_view kColorReset = "\033[0m";

// `text` with every entity wrapped in its type's colour (color) or in [brackets]/TYPE (no
// color), e.g. "[张三]/PER在[北京大学]/ORG工作". Entities must be sorted and not overlap, with
// begin_char/end_char in code points. Pure.
std::string HighlightEntities(absl::string_view text, const std::vector<v1::Entity>& entities,
                              bool color);

// A table: left-aligned columns padded by display width, two spaces apart, the header
// underlined with dashes. Pure.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// "45s", "3m12s", "1h02m". Pure.
std::string ShortDuration(absl::Duration duration);
// 950 -> "950", 12345 -> "12.3k", 4.5e6 -> "4.5M". Pure.
std::string FormatCount(double value);

}  // namespace ner::client::cli

#endif  // NER_CLIENT_CLI_TERMINAL_H_
