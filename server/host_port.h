#ifndef NER_SERVER_HOST_PORT_H_
#define NER_SERVER_HOST_PORT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ner::server {

// Splits "host:port" or "[v6]:port" (the brackets dropped; the host may be empty); false when
// there is no non-empty ":port" at the end.
inline bool SplitHostPort(absl::string_view address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == address.size()) return false;
  absl::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  *host = std::string(h);
  *port = std::string(address.substr(colon + 1));
  return true;
}

}  // namespace ner::server

#endif  // NER_SERVER_HOST_PORT_H_
