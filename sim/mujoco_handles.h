#pragma once
// Owners for MuJoCo's C handles (STYLE.md section 4), the process-wide MuJoCo error and warning
// handlers, and model loading that turns MuJoCo's error text into a ConfigError.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <mujoco/mujoco.h>

namespace metajoule::sim {

struct MjModelDeleter {
  void operator()(mjModel* m) const { mj_deleteModel(m); }
};
struct MjDataDeleter {
  void operator()(mjData* d) const { mj_deleteData(d); }
};

/// An owned mjModel (freed with mj_deleteModel).
using MjModelPtr = std::unique_ptr<mjModel, MjModelDeleter>;
/// An owned mjData (freed with mj_deleteData).
using MjDataPtr = std::unique_ptr<mjData, MjDataDeleter>;

/// Installs metajoule's MuJoCo handlers once per process (later calls do nothing); every
/// function of this module that creates a MuJoCo object calls it first.
///  - mju_user_error prints "metajoule: MuJoCo error: <message>" to stderr and aborts. MuJoCo
///    assumes the handler does not return and a C++ exception must not cross its C frames, so an
///    error is a bug: sim validates its inputs so that MuJoCo never reaches mju_error.
///  - mju_user_warning counts the warning (MujocoWarningCount()) and prints the first few to
///    stderr as "metajoule: MuJoCo warning: <message>"; the rest are only counted.
void InstallMujocoHandlers();

/// Number of MuJoCo warnings reported through mju_user_warning since the process started.
std::int64_t MujocoWarningCount();

/// Compiles MJCF text held in memory; `file_name` (e.g. "reach2d.xml") names it in MuJoCo's
/// virtual file system and in messages. Thread-safe (MuJoCo's parser is serialised). Throws
/// ConfigError "file_name: <MuJoCo's message>" if MuJoCo rejects the model.
MjModelPtr LoadModelFromXml(std::string_view xml, const std::string& file_name);

/// Compiles an MJCF file from disk. Throws ConfigError "path: <MuJoCo's message>" if the file
/// cannot be read or MuJoCo rejects it.
MjModelPtr LoadModelFromFile(const std::string& path);

/// A deep copy of `model` (mj_copyModel); the copy can be modified without touching the source.
MjModelPtr CopyModel(const mjModel& model);

/// A fresh mjData for `model`, reset to the model's reference configuration.
MjDataPtr MakeData(const mjModel& model);

/// Bytes of one mjData for `model`: its main buffer plus its stack (nstack mjtNums).
std::int64_t DataSizeBytes(const mjModel& model);

}  // namespace metajoule::sim
