#include "report/html.h"

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace metajoule::report {
namespace {

namespace fs = std::filesystem;

// A table both pages print.
struct Table {
  std::string title;
  std::string note;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": figure file missing (did gnuplot run?)");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Joules(double j) { return FormatNumber(j); }

std::string TargetLine(const Report& report) {
  if (!report.target.value) return "none (" + report.target.source + ")";
  return FormatNumber(*report.target.value) + " (from " + report.target.source + ")";
}

std::vector<Table> Tables(const Report& report) {
  std::vector<Table> tables;
  const bool batch = report.kind == SourceKind::kBatch;
  const bool has_target = report.target.value.has_value();

  // energy-to-target per method
  {
    Table t;
    t.title = has_target ? "Energy to target" : "Energy per run";
    t.note = has_target
                 ? "Energy of rounds 0..r*, r* the first round whose mean return reaches the "
                   "target; 'no' rows show the whole run (a lower bound)."
                 : "No target: the whole run.";
    std::map<std::string, double> carbon;
    for (const MethodSummary& s : report.summaries) carbon[s.method] = s.gco2e;
    if (!batch) {
      t.header = {"method", "run", "reached", "round r*", "return", "compute J", "UL J", "DL J",
                  "SL J", "total J", "gCO2e (run + deployment)"};
      for (const RunTarget& r : report.run_targets) {
        t.rows.push_back({r.method, std::to_string(r.run),
                          has_target ? (r.result.reached ? "yes" : "no") : "-",
                          r.result.reached ? std::to_string(r.result.round) : "-",
                          FormatNumber(r.result.reached ? r.result.value : r.best_return) +
                              (r.result.reached ? "" : " (best)"),
                          Joules(r.split.compute_j), Joules(r.split.uplink_j),
                          Joules(r.split.downlink_j), Joules(r.split.sidelink_j),
                          Joules(r.split.total_j()), FormatNumber(carbon[r.method])});
      }
    } else {
      t.header = {"method", "cells", "reached", "mean best return", "compute J", "UL J", "DL J",
                  "SL J", "total J", "gCO2e (all cells)"};
      t.note += " Batch: means over the cells that reached it (over every cell when none did).";
      for (const MethodSummary& s : report.summaries) {
        t.rows.push_back({s.method, std::to_string(s.runs),
                          has_target ? std::to_string(s.reached) : "-",
                          FormatNumber(s.mean_best_return), Joules(s.mean_split.compute_j),
                          Joules(s.mean_split.uplink_j), Joules(s.mean_split.downlink_j),
                          Joules(s.mean_split.sidelink_j), Joules(s.mean_split.total_j()),
                          FormatNumber(s.gco2e)});
      }
    }
    tables.push_back(std::move(t));
  }

  // lifecycle
  if (!report.lifecycle.empty()) {
    Table t;
    t.title = "Lifecycle and break-even";
    t.note = "E(N) = E_meta + N × E_adapt against N × E_scratch; '≥' marks a lower bound (target "
             "not reached).";
    t.header = {"method", "E_meta J", "E_adapt J/task", "E_scratch J/task", "N* (break-even)",
                "smallest whole N", "N = agents", "E(N) J", "N × E_scratch J"};
    for (const LifecycleRow& row : report.lifecycle) {
      t.rows.push_back(
          {row.method + (batch ? " (" + std::to_string(row.folders) + " cells)" : ""),
           Joules(row.costs.meta_j),
           (row.adapt_reached ? "" : "≥ ") + Joules(row.costs.adapt_j),
           (row.scratch_reached ? "" : "≥ ") + Joules(row.costs.scratch_j),
           row.break_even ? FormatNumber(*row.break_even) : "never (E_adapt ≥ E_scratch)",
           row.break_even_count ? std::to_string(*row.break_even_count) : "-",
           FormatNumber(row.agents), Joules(ledger::MetaLifecycleJ(row.costs, row.agents)),
           Joules(ledger::ScratchLifecycleJ(row.costs, row.agents))});
    }
    tables.push_back(std::move(t));
  }

  // carbon per location
  if (!report.carbon.locations.empty()) {
    Table t;
    t.title = "Carbon per grid location (gCO2e)";
    t.header = {"location"};
    for (const std::string& m : report.carbon.methods) t.header.push_back(m);
    t.header.push_back("energy J (all methods)");
    for (std::size_t l = 0; l < report.carbon.locations.size(); ++l) {
      std::vector<std::string> row = {report.carbon.locations[l]};
      double joules = 0.0;
      for (std::size_t m = 0; m < report.carbon.methods.size(); ++m) {
        row.push_back(FormatNumber(report.carbon.gco2e[l][m]));
        joules += report.carbon.energy_j[l][m];
      }
      row.push_back(Joules(joules));
      t.rows.push_back(std::move(row));
    }
    tables.push_back(std::move(t));
  }

  // trade-off map
  {
    const Tradeoff& map = report.tradeoff;
    Table t;
    t.title = "Winning method per (UL, SL) efficiency";
    t.note = std::string(map.repriced ? "Repriced what-if. " : "Measured over the batch. ") +
             "Rows: uplink kbit/J; columns: sidelink kbit/J.";
    t.header = {"UL \\ SL"};
    for (const double s : map.sidelink_values) t.header.push_back(FormatNumber(s));
    for (std::size_t u = 0; u < map.uplink_values.size(); ++u) {
      std::vector<std::string> row = {FormatNumber(map.uplink_values[u])};
      for (std::size_t s = 0; s < map.sidelink_values.size(); ++s) {
        const TradeoffCell& cell = map.cells[u * map.sidelink_values.size() + s];
        row.push_back(cell.winner + (cell.winner == "none" || cell.winner == "(no cell)"
                                         ? ""
                                         : cell.by_energy ? " (" + FormatNumber(cell.figure) + " J)"
                                                          : " (ret " + FormatNumber(cell.figure) + ")"));
      }
      t.rows.push_back(std::move(row));
    }
    if (!map.cells.empty()) tables.push_back(std::move(t));
  }

  // batch cells
  if (batch) {
    Table t;
    t.title = "Cells";
    t.note = has_target ? "Energy-to-target per method (J); '-' not reached." : "Whole-run energy per method (J).";
    t.header = {"cell", "overrides"};
    for (const std::string& m : report.methods) t.header.push_back(m);
    std::map<std::string, std::map<std::string, std::string>> by_cell;
    std::vector<std::string> cells;
    for (const RunTarget& r : report.run_targets) {
      if (by_cell.find(r.folder) == by_cell.end()) cells.push_back(r.folder);
      by_cell[r.folder][r.method] =
          (!has_target || r.result.reached) ? FormatNumber(r.result.energy_j) : "-";
    }
    for (const std::string& cell : cells) {
      const auto found = report.overrides.find(cell);
      std::vector<std::string> row = {cell, found == report.overrides.end() ? "" : found->second};
      for (const std::string& m : report.methods) {
        const auto it = by_cell[cell].find(m);
        row.push_back(it == by_cell[cell].end() ? "" : it->second);
      }
      t.rows.push_back(std::move(row));
    }
    tables.push_back(std::move(t));
    if (!report.left_out.empty()) {
      Table left;
      left.title = "Cells left out";
      left.header = {"cell", "status", "reason"};
      for (const LeftOutCell& c : report.left_out) left.rows.push_back({c.cell, c.status, c.reason});
      tables.push_back(std::move(left));
    }
  }
  return tables;
}

std::string MarkdownCell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out.push_back(c);
  }
  return out;
}

