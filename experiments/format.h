#pragma once
// printf-style formatting into a std::string, for progress lines and tables (GCC 12 has no
// std::format).

#include <cstdio>
#include <string>

namespace metajoule::experiments {

/// `format` with `args` as std::snprintf would print them (at most 511 characters).
template <class... Args>
std::string Format(const char* format, Args... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}

}  // namespace metajoule::experiments
