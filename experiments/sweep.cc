#include "experiments/sweep.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>
#include <tuple>

#include "experiments/extends.h"
#include "experiments/toml_config.h"

namespace metajoule::experiments {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTopLevelKeys[] = {"sweep", "grid", "zip", "set", "slurm"};

// A name that becomes a folder: the same rule as experiment.name.
std::vector<FieldError> CheckFolderName(const std::string& key, const std::string& name) {
  for (const char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return {{key, "may hold only letters, digits, '-', '_' and '.' (it names a folder), got \"" +
                        name + "\""}};
    }
  }
  if (name == "." || name == "..") return {{key, "must name a folder, got \"" + name + "\""}};
  return {};
}

bool IsBareKey(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// The TOML text of any value node, as --set reads it.
std::string NodeText(const toml::node& node) {
  if (const auto* text = node.as_string()) return TomlStringText(text->get());
  if (const auto* integer = node.as_integer()) return std::to_string(integer->get());
  if (const auto* number = node.as_floating_point()) return TomlValueText(number->get());
  if (const auto* boolean = node.as_boolean()) return boolean->get() ? "true" : "false";
  if (const auto* array = node.as_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (i > 0) out += ", ";
      out += NodeText(*array->get(i));
    }
    return out + "]";
  }
  if (const auto* table = node.as_table()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, value] : *table) {
      out += first ? " " : ", ";
      first = false;
      out += (IsBareKey(key.str()) ? std::string(key.str()) : TomlStringText(key.str())) + " = " +
             NodeText(value);
    }
    return out + (first ? "}" : " }");
  }
  std::ostringstream out;  // dates and times: toml++ writes them in TOML syntax
  node.visit([&out](const auto& value) { out << value; });
  return out.str();
}

// The short text of a value in a cell label: strings bare, one-element arrays as their element.
std::string LabelText(const toml::node& node) {
  if (const auto* text = node.as_string()) return text->get();
  if (const auto* array = node.as_array(); array != nullptr && array->size() == 1) {
    return LabelText(*array->get(0));
  }
  return NodeText(node);
}

struct Position {
  std::uint32_t line{0};
  std::uint32_t column{0};
  std::string path;
  bool operator<(const Position& other) const {
    return std::tie(line, column, path) < std::tie(other.line, other.column, other.path);
  }
};

Position PositionOf(const toml::node& node) {
  const SourceLocation where = LocationOf(node.source());
  return {where.line, where.column, where.path};
}

// A leaf of a table whose nested tables are flattened into dotted keys: [grid] may write
// `"experiment.seed" = [...]` or `experiment.seed = [...]` alike.
struct Leaf {
  std::string key;
  const toml::node* node;
};

void FlattenInto(const toml::table& table, const std::string& prefix, std::vector<Leaf>& out) {
  for (const auto& [key, node] : table) {
    const std::string full = JoinKey(prefix, key.str());
    if (const toml::table* nested = node.as_table()) {
      FlattenInto(*nested, full, out);
    } else {
      out.push_back({full, &node});
    }
  }
}

// The leaves in file order (toml++ tables iterate in key order).
std::vector<Leaf> Flatten(const toml::table& table) {
  std::vector<Leaf> leaves;
  FlattenInto(table, "", leaves);
  std::stable_sort(leaves.begin(), leaves.end(), [](const Leaf& a, const Leaf& b) {
    return PositionOf(*a.node) < PositionOf(*b.node);
  });
  return leaves;
}

// The shortest dotted suffix of `key` that no other key in `keys` ends with.
std::string ShortName(const std::string& key, const std::vector<std::string>& keys) {
  std::size_t cut = key.size();
  for (;;) {
    const std::size_t dot = key.rfind('.', cut == 0 ? 0 : cut - 1);
    if (dot == std::string::npos) return key;
    const std::string suffix = key.substr(dot + 1);
    const bool unique = std::none_of(keys.begin(), keys.end(), [&](const std::string& other) {
      return other != key && (other == suffix || (other.size() > suffix.size() &&
                                                  other.compare(other.size() - suffix.size(),
                                                                suffix.size(), suffix) == 0 &&
                                                  other[other.size() - suffix.size() - 1] == '.'));
    });
    if (unique) return suffix;
    cut = dot;
  }
}

// An axis under construction, with the place it starts in the file (its order).
struct AxisDraft {
  Position position;
  SweepAxis axis;
};

}  // namespace

