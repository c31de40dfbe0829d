#pragma once
// StateArchive: the named state of objects that a checkpoint restores bit-exactly
// (`metajoule run --resume`, experiments/checkpoint.h). Each stateful object writes its entries
// under a prefix ("agent-3/learner/adam/m") with SaveState and reads them back with LoadState;
// the archive stores doubles as their bits and integers and random-engine states as text, so a
// restored object continues exactly as the original would have.

#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace metajoule {

/// A missing or mis-sized entry; what() names the entry.
class StateError : public std::runtime_error {
 public:
  StateError(const std::string& entry, const std::string& message)
      : std::runtime_error(entry + ": " + message), entry_(entry) {}
  const std::string& entry() const { return entry_; }

 private:
  std::string entry_;
};

class StateArchive {
 public:
  /// Named flat vectors, stored bit-exactly.
  std::map<std::string, std::vector<double>> vectors;
  /// Named texts (integers in decimal, random-engine states as operator<< writes them).
  std::map<std::string, std::string> texts;

  void PutVector(const std::string& name, std::span<const double> values);
  void PutDouble(const std::string& name, double value);
  void PutInt(const std::string& name, std::int64_t value);
  void PutText(const std::string& name, std::string text);
  void PutRng(const std::string& name, const std::mt19937_64& engine);

  /// The vector `name`; throws StateError when it is missing or its size is not
  /// `expected_size` (when given, >= 0).
  std::span<const double> Vector(const std::string& name, std::ptrdiff_t expected_size = -1) const;
  /// Throw StateError when `name` is missing or malformed.
  double Double(const std::string& name) const;
  std::int64_t Int(const std::string& name) const;
  const std::string& Text(const std::string& name) const;
  void Rng(const std::string& name, std::mt19937_64& engine) const;

  bool HasVector(const std::string& name) const { return vectors.contains(name); }
  bool HasText(const std::string& name) const { return texts.contains(name); }
};

}  // namespace metajoule
