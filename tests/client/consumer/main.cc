// Links the installed client and makes one call to an address where nothing listens: exits 0
// when that call fails UNAVAILABLE, as it must.
#include <cstdio>

#include "client/ner_client.h"

int main(int argc, char** argv) {
  ner::client::ClientOptions options;
  options.target = argc > 1 ? argv[1] : "127.0.0.1:1";
  options.retry.max_attempts = 1;
  absl::StatusOr<std::unique_ptr<ner::client::NerClient>> client =
      ner::client::NerClient::Create(options);
  if (!client.ok()) return 1;
  const absl::Status status = (*client)->ListModels().status();
  std::printf("%s\n", status.ToString().c_str());
  return status.code() == absl::StatusCode::kUnavailable ? 0 : 1;
}
