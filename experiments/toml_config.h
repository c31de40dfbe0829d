#pragma once
// Reading and writing module config structs from and to TOML through their Visit field lists
// (STYLE.md section 4). The only place besides experiments/*.cc that includes toml++.
//
// Reading: a struct is a TOML table; each visited field is looked up by its key; unknown keys are
// rejected; missing keys keep the struct's defaults; after a table is read, the module's
// Validate() (found by argument-dependent lookup, when it exists) runs and its FieldErrors are
// reported at the source position of the offending key. Every error is a ConfigError reading
// "file:line:col: full.key.path: message".
//
// Supported field types: bool, int, std::int64_t, double, std::string, std::vector<double|int|
// std::string>, std::array<double, N>, nested structs with Visit (tables), std::vector of such
// structs (arrays of tables), enums with an EnumNames(E) overload (strings in TOML), and
// std::optional of a value type (a key that may be left out; the resolved config omits it).

#include <array>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "common/error.h"

namespace metajoule::experiments {

/// The location of a TOML node, for error messages. Nodes made by --set overrides carry the
/// source path "--set" and are reported as such.
SourceLocation LocationOf(const toml::source_region& source);

/// Throws ConfigError for `key` at `source`.
[[noreturn]] void ThrowAt(const toml::source_region& source, const std::string& key,
                          const std::string& message);

/// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string JoinKey(const std::string& prefix, std::string_view key);

namespace internal {

template <class T>
concept HasValidate = requires(const T& t) {
  { Validate(t) } -> std::same_as<std::vector<FieldError>>;
};

template <class E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) {
  { EnumNames(e) };
};

template <class T>
struct IsStdVector : std::false_type {};
template <class T>
struct IsStdVector<std::vector<T>> : std::true_type {
  using value_type = T;
};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {
  using value_type = T;
};

template <class T>
struct IsStdArray : std::false_type {};
template <class T, std::size_t N>
struct IsStdArray<std::array<T, N>> : std::true_type {
  using value_type = T;
  static constexpr std::size_t size = N;
};

template <class T>
std::string TypeName() {
  if constexpr (std::is_same_v<T, bool>) return "a boolean";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (IsStdVector<T>::value || IsStdArray<T>::value) return "an array";
  else return "a table";
}

}  // namespace internal

/// Reads one value of type T from `node` (the value of `key`, a full dotted path for messages).
template <class T>
void ReadValue(const toml::node& node, const std::string& key, T& out);

/// Reads the struct `out` from `table` with its Visit list; `prefix` is the dotted path of the
/// table (empty at the top). Unknown keys and failed validations throw ConfigError.
template <class T>
void ReadTable(const toml::table& table, const std::string& prefix, T& out);

template <class T>
void ReadValue(const toml::node& node, const std::string& key, T& out) {
  using internal::TypeName;
  if constexpr (internal::IsOptional<T>::value) {
    typename internal::IsOptional<T>::value_type value{};
    ReadValue(node, key, value);
    out = std::move(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!node.is_boolean()) ThrowAt(node.source(), key, "expected a boolean");
    out = *node.value<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!node.is_integer()) ThrowAt(node.source(), key, "expected an integer");
    const std::int64_t value = *node.value<std::int64_t>();
    if (!std::in_range<T>(value)) {
      ThrowAt(node.source(), key, "integer " + std::to_string(value) + " is out of range");
    }
    out = static_cast<T>(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (node.is_integer()) {
      out = static_cast<T>(*node.value<std::int64_t>());
    } else if (node.is_floating_point()) {
      out = static_cast<T>(*node.value<double>());
    } else {
      ThrowAt(node.source(), key, "expected a number");
    }
    if (!std::isfinite(static_cast<double>(out))) {
      ThrowAt(node.source(), key, "expected a finite number");
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!node.is_string()) ThrowAt(node.source(), key, "expected a string");
    out = *node.value<std::string>();
  } else if constexpr (internal::NamedEnum<T>) {
    if (!node.is_string()) ThrowAt(node.source(), key, "expected a string");
    const std::string text = *node.value<std::string>();
    std::vector<std::string> valid;
    for (const auto& [name, value] : EnumNames(T{})) {
      if (name == text) {
        out = value;
        return;
      }
      valid.emplace_back(name);
    }
    ThrowAt(node.source(), key, "unknown value \"" + text + "\"; valid values: " + JoinNames(valid));
  } else if constexpr (internal::IsStdVector<T>::value) {
    using Elem = typename internal::IsStdVector<T>::value_type;
    const toml::array* array = node.as_array();
    if (array == nullptr) ThrowAt(node.source(), key, "expected an array");
    T values;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string elem_key = key + "[" + std::to_string(i) + "]";
      Elem elem{};
      if constexpr (std::is_class_v<Elem> && !std::is_same_v<Elem, std::string>) {
        const toml::table* table = (*array)[i].as_table();
        if (table == nullptr) ThrowAt((*array)[i].source(), elem_key, "expected a table");
        ReadTable(*table, elem_key, elem);
      } else {
        ReadValue((*array)[i], elem_key, elem);
      }
      values.push_back(std::move(elem));
    }
    out = std::move(values);
  } else if constexpr (internal::IsStdArray<T>::value) {
    constexpr std::size_t kSize = internal::IsStdArray<T>::size;
    const toml::array* array = node.as_array();
    if (array == nullptr || array->size() != kSize) {
      ThrowAt(node.source(), key, "expected an array of " + std::to_string(kSize) + " numbers");
    }
    for (std::size_t i = 0; i < kSize; ++i) {
      ReadValue((*array)[i], key + "[" + std::to_string(i) + "]", out[i]);
    }
  } else {
    const toml::table* table = node.as_table();
    if (table == nullptr) ThrowAt(node.source(), key, "expected a table");
    ReadTable(*table, key, out);
  }
}