std::vector<FieldError> Validate(const SweepSection& section) {
  std::vector<FieldError> errors = CheckFolderName("name", section.name);
  if (section.workers < 0) {
    errors.push_back(
        {"workers", "must be >= 0 (0: every core), got " + std::to_string(section.workers)});
  }
  return errors;
}

std::vector<FieldError> Validate(const SlurmSection& section) {
  std::vector<FieldError> errors;
  if (section.cpus_per_task < 1) {
    errors.push_back(
        {"cpus_per_task", "must be >= 1, got " + std::to_string(section.cpus_per_task)});
  }
  for (std::size_t i = 0; i < section.sbatch_args.size(); ++i) {
    const std::string& arg = section.sbatch_args[i];
    if (arg.rfind("-", 0) != 0 || arg.find('\n') != std::string::npos) {
      errors.push_back({"sbatch_args[" + std::to_string(i) + "]",
                        "expected one sbatch option such as \"--qos=short\", got \"" + arg + "\""});
    }
  }
  return errors;
}

std::string SweepCell::OverridesText() const {
  std::string out;
  for (const SweepOverride& each : overrides) {
    if (!out.empty()) out += ";";
    out += each.Text();
  }
  return out;
}

std::vector<std::string> SweepCell::SetArguments() const {
  std::vector<std::string> out;
  for (const SweepOverride& each : overrides) out.push_back(each.Text());
  return out;
}

const SweepCell* Sweep::FindCell(std::string_view id_or_index) const {
  for (const SweepCell& cell : cells) {
    if (cell.id == id_or_index) return &cell;
  }
  int index = -1;
  const auto [end, error] =
      std::from_chars(id_or_index.data(), id_or_index.data() + id_or_index.size(), index);
  if (error != std::errc{} || end != id_or_index.data() + id_or_index.size()) return nullptr;
  if (index < 0 || index >= static_cast<int>(cells.size())) return nullptr;
  return &cells[static_cast<std::size_t>(index)];
}

std::string CellId(int index) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "c%04d", index);
  return buffer;
}

std::string TomlValueText(double value) {
  char buffer[64];
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest round trip
  std::string text(buffer, error == std::errc{} ? end : buffer);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";  // "inf", "nan" hold an n
  return text;
}

