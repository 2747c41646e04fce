#include "model/pickle_machine.h"

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

// Far beyond any real checkpoint (a few objects per tensor), yet small enough that a hostile
// pickle cannot exhaust memory.
constexpr size_t kMaxStack = size_t{1} << 20;
constexpr size_t kMaxMemo = size_t{1} << 20;
constexpr size_t kMaxObjects = size_t{1} << 20;

absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(what); }

PickleValue Scalar(PickleKind kind, int64_t i) {
  PickleValue value;
  value.kind = kind;
  value.i = i;
  return value;
}

}  // namespace

// Returns early from the enclosing function with the error of a Status or StatusOr expression;
// NER_PICKLE_ASSIGN also binds the value of an OK StatusOr to `lhs`.
#define NER_PICKLE_RETURN_IF_ERROR(expr)               \
  do {                                                 \
    if (absl::Status s_ = (expr); !s_.ok()) return s_; \
  } while (0)
#define NER_PICKLE_ASSIGN(lhs, expr)              \
  auto lhs##_or_ = (expr);                        \
  if (!lhs##_or_.ok()) return lhs##_or_.status(); \
  auto lhs = *std::move(lhs##_or_)

const char* PickleKindName(PickleKind kind) {
  static constexpr const char* kNames[] = {"None",  "bool", "int",  "float",  "str",
                                           "tuple", "list", "dict", "global", "object"};
  const auto index = static_cast<size_t>(kind);
  return index < std::size(kNames) ? kNames[index] : "?";
}

absl::StatusOr<PickleValue> PickleMachine::Run() {
  while (true) {
    const size_t start = pos_;
    absl::StatusOr<bool> stopped = Step();
    if (!stopped.ok()) {
      return absl::Status(stopped.status().code(),
                          absl::StrCat("pickle byte ", start, ": ", stopped.status().message()));
    }
    if (*stopped) return result_;
  }
}

absl::StatusOr<PickleValue> PickleMachine::NewObject(PickleKind kind, PickleObject object) {
  if (arena_.size() >= kMaxObjects) return absl::ResourceExhaustedError("too many pickle objects");
  arena_.push_back(std::move(object));
  PickleValue value;
  value.kind = kind;
  value.obj = arena_.size() - 1;
  return value;
}

std::optional<std::string_view> PickleMachine::String(const PickleValue& value) const {
  if (value.kind != PickleKind::kString) return std::nullopt;
  return object(value).str;
}

std::optional<std::vector<int64_t>> PickleMachine::IntTuple(const PickleValue& value,
                                                            size_t max_size) const {
  if (value.kind != PickleKind::kTuple || object(value).items.size() > max_size) {
    return std::nullopt;
  }
  std::vector<int64_t> ints;
  for (const PickleValue& item : object(value).items) {
    if (item.kind != PickleKind::kInt) return std::nullopt;
    ints.push_back(item.i);
  }
  return ints;
}

absl::StatusOr<std::string_view> PickleMachine::Take(uint64_t n) {
  if (n > pickle_.size() - pos_) return Invalid("unexpected end of pickle");
  std::string_view bytes = pickle_.substr(pos_, n);
  pos_ += n;
  return bytes;
}

absl::StatusOr<uint64_t> PickleMachine::TakeLE(int width) {
  NER_PICKLE_ASSIGN(bytes, Take(width));
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

absl::StatusOr<std::string_view> PickleMachine::TakeLine() {
  const size_t newline = pickle_.find('\n', pos_);
  if (newline == std::string_view::npos) return Invalid("unterminated GLOBAL name");
  std::string_view line = pickle_.substr(pos_, newline - pos_);
  pos_ = newline + 1;
  return line;
}

absl::Status PickleMachine::Push(PickleValue value) {
  if (stack_.size() >= kMaxStack) return absl::ResourceExhaustedError("pickle stack too deep");
  stack_.push_back(value);
  return absl::OkStatus();
}

absl::StatusOr<PickleValue> PickleMachine::Pop() {
  if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size())) {
    return Invalid("pop from an empty stack");
  }
  PickleValue value = stack_.back();
  stack_.pop_back();
  return value;
}

absl::StatusOr<std::vector<PickleValue>> PickleMachine::PopN(size_t n) {
  std::vector<PickleValue> items(n);
  for (size_t k = n; k-- > 0;) {
    NER_PICKLE_ASSIGN(item, Pop());
    items[k] = item;
  }
  return items;
}

absl::StatusOr<std::vector<PickleValue>> PickleMachine::PopToMark() {
  if (marks_.empty()) return Invalid("no MARK on the stack");
  std::vector<PickleValue> items(stack_.begin() + marks_.back(), stack_.end());
  stack_.resize(marks_.back());
  marks_.pop_back();
  return items;
}

// Tuples, lists and dicts: building them and adding to them.
absl::Status PickleMachine::StepContainer(uint8_t op) {
  std::vector<PickleValue> items;
  if (op == 0x85 || op == 0x86 || op == 0x87) {  // TUPLE1, TUPLE2, TUPLE3
    NER_PICKLE_ASSIGN(popped, PopN(op - 0x84));
    items = std::move(popped);
  } else if (op == 'a' || op == 's') {  // APPEND, SETITEM
    NER_PICKLE_ASSIGN(popped, PopN(op == 'a' ? 1 : 2));
    items = std::move(popped);
  } else if (op != ')' && op != ']' && op != '}') {  // TUPLE, LIST, DICT, APPENDS, SETITEMS
    NER_PICKLE_ASSIGN(popped, PopToMark());
    items = std::move(popped);
  }
  const bool is_dict = op == 'd' || op == '}' || op == 's' || op == 'u';
  if (is_dict && items.size() % 2 != 0) return Invalid("dict items with an odd count");
  if (op == 'a' || op == 'e' || op == 's' || op == 'u') {
    const PickleKind kind = is_dict ? PickleKind::kDict : PickleKind::kList;
    if (stack_.empty() || stack_.back().kind != kind) {
      return Invalid(absl::StrCat("expected a ", PickleKindName(kind), " to add to"));
    }
    std::vector<PickleValue>& target = arena_[stack_.back().obj].items;
    if (target.size() + items.size() > kMaxStack) {
      return absl::ResourceExhaustedError("pickle container too large");
    }
    target.insert(target.end(), items.begin(), items.end());
    return absl::OkStatus();
  }
  const PickleKind kind = is_dict                  ? PickleKind::kDict
                          : op == 'l' || op == ']' ? PickleKind::kList
                                                   : PickleKind::kTuple;
  NER_PICKLE_ASSIGN(value, NewObject(kind, PickleObject{{}, std::move(items)}));
  return Push(value);
}

absl::StatusOr<bool> PickleMachine::Step() {
  NER_PICKLE_ASSIGN(op_byte, Take(1));
  const uint8_t op = static_cast<uint8_t>(op_byte[0]);
  switch (op) {
    case 0x80:  // PROTO
      NER_PICKLE_RETURN_IF_ERROR(Take(1).status());
      return false;
    case 0x95:  // FRAME: only a hint for buffering.
      NER_PICKLE_RETURN_IF_ERROR(Take(8).status());
      return false;
    case '.': {  // STOP
      NER_PICKLE_ASSIGN(value, Pop());
      result_ = value;
      return true;
    }
    case 'c':     // GLOBAL
    case 0x93: {  // STACK_GLOBAL
      std::string_view module, name;
      if (op == 'c') {
        NER_PICKLE_ASSIGN(m, TakeLine());
        NER_PICKLE_ASSIGN(n, TakeLine());
        module = m;
        name = n;
      } else {
        NER_PICKLE_ASSIGN(n, Pop());
        NER_PICKLE_ASSIGN(m, Pop());
        if (!String(m) || !String(n)) return Invalid("STACK_GLOBAL needs two strings");
        module = *String(m);
        name = *String(n);
      }
      NER_PICKLE_ASSIGN(id, hooks_->ResolveGlobal(module, name));
      NER_PICKLE_RETURN_IF_ERROR(Push(Scalar(PickleKind::kGlobal, id)));
      return false;
    }
    case 'q':     // BINPUT
    case 'r':     // LONG_BINPUT
    case 0x94: {  // MEMOIZE
      uint64_t index = memo_.size();
      if (op != 0x94) {
        NER_PICKLE_ASSIGN(i, TakeLE(op == 'q' ? 1 : 4));
        index = i;
      }
      if (stack_.empty()) return Invalid("memoizing an empty stack");
      if (memo_.size() >= kMaxMemo) return absl::ResourceExhaustedError("pickle memo too large");
      memo_[index] = stack_.back();
      return false;
    }
    case 'h':    // BINGET
    case 'j': {  // LONG_BINGET
      NER_PICKLE_ASSIGN(index, TakeLE(op == 'h' ? 1 : 4));
      auto found = memo_.find(index);
      if (found == memo_.end()) return Invalid(absl::StrCat("memo entry ", index, " is unset"));
      NER_PICKLE_RETURN_IF_ERROR(Push(found->second));
      return false;
    }
    case '(':  // MARK
      if (marks_.size() >= kMaxStack) return absl::ResourceExhaustedError("too many MARKs");
      marks_.push_back(stack_.size());
      return false;
    case '0':  // POP
      NER_PICKLE_RETURN_IF_ERROR(Pop().status());
      return false;
    case '1':  // POP_MARK
      NER_PICKLE_RETURN_IF_ERROR(PopToMark().status());
      return false;
    case '2': {  // DUP
      NER_PICKLE_ASSIGN(value, Pop());
      NER_PICKLE_RETURN_IF_ERROR(Push(value));
      NER_PICKLE_RETURN_IF_ERROR(Push(value));
      return false;
    }
    case 'N':  // NONE
      NER_PICKLE_RETURN_IF_ERROR(Push(PickleValue{}));
      return false;
    case 0x88:  // NEWTRUE
    case 0x89:  // NEWFALSE
      NER_PICKLE_RETURN_IF_ERROR(Push(Scalar(PickleKind::kBool, op == 0x88)));
      return false;
    case 'J': {  // BININT: signed 32-bit
      NER_PICKLE_ASSIGN(v, TakeLE(4));
      NER_PICKLE_RETURN_IF_ERROR(
          Push(Scalar(PickleKind::kInt, static_cast<int32_t>(static_cast<uint32_t>(v)))));
      return false;
    }
    case 'K':    // BININT1
    case 'M': {  // BININT2
      NER_PICKLE_ASSIGN(v, TakeLE(op == 'K' ? 1 : 2));
      NER_PICKLE_RETURN_IF_ERROR(Push(Scalar(PickleKind::kInt, static_cast<int64_t>(v))));
      return false;
    }
    case 0x8a:    // LONG1
    case 0x8b: {  // LONG4: little-endian two's complement of a given length
      NER_PICKLE_ASSIGN(n, TakeLE(op == 0x8a ? 1 : 4));
      if (n > 8) return Invalid(absl::StrCat("integer of ", n, " bytes exceeds int64"));
      NER_PICKLE_ASSIGN(v, TakeLE(static_cast<int>(n)));
      if (n > 0 && n < 8 && ((v >> (8 * n - 1)) & 1)) v |= ~uint64_t{0} << (8 * n);
      NER_PICKLE_RETURN_IF_ERROR(Push(Scalar(PickleKind::kInt, static_cast<int64_t>(v))));
      return false;
    }
    case 'G': {  // BINFLOAT: big-endian IEEE double
      NER_PICKLE_ASSIGN(bytes, Take(8));
      uint64_t bits = 0;
      for (char c : bytes) bits = (bits << 8) | static_cast<uint8_t>(c);
      PickleValue value;
      value.kind = PickleKind::kFloat;
      std::memcpy(&value.f, &bits, sizeof(bits));
      NER_PICKLE_RETURN_IF_ERROR(Push(value));
      return false;
    }
    case 0x8c:    // SHORT_BINUNICODE
    case 'C':     // SHORT_BINBYTES
    case 'U':     // SHORT_BINSTRING
    case 'X':     // BINUNICODE
    case 'B':     // BINBYTES
    case 'T':     // BINSTRING
    case 0x8d:    // BINUNICODE8
    case 0x8e: {  // BINBYTES8
      const int width = op == 0x8c || op == 'C' || op == 'U' ? 1 : op >= 0x8d ? 8 : 4;
      NER_PICKLE_ASSIGN(n, TakeLE(width));
      NER_PICKLE_ASSIGN(bytes, Take(n));
      NER_PICKLE_ASSIGN(value, NewObject(PickleKind::kString, PickleObject{bytes, {}}));
      NER_PICKLE_RETURN_IF_ERROR(Push(value));
      return false;
    }
    case ')':
    case 0x85:
    case 0x86:
    case 0x87:
    case 't':  // Tuples.
    case ']':
    case 'l':
    case 'a':
    case 'e':  // Lists.
    case '}':
    case 'd':
    case 's':
    case 'u':  // Dicts.
      NER_PICKLE_RETURN_IF_ERROR(StepContainer(op));
      return false;
    case 'R': {  // REDUCE
      NER_PICKLE_ASSIGN(args, Pop());
      NER_PICKLE_ASSIGN(callable, Pop());
      if (callable.kind != PickleKind::kGlobal || args.kind != PickleKind::kTuple) {
        return Invalid("REDUCE needs a global and an argument tuple");
      }
      NER_PICKLE_ASSIGN(value, hooks_->Call(*this, callable.i, object(args).items));
      NER_PICKLE_RETURN_IF_ERROR(Push(value));
      return false;
    }
    case 'b': {  // BUILD
      NER_PICKLE_ASSIGN(state, Pop());
      if (stack_.empty()) return Invalid("BUILD on an empty stack");
      NER_PICKLE_RETURN_IF_ERROR(hooks_->Build(*this, stack_.back(), state));
      return false;
    }
    case 'Q': {  // BINPERSID
      NER_PICKLE_ASSIGN(pid, Pop());
      NER_PICKLE_ASSIGN(value, hooks_->PersistentLoad(*this, pid));
      NER_PICKLE_RETURN_IF_ERROR(Push(value));
      return false;
    }
    default:
      return Invalid(absl::StrCat("unsupported pickle opcode 0x", absl::Hex(op, absl::kZeroPad2)));
  }
}

#undef NER_PICKLE_ASSIGN
#undef NER_PICKLE_RETURN_IF_ERROR

}  // namespace ner::model