namespace internal {

/// Visitor that reads each field a struct visits and remembers which keys it saw.
class TableReader {
 public:
  TableReader(const toml::table& table, const std::string& prefix)
      : table_(table), prefix_(prefix) {}

  template <class T>
  void operator()(std::string_view key, T& field) {
    known_.emplace_back(key);
    if (const toml::node* node = table_.get(key)) ReadValue(*node, JoinKey(prefix_, key), field);
  }

  /// Throws ConfigError for the first key of the table that no field visited.
  void RejectUnknownKeys() const {
    for (const auto& [key, node] : table_) {
      bool known = false;
      for (const auto& name : known_) known = known || name == key.str();
      if (!known) {
        ThrowAt(key.source(), JoinKey(prefix_, key.str()),
                "unknown key; valid keys here: " + JoinNames(known_));
      }
    }
  }

 private:
  const toml::table& table_;
  const std::string& prefix_;
  std::vector<std::string> known_;
};

/// Finds the node of a FieldError key relative to `table` ("task.goal_low", "goal_low[1]").
const toml::node* FindKey(const toml::table& table, std::string_view relative_key);

}  // namespace internal

template <class T>
void ReadTable(const toml::table& table, const std::string& prefix, T& out) {
  internal::TableReader reader(table, prefix);
  out.Visit(reader);
  reader.RejectUnknownKeys();
  if constexpr (internal::HasValidate<T>) {
    const std::vector<FieldError> errors = Validate(static_cast<const T&>(out));
    if (!errors.empty()) {
      const FieldError& first = errors.front();
      const toml::node* node = internal::FindKey(table, first.key);
      ThrowAt(node != nullptr ? node->source() : table.source(), JoinKey(prefix, first.key),
              first.message);
    }
  }
}

/// Visitor that writes every field of a struct into a TOML table (the resolved config).
class TableWriter {
 public:
  explicit TableWriter(toml::table& table) : table_(table) {}

  template <class T>
  void operator()(std::string_view key, const T& field) {
    if constexpr (internal::IsOptional<T>::value) {
      if (field) table_.insert_or_assign(key, ToNode(*field));
    } else {
      table_.insert_or_assign(key, ToNode(field));
    }
  }

  template <class T>
  static auto ToNode(const T& value) {
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) {
      return toml::value<T>(value);
    } else if constexpr (std::is_integral_v<T>) {
      return toml::value<std::int64_t>(static_cast<std::int64_t>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
      return toml::value<double>(static_cast<double>(value));
    } else if constexpr (internal::NamedEnum<T>) {
      for (const auto& [name, enum_value] : EnumNames(T{})) {
        if (enum_value == value) return toml::value<std::string>(std::string(name));
      }
      return toml::value<std::string>("?");
    } else if constexpr (internal::IsStdVector<T>::value || internal::IsStdArray<T>::value) {
      toml::array array;
      for (const auto& elem : value) array.push_back(ToNode(elem));
      return array;
    } else {
      toml::table table;
      TableWriter writer(table);
      const_cast<T&>(value).Visit(writer);
      return table;
    }
  }

 private:
  toml::table& table_;
};

/// Visitor that lists the dotted key of every leaf field of a struct ("clusters[].task.family"),
/// for the configuration reference check.
class KeyLister {
 public:
  explicit KeyLister(std::string prefix, std::vector<std::string>& keys)
      : prefix_(std::move(prefix)), keys_(keys) {}

  template <class T>
  void operator()(std::string_view key, T& field) {
    const std::string full = JoinKey(prefix_, key);
    if constexpr (internal::IsStdVector<T>::value) {
      using Elem = typename internal::IsStdVector<T>::value_type;
      if constexpr (std::is_class_v<Elem> && !std::is_same_v<Elem, std::string>) {
        Elem elem{};
        KeyLister inner(full + "[]", keys_);
        elem.Visit(inner);
        return;
      }
    }
    if constexpr (std::is_class_v<T> && !std::is_same_v<T, std::string> &&
                  !internal::IsStdVector<T>::value && !internal::IsStdArray<T>::value &&
                  !internal::IsOptional<T>::value) {
      KeyLister inner(full, keys_);
      field.Visit(inner);
    } else {
      keys_.push_back(full);
    }
  }

 private:
  std::string prefix_;
  std::vector<std::string>& keys_;
};

/// Every leaf key of T, dotted, arrays of tables marked "[]".
template <class T>
std::vector<std::string> ListKeys() {
  std::vector<std::string> keys;
  T value{};
  KeyLister lister("", keys);
  value.Visit(lister);
  return keys;
}

/// The struct as a TOML table, every field written (defaults included).
template <class T>
toml::table ToTable(const T& value) {
  return TableWriter::ToNode(value);
}

}  // namespace metajoule::experiments
