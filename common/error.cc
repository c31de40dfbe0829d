#include "common/error.h"

#include <cstdio>
#include <cstdlib>

namespace metajoule {

void DemandFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: MJL_DEMAND(%s) failed\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

std::string SourceLocation::ToString() const {
  // appended piecewise: gcc 12 warns falsely (-Wrestrict) on "a" + std::to_string(b)
  std::string out = path;
  if (line > 0) {
    out.append(":").append(std::to_string(line));
    if (column > 0) out.append(":").append(std::to_string(column));
  }
  return out;
}

namespace {
std::string FormatConfigError(const SourceLocation& where, const std::string& key,
                              const std::string& message) {
  std::string out;
  const std::string place = where.ToString();
  if (!place.empty()) out += place + ": ";
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}
}  // namespace

ConfigError::ConfigError(SourceLocation where, std::string key, std::string message)
    : std::runtime_error(FormatConfigError(where, key, message)),
      where_(std::move(where)),
      key_(std::move(key)),
      message_(std::move(message)) {}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace metajoule
