#ifndef NER_MODEL_PICKLE_MACHINE_H_
#define NER_MODEL_PICKLE_MACHINE_H_

// A restricted Python pickle virtual machine: it builds plain values (None, bool, int, float,
// str/bytes, tuple, list, dict) and leaves everything else to a PickleHooks policy — which
// globals exist, what calling one (REDUCE) or loading a persistent id (BINPERSID) gives, and
// what BUILD does. Nothing is ever executed. It knows the opcodes of protocols 0-2 that binary
// pickles use, plus FRAME, MEMOIZE, STACK_GLOBAL and the 8-byte string forms of protocol 4.
//
// Never crashes, whatever the input: stack, memo and object counts are capped (RESOURCE_EXHAUSTED
// past them), and every read is bounds-checked.

#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ner::model {

enum class PickleKind : uint8_t {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,  // str or bytes.
  kTuple,
  kList,
  kDict,
  kGlobal,    // A global the hooks resolved; `i` is the id they gave it.
  kExternal,  // A value the hooks made (e.g. a tensor); `i` is their handle for it.
};

// Returns "None", "bool", "int", ... for error messages.
const char* PickleKindName(PickleKind kind);

// A pickle value: scalars inline; strings and containers by index into the machine's object
// arena, so copies are cheap and reference cycles cannot leak.
struct PickleValue {
  PickleKind kind = PickleKind::kNone;
  int64_t i = 0;   // kBool, kInt, kGlobal, kExternal.
  double f = 0;    // kFloat.
  size_t obj = 0;  // kString, kTuple, kList, kDict: the PickleObject's index.
};

struct PickleObject {
  std::string_view str;            // kString: a view into the pickle bytes.
  std::vector<PickleValue> items;  // kTuple, kList; kDict as key, value, key, value, ...
};

class PickleMachine;

// The policy for everything beyond plain values. Errors it returns abort the run.
class PickleHooks {
 public:
  virtual ~PickleHooks() = default;
  // GLOBAL / STACK_GLOBAL: the id of an allowed global, or an error refusing it.
  virtual absl::StatusOr<int64_t> ResolveGlobal(std::string_view module, std::string_view name) = 0;
  // REDUCE: the result of calling the global `id` with `args`.
  virtual absl::StatusOr<PickleValue> Call(PickleMachine& machine, int64_t id,
                                           const std::vector<PickleValue>& args) = 0;
  // BINPERSID: the object a persistent id stands for.
  virtual absl::StatusOr<PickleValue> PersistentLoad(PickleMachine& machine,
                                                     const PickleValue& pid) = 0;
  // BUILD: applies `state` to `target` (setstate); an error if it cannot.
  virtual absl::Status Build(PickleMachine& machine, const PickleValue& target,
                             const PickleValue& state) = 0;
};

// Runs one pickle. Not thread-safe: one per pickle; `pickle` and `hooks` must outlive it.
class PickleMachine {
 public:
  PickleMachine(std::string_view pickle, PickleHooks* hooks) : pickle_(pickle), hooks_(hooks) {}

  // Runs to STOP and returns the value it leaves. Errors name the opcode's byte offset.
  absl::StatusOr<PickleValue> Run();

  // The object behind a kString/kTuple/kList/kDict value. Precondition: `value` came from this
  // machine and has one of those kinds.
  const PickleObject& object(const PickleValue& value) const { return arena_[value.obj]; }

  // Adds an object of `kind` (kString, kTuple, kList or kDict) and returns its value.
  absl::StatusOr<PickleValue> NewObject(PickleKind kind, PickleObject object);

  // The string in `value`, or std::nullopt if it is not a kString.
  std::optional<std::string_view> String(const PickleValue& value) const;

  // The ints in `value`, or std::nullopt if it is not a tuple of at most `max_size` ints.
  std::optional<std::vector<int64_t>> IntTuple(const PickleValue& value, size_t max_size) const;

 private:
  absl::StatusOr<bool> Step();  // Executes one opcode; true after STOP.
  absl::Status StepContainer(uint8_t op);
  absl::StatusOr<std::string_view> Take(uint64_t n);
  absl::StatusOr<uint64_t> TakeLE(int width);
  absl::StatusOr<std::string_view> TakeLine();
  absl::Status Push(PickleValue value);
  absl::StatusOr<PickleValue> Pop();
  absl::StatusOr<std::vector<PickleValue>> PopN(size_t n);
  absl::StatusOr<std::vector<PickleValue>> PopToMark();

  std::string_view pickle_;
  PickleHooks* hooks_;
  size_t pos_ = 0;
  std::vector<PickleValue> stack_;
  std::vector<size_t> marks_;  // Stack heights at each MARK; pops may not cross the last.
  std::unordered_map<uint64_t, PickleValue> memo_;
  std::vector<PickleObject> arena_;
  PickleValue result_;
};

}  // namespace ner::model

#endif  // NER_MODEL_PICKLE_MACHINE_H_
