#pragma once
// `extends = "base.toml"`: a TOML file (experiment or sweep) that builds on another one, so that
// variants and sweeps stay short (docs/config.md, "Extending a base file").
//
// The base path is relative to the directory of the file that names it; chains are allowed
// (a extends b extends c). The merge is deep for tables and wholesale for everything else: a
// key of the extending file replaces the base's value, arrays included (so one [[clusters]]
// list replaces the base's whole list), while a table merges key by key. Every node keeps the
// source region of the file it came from, so an error in a value inherited from the base names
// the base file's line and column.

#include <toml++/toml.h>

#include <string>

namespace metajoule::experiments {

/// The top-level key that names the base file.
inline constexpr std::string_view kExtendsKey = "extends";

/// Resolves `document`'s `extends` chain in place: when it has a top-level `extends` string,
/// the base file (relative to the directory of `source_path`, the file `document` was read from)
/// is read, its own chain resolved, and `document` merged over it; `extends` itself is removed.
/// Does nothing when there is no `extends`. Throws ConfigError naming the file, line, column
/// and `extends` when the value is not a string, the base cannot be read or parsed, or the
/// chain returns to a file it came from (the message lists the chain).
void ResolveExtends(toml::table& document, const std::string& source_path);

/// Reads the TOML file `path` (ConfigError "path:line:col: message" on a syntax error) and
/// resolves its `extends` chain.
toml::table ReadTomlFile(const std::string& path);

/// Merges `overlay` into `base`: a key present in both as tables merges recursively; any other
/// key of `overlay` replaces the base's value (arrays and arrays of tables wholesale) and keeps
/// the overlay's source region.
void MergeTables(toml::table& base, toml::table&& overlay);

}  // namespace metajoule::experiments
