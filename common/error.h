#pragma once
// The three error tiers of STYLE.md section 5:
//  1. a broken internal invariant (our bug)  -> MJL_DEMAND aborts with file:line and the condition;
//  2. a bad argument to a public function    -> std::invalid_argument "expected X, got Y";
//  3. a bad config, CLI or model file        -> ConfigError "path:line:col: a.b.c: message".
// Expected outcomes (timeouts, episode ends, divergence) are return values, not exceptions.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace metajoule {

/// Prints "file:line: MJL_DEMAND(condition) failed" to stderr and aborts. Used by MJL_DEMAND.
[[noreturn]] void DemandFailed(const char* condition, const char* file, int line);

/// Where a value came from in a text file; line and column are 1-based, 0 when unknown.
struct SourceLocation {
  std::string path;
  std::uint32_t line{0};
  std::uint32_t column{0};
  /// "path:line:col", "path:line" or "path", depending on what is known.
  std::string ToString() const;
};

/// A semantic problem with one configuration field, found by a module's Validate(). The key is
/// relative to the struct that was validated ("clip_ratio", or "task.goal_low" for nested ones).
struct FieldError {
  std::string key;
  std::string message;
};

/// A bad configuration, command line or model file. what() reads
/// "path:line:col: key.path: message" (parts that are unknown are left out).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(SourceLocation where, std::string key, std::string message);
  const SourceLocation& where() const { return where_; }
  const std::string& key() const { return key_; }
  const std::string& message() const { return message_; }

 private:
  SourceLocation where_;
  std::string key_;
  std::string message_;
};

/// "a, b, c": for error messages that list the valid names.
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace metajoule

/// Aborts with file:line when `condition` is false, in every build type: for internal
/// invariants only, never for input that a user can get wrong.
#define MJL_DEMAND(condition)                                          \
  do {                                                                 \
    if (!(condition)) ::metajoule::DemandFailed(#condition, __FILE__, __LINE__); \
  } while (false)