std::string SourceLine(const Report& report) {
  return std::string(report.kind == SourceKind::kBatch ? "batch " : "run folder ") +
         report.source.string() + " (" + std::to_string(report.folders) +
         (report.folders == 1 ? " ledger" : " ledgers") + ")";
}

constexpr const char* kStyle =
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "color:#222}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}"
    "figure{margin:1em 0}figure svg{width:100%;height:auto}"
    "figcaption{font-size:0.9em;color:#444}.source{font-family:monospace;font-size:0.85em;"
    "color:#555}.note{color:#444}";

}  // namespace

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<unsigned char>(bytes[i]) << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string InlineSvg(std::string_view svg, std::string_view id_prefix) {
  const std::size_t start = svg.find("<svg");
  std::string text(start == std::string_view::npos ? svg : svg.substr(start));
  // collect the ids, then rewrite them and every reference in one pass per id
  std::set<std::string> ids;
  for (std::size_t pos = text.find(" id=\""); pos != std::string::npos;
       pos = text.find(" id=\"", pos + 1)) {
    const std::size_t begin = pos + 5;
    const std::size_t end = text.find('"', begin);
    if (end == std::string::npos) break;
    ids.insert(text.substr(begin, end - begin));
  }
  const auto replace_all = [&text](const std::string& from, const std::string& to) {
    for (std::size_t pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
      text.replace(pos, from.size(), to);
    }
  };
  const std::string prefix(id_prefix);
  for (const std::string& id : ids) {
    replace_all(" id=\"" + id + "\"", " id=\"" + prefix + id + "\"");
    replace_all("\"#" + id + "\"", "\"#" + prefix + id + "\"");
    replace_all("url(#" + id + ")", "url(#" + prefix + id + ")");
  }
  return text;
}

