#include "common/state_archive.h"

#include <charconv>
#include <sstream>

namespace metajoule {

void StateArchive::PutVector(const std::string& name, std::span<const double> values) {
  vectors[name].assign(values.begin(), values.end());
}

void StateArchive::PutDouble(const std::string& name, double value) { vectors[name] = {value}; }

void StateArchive::PutInt(const std::string& name, std::int64_t value) {
  texts[name] = std::to_string(value);
}

void StateArchive::PutText(const std::string& name, std::string text) {
  texts[name] = std::move(text);
}

void StateArchive::PutRng(const std::string& name, const std::mt19937_64& engine) {
  std::ostringstream text;
  text << engine;
  texts[name] = text.str();
}

std::span<const double> StateArchive::Vector(const std::string& name,
                                             std::ptrdiff_t expected_size) const {
  const auto it = vectors.find(name);
  if (it == vectors.end()) throw StateError(name, "missing");
  if (expected_size >= 0 && it->second.size() != static_cast<std::size_t>(expected_size)) {
    throw StateError(name, "holds " + std::to_string(it->second.size()) + " values, expected " +
                               std::to_string(expected_size));
  }
  return it->second;
}

double StateArchive::Double(const std::string& name) const { return Vector(name, 1)[0]; }

std::int64_t StateArchive::Int(const std::string& name) const {
  const std::string& text = Text(name);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw StateError(name, "not an integer: \"" + text + "\"");
  }
  return value;
}

const std::string& StateArchive::Text(const std::string& name) const {
  const auto it = texts.find(name);
  if (it == texts.end()) throw StateError(name, "missing");
  return it->second;
}

void StateArchive::Rng(const std::string& name, std::mt19937_64& engine) const {
  std::istringstream text(Text(name));
  std::mt19937_64 restored;
  text >> restored;
  if (text.fail()) throw StateError(name, "not a random-engine state");
  engine = restored;
}

}  // namespace metajoule