std::string TomlStringText(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
          out += escape;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

ExperimentConfig LoadCell(const Sweep& sweep, const SweepCell& cell) {
  try {
    return LoadExperiment(sweep.base.string(), cell.SetArguments());
  } catch (const ConfigError& error) {
    const std::string context =
        " (sweep cell " + cell.id + (cell.label.empty() ? "" : ": " + cell.label) + ")";
    if (error.where().path != "--set") {
      // an error in the base file's own text, which this cell's values may have exposed
      throw ConfigError(error.where(), error.key(), error.message() + context);
    }
    // an override's error: point at the sweep's value of that key
    const std::string& key = error.key();
    for (auto it = cell.overrides.rbegin(); it != cell.overrides.rend(); ++it) {
      const std::string& own = it->key;
      const bool match = key == own || key.rfind(own + ".", 0) == 0 || key.rfind(own + "[", 0) == 0;
      if (match) throw ConfigError(it->where, key, error.message() + context);
    }
    throw ConfigError({sweep.file.string()}, key, error.message() + context);
  }
}

Sweep LoadSweep(const std::string& path) {
  const toml::table document = ReadTomlFile(path);
  Sweep sweep;
  sweep.file = fs::absolute(path).lexically_normal();

  // the top level: only the sweep's own tables
  for (const auto& [key, node] : document) {
    const bool known = std::find(std::begin(kTopLevelKeys), std::end(kTopLevelKeys), key.str()) !=
                       std::end(kTopLevelKeys);
    if (!known) {
      ThrowAt(key.source(), std::string(key.str()),
              "unknown key; valid keys here: sweep, grid, zip, set, slurm");
    }
    if (!node.is_table()) ThrowAt(node.source(), std::string(key.str()), "expected a table");
  }
  const toml::table empty;
  auto table_of = [&](std::string_view key) -> const toml::table& {
    const toml::table* table = document.get_as<toml::table>(key);
    return table != nullptr ? *table : empty;
  };

  // [sweep] and [slurm]
  ReadTable(table_of("sweep"), "sweep", sweep.settings);
  ReadTable(table_of("slurm"), "slurm", sweep.slurm);
  if (sweep.settings.name.empty()) sweep.settings.name = fs::path(path).stem().string();
  if (const auto errors = CheckFolderName("sweep.name", sweep.settings.name); !errors.empty()) {
    throw ConfigError({sweep.file.string()}, "sweep.name",
                      errors.front().message + " (set [sweep] name; the file name does not fit)");
  }
  const toml::node* base_node = table_of("sweep").get("base");
  if (base_node == nullptr) {
    throw ConfigError({sweep.file.string()}, "sweep.base",
                      "required: the experiment file every cell starts from");
  }
  if (sweep.settings.base.empty()) ThrowAt(base_node->source(), "sweep.base", "must not be empty");
  {
    // relative to the file that sets it (a sweep may extend another sweep)
    const SourceLocation where = LocationOf(base_node->source());
    const fs::path relative_to = fs::path(where.path.empty() ? path : where.path).parent_path();
    const fs::path named(sweep.settings.base);
    sweep.base = fs::absolute(named.is_absolute() ? named : relative_to / named).lexically_normal();
    std::error_code error;
    if (!fs::is_regular_file(sweep.base, error)) {
      ThrowAt(base_node->source(), "sweep.base",
              "cannot read the experiment file \"" + sweep.settings.base + "\" (looked for " +
                  sweep.base.string() + ")");
    }
  }

  // [set]: fixed overrides
  std::vector<std::pair<std::string, SourceLocation>> seen;  // every key set so far
  auto claim = [&seen](const std::string& key, const toml::node& node, const std::string& section) {
    for (const auto& [other, where] : seen) {
      if (other == key) {
        ThrowAt(node.source(), key, "set twice in the sweep (also at " + where.ToString() + ")");
      }
    }
    if (key == "experiment.output_dir" && section != "set") {
      ThrowAt(node.source(), key,
              "the batch sets each cell's output_dir (runs/<cell> in the batch folder); "
              "use [sweep] output_dir for the batch folder");
    }
    seen.emplace_back(key, LocationOf(node.source()));
  };
  {
    const std::vector<Leaf> leaves = Flatten(table_of("set"));
    for (const Leaf& leaf : leaves) {
      claim(leaf.key, *leaf.node, "set");
      sweep.fixed.push_back({leaf.key, NodeText(*leaf.node), LocationOf(leaf.node->source())});
    }
  }

  // the base with the fixed overrides: its output_dir, and which keys hold arrays
  SweepCell fixed_only;
  fixed_only.id = CellId(0);
  fixed_only.overrides = sweep.fixed;
  const ExperimentConfig resolved = LoadCell(sweep, fixed_only);
  const toml::table resolved_table = ToTable(resolved);
  auto holds_array = [&resolved_table](const std::string& key) {
    const toml::node* node = internal::FindKey(resolved_table, key);
    return node != nullptr && node->is_array();
  };
  // one value of an axis; a scalar for an array-valued key (experiment.methods) stands for the
  // one-element array, so `"experiment.methods" = ["maml", "scratch"]` gives one method per cell
  auto point_of = [&](const std::string& key, const toml::node& value) {
    std::string text = NodeText(value);
    if (!value.is_array() && holds_array(key)) text = "[" + text + "]";
    return SweepOverride{key, text, LocationOf(value.source())};
  };
  auto values_of = [](const Leaf& leaf, const std::string& section) -> const toml::array& {
    const toml::array* values = leaf.node->as_array();
    const std::string key = leaf.key;
    if (values == nullptr) {
      ThrowAt(leaf.node->source(), key,
              "expected an array of values, one per cell ([" + section +
                  "] varies keys; [set] holds fixed values)");
    }
    if (values->empty()) ThrowAt(leaf.node->source(), key, "list at least one value");
    return *values;
  };

  // the axes: [grid] keys and [zip.<name>] tables, in file order
  std::vector<AxisDraft> drafts;
  {
    const std::vector<Leaf> leaves = Flatten(table_of("grid"));
    for (const Leaf& leaf : leaves) {
      claim(leaf.key, *leaf.node, "grid");
      const toml::array& values = values_of(leaf, "grid");
      AxisDraft draft;
      draft.position = PositionOf(*leaf.node);
      draft.axis.name = leaf.key;
      draft.axis.keys = {leaf.key};
      for (const toml::node& value : values) {
        draft.axis.points.push_back({point_of(leaf.key, value)});
        draft.axis.labels.push_back(LabelText(value));
      }
      drafts.push_back(std::move(draft));
    }
  }
  for (const auto& [zip_name, zip_node] : table_of("zip")) {
    const std::string zip_key = "zip." + std::string(zip_name.str());
    const toml::table* zip = zip_node.as_table();
    if (zip == nullptr) {
      ThrowAt(zip_node.source(), zip_key,
              "expected a table of --set keys whose arrays vary together ([zip." +
                  std::string(zip_name.str()) + "])");
    }
    const std::vector<Leaf> leaves = Flatten(*zip);
    if (leaves.empty()) ThrowAt(zip_node.source(), zip_key, "list at least one key");
    AxisDraft draft;
    draft.axis.name = std::string(zip_name.str());
    draft.position = PositionOf(*leaves.front().node);
    std::size_t size = 0;
    for (const Leaf& leaf : leaves) {
      claim(leaf.key, *leaf.node, "zip");
      const toml::array& values = values_of(leaf, zip_key);
      if (draft.axis.keys.empty()) {
        size = values.size();
        draft.axis.points.resize(size);
        for (const toml::node& value : values) draft.axis.labels.push_back(LabelText(value));
      } else if (values.size() != size) {
        ThrowAt(leaf.node->source(), leaf.key,
                "has " + std::to_string(values.size()) + " values, but " + draft.axis.keys.front() +
                    " in the same [" + zip_key + "] has " + std::to_string(size) +
                    "; the keys of a zip vary together");
      }
      draft.axis.keys.push_back(leaf.key);
      draft.position = std::min(draft.position, PositionOf(*leaf.node));
      for (std::size_t i = 0; i < size; ++i) {
        draft.axis.points[i].push_back(point_of(leaf.key, *values.get(i)));
      }
    }
    drafts.push_back(std::move(draft));
  }
  std::stable_sort(drafts.begin(), drafts.end(),
                   [](const AxisDraft& a, const AxisDraft& b) { return a.position < b.position; });
  for (AxisDraft& draft : drafts) sweep.axes.push_back(std::move(draft.axis));

  // labels name each axis by the shortest suffix of its key that tells the axes apart
  std::vector<std::string> axis_names;
  for (const SweepAxis& axis : sweep.axes) axis_names.push_back(axis.name);
  std::vector<std::string> short_names;
  for (const SweepAxis& axis : sweep.axes) {
    short_names.push_back(axis.keys.size() == 1 ? ShortName(axis.name, axis_names) : axis.name);
  }

  // every combination, the last axis varying fastest
  std::size_t count = 1;
  for (const SweepAxis& axis : sweep.axes) count *= axis.points.size();
  constexpr std::size_t kMaxCells = 100000;
  if (count > kMaxCells) {
    throw ConfigError({sweep.file.string()}, "grid",
                      "the sweep has " + std::to_string(count) + " cells; at most " +
                          std::to_string(kMaxCells) + " are supported");
  }
  for (std::size_t n = 0; n < count; ++n) {
    SweepCell cell;
    cell.index = static_cast<int>(n);
    cell.id = CellId(cell.index);
    cell.overrides = sweep.fixed;
    std::vector<std::size_t> choice(sweep.axes.size());
    std::size_t rest = n;
    for (std::size_t a = sweep.axes.size(); a-- > 0;) {
      choice[a] = rest % sweep.axes[a].points.size();
      rest /= sweep.axes[a].points.size();
    }
    for (std::size_t a = 0; a < sweep.axes.size(); ++a) {
      const SweepAxis& axis = sweep.axes[a];
      for (const SweepOverride& each : axis.points[choice[a]]) cell.overrides.push_back(each);
      if (!cell.label.empty()) cell.label += " ";
      cell.label += short_names[a] + "=" + axis.labels[choice[a]];
    }
    sweep.cells.push_back(std::move(cell));
  }

  // the same validation as `run --set`, for every cell
  for (const SweepCell& cell : sweep.cells) LoadCell(sweep, cell);

  const fs::path output_dir = sweep.settings.output_dir.empty()
                                  ? fs::path(resolved.experiment.output_dir)
                                  : fs::path(sweep.settings.output_dir);
  sweep.folder = fs::absolute(output_dir / sweep.settings.name).lexically_normal();
  return sweep;
}

}  // namespace metajoule::experiments