std::string RenderHtml(const Report& report, const std::vector<FigureInfo>& figures,
                       const std::filesystem::path& out_dir) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<title>metajoule report: " << HtmlEscape(report.source.filename().string())
       << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n"
       << "<h1>metajoule report</h1>\n<p>Source: <code>" << HtmlEscape(SourceLine(report))
       << "</code><br>Target return: " << HtmlEscape(TargetLine(report))
       << "<br>Methods: " << HtmlEscape([&] {
            std::string s;
            for (const std::string& m : report.methods) s += (s.empty() ? "" : ", ") + m;
            return s;
          }())
       << "</p>\n";
  if (!report.notes.empty()) {
    html << "<ul class=\"note\">\n";
    for (const std::string& note : report.notes) html << "<li>" << HtmlEscape(note) << "</li>\n";
    html << "</ul>\n";
  }
  int index = 0;
  for (const FigureInfo& figure : figures) {
    html << "<h2>" << HtmlEscape(figure.title) << "</h2>\n";
    if (!figure.drawn) {
      html << "<p class=\"note\">" << HtmlEscape(figure.caption) << "</p>\n";
      continue;
    }
    const std::string svg = ReadFile(out_dir / "figures" / (figure.name + ".svg"));
    const std::string png = ReadFile(out_dir / "figures" / (figure.name + ".png"));
    html << "<figure>\n"
         << InlineSvg(svg, "f" + std::to_string(index++) + "-") << "\n<figcaption>"
         << HtmlEscape(figure.caption) << " <a download=\"" << HtmlEscape(figure.name)
         << ".png\" href=\"data:image/png;base64," << Base64(png) << "\">PNG</a>"
         << "<br><span class=\"source\">source: " << HtmlEscape(figure.source)
         << "</span></figcaption>\n</figure>\n";
  }
  for (const Table& table : Tables(report)) {
    html << "<h2>" << HtmlEscape(table.title) << "</h2>\n";
    if (!table.note.empty()) html << "<p class=\"note\">" << HtmlEscape(table.note) << "</p>\n";
    html << "<table>\n<tr>";
    for (const std::string& h : table.header) html << "<th>" << HtmlEscape(h) << "</th>";
    html << "</tr>\n";
    for (const auto& row : table.rows) {
      html << "<tr>";
      for (const std::string& cell : row) html << "<td>" << HtmlEscape(cell) << "</td>";
      html << "</tr>\n";
    }
    html << "</table>\n";
  }
  html << "<p class=\"note\">Every figure is drawn by gnuplot from the files in data/ with "
          "report.gp (in the report folder); docs/report.md explains each one.</p>\n"
       << "</body>\n</html>\n";
  return html.str();
}

std::string RenderMarkdown(const Report& report, const std::vector<FigureInfo>& figures) {
  std::ostringstream md;
  md << "# metajoule report\n\n"
     << "- Source: `" << SourceLine(report) << "`\n"
     << "- Target return: " << TargetLine(report) << "\n";
  std::string methods;
  for (const std::string& m : report.methods) methods += (methods.empty() ? "" : ", ") + m;
  md << "- Methods: " << methods << "\n";
  for (const std::string& note : report.notes) md << "- " << note << "\n";
  for (const FigureInfo& figure : figures) {
    md << "\n## " << figure.title << "\n\n";
    if (!figure.drawn) {
      md << figure.caption << "\n";
      continue;
    }
    md << "![" << figure.title << "](figures/" << figure.name << ".png)\n\n"
       << figure.caption << " ([SVG](figures/" << figure.name << ".svg), data: `data/"
       << figure.name << ".dat`)\n\n"
       << "Source: " << figure.source << "\n";
  }
  for (const Table& table : Tables(report)) {
    md << "\n## " << table.title << "\n\n";
    if (!table.note.empty()) md << table.note << "\n\n";
    md << "|";
    for (const std::string& h : table.header) md << " " << MarkdownCell(h) << " |";
    md << "\n|";
    for (std::size_t i = 0; i < table.header.size(); ++i) md << (i == 0 ? " --- |" : " ---: |");
    md << "\n";
    for (const auto& row : table.rows) {
      md << "|";
      for (const std::string& cell : row) md << " " << MarkdownCell(cell) << " |";
      md << "\n";
    }
  }
  return md.str();
}

}  // namespace metajoule::report
