#ifndef NER_TESTS_TESTING_PROCESS_H_
#define NER_TESTS_TESTING_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace ner::testing {

// Starts `binary` with `args` (argv[0] is the binary), its stdout and stderr written to `log`:
// appended, or truncated first when `truncate_log`. Returns the pid; on failure records a test
// failure naming the error and returns -1.
pid_t SpawnLogged(const std::string& binary, const std::vector<std::string>& args,
                  const std::string& log, bool truncate_log = false);

// A TCP port on 127.0.0.1 that was free a moment ago (for a server that must listen on a known
// address, e.g. to be restarted on it).
int FreePort();

}  // namespace ner::testing

#endif  // NER_TESTS_TESTING_PROCESS_H_
