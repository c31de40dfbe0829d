#pragma once
// The report pages: one self-contained HTML file (every SVG inlined, every PNG embedded as a
// base64 data URI, no external file or script) and a Markdown page alongside it that links the
// figure files. Both hold the same tables: energy-to-target per method, lifecycle costs and
// break-even, carbon per location, the trade-off map's winners, and (for a batch) the cells.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "report/gnuplot.h"
#include "report/report_data.h"

namespace metajoule::report {

/// RFC 4648 base64 (with padding).
std::string Base64(std::string_view bytes);

/// HTML text escaping of & < > " '.
std::string HtmlEscape(std::string_view text);

/// An SVG document ready to inline in HTML: the XML prolog and doctype dropped, every id (and
/// each reference to it: href="#id", url(#id)) prefixed with `id_prefix`, so that several
/// figures can live in one page without their ids colliding.
std::string InlineSvg(std::string_view svg, std::string_view id_prefix);

/// The HTML page. Reads figures/<name>.svg and .png under `out_dir` for every drawn figure;
/// throws std::runtime_error naming a figure file that is missing.
std::string RenderHtml(const Report& report, const std::vector<FigureInfo>& figures,
                       const std::filesystem::path& out_dir);

/// The Markdown page (figures linked as figures/<name>.png and .svg).
std::string RenderMarkdown(const Report& report, const std::vector<FigureInfo>& figures);

}  // namespace metajoule::report
