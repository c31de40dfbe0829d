#include <iostream>

#include <mujoco/mujoco.h>
#include <sqlite3.h>
#include <zmq.h>

#include <Eigen/Core>

#include "cli/command.h"
#include "common/build_info.h"

namespace metajoule::cli {

std::function<int()> ConfigureVersion(CLI::App& /*app*/) {
  return [] {
    int zmq_major = 0, zmq_minor = 0, zmq_patch = 0;
    zmq_version(&zmq_major, &zmq_minor, &zmq_patch);
    std::cout << "metajoule " << kVersion << " (commit " << kGitCommit << ")\n"
              << "  MuJoCo " << mj_versionString() << "\n"
              << "  Eigen  " << EIGEN_WORLD_VERSION << "." << EIGEN_MAJOR_VERSION << "."
              << EIGEN_MINOR_VERSION << "\n"
              << "  ZeroMQ " << zmq_major << "." << zmq_minor << "." << zmq_patch << "\n"
              << "  SQLite " << sqlite3_libversion() << "\n";
    return kExitOk;
  };
}

}  // namespace metajoule::cli
