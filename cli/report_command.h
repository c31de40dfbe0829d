#pragma once
// `metajoule report`: the target-return resolution it shares with `metajoule bench report`.

#include <optional>

#include "report/report_data.h"

namespace metajoule::cli {

/// The report's target return: `flag` (--target) when given; else evaluation.target_return of
/// the runs' stored config (runs.config, parsed as an experiment file); else none. Throws
/// std::invalid_argument when the folders' configs disagree (naming two of them).
report::Target ResolveReportTarget(const report::ReportInput& input, std::optional<double> flag);

}  // namespace metajoule::cli
