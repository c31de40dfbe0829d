#include "experiments/run_folder.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace metajoule::experiments {

RunFolder CreateRunFolder(const ExperimentConfig& config) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  const std::filesystem::path parent =
      std::filesystem::path(config.experiment.output_dir) / config.experiment.name;
  const std::string base = std::string(stamp) + "-" + std::to_string(config.experiment.seed);

  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) {
    throw std::runtime_error("cannot create " + parent.string() + ": " + error.message());
  }
  // create_directory reports whether it made the folder, so two runs never share one
  RunFolder folder;
  for (int attempt = 1;; ++attempt) {
    folder.path = parent / (attempt == 1 ? base : base + "-" + std::to_string(attempt));
    if (std::filesystem::create_directory(folder.path, error)) break;
    if (error) throw std::runtime_error("cannot create " + folder.path.string() + ": " + error.message());
  }
  std::ofstream out(folder.config_file());
  out << "# resolved configuration of this run (metajoule check prints the same)\n"
      << ResolvedToml(config);
  if (!out) throw std::runtime_error("cannot write " + folder.config_file().string());
  return folder;
}

}  // namespace metajoule::experiments
