#include "sim/mujoco_handles.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>

#include "common/error.h"

namespace metajoule::sim {
namespace {

constexpr std::int64_t kPrintedWarnings = 10;
std::atomic<std::int64_t> warning_count{0};

void OnMujocoError(const char* message) {
  std::fprintf(stderr, "metajoule: MuJoCo error: %s\n", message);
  std::fflush(stderr);
  std::abort();
}

void OnMujocoWarning(const char* message) {
  const std::int64_t index = warning_count.fetch_add(1);
  if (index < kPrintedWarnings) {
    std::fprintf(stderr, "metajoule: MuJoCo warning: %s\n", message);
  } else if (index == kPrintedWarnings) {
    std::fprintf(stderr, "metajoule: MuJoCo warning: further warnings are counted, not printed\n");
  }
}

// mj_loadXML keeps a process-wide "last model" and is not thread-safe in MuJoCo 2.2.2.
std::mutex& ParserMutex() {
  static std::mutex mutex;
  return mutex;
}

// MuJoCo's message on one line: runs of line breaks become ": ", trailing space is dropped
// ("XML Error: Schema violation: unrecognized element: Element 'robot', line 3").
std::string Trimmed(const char* text) {
  std::string message;
  bool in_break = false;
  for (const char* c = text; *c != '\0'; ++c) {
    if (*c == '\n' || *c == '\r') {
      in_break = true;
      continue;
    }
    if (in_break && !message.empty()) message += ": ";
    in_break = false;
    message += *c;
  }
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return message;
}

}  // namespace

void InstallMujocoHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    mju_user_error = &OnMujocoError;
    mju_user_warning = &OnMujocoWarning;
  });
}

std::int64_t MujocoWarningCount() { return warning_count.load(); }

MjModelPtr LoadModelFromXml(std::string_view xml, const std::string& file_name) {
  InstallMujocoHandlers();
  // MuJoCo stores VFS names without a directory; a name with '/' would never be found
  if (file_name.empty() || file_name.find('/') != std::string::npos ||
      file_name.size() >= mjMAXVFSNAME) {
    throw std::invalid_argument("LoadModelFromXml: expected a plain file name, got \"" +
                                file_name + "\"");
  }
  if (xml.size() > static_cast<std::size_t>(INT32_MAX)) {
    throw ConfigError({file_name}, "", "model text too large");
  }
  // mjVFS holds 2000 names of 1000 bytes: too big for the stack
  auto vfs = std::make_unique<mjVFS>();
  mj_defaultVFS(vfs.get());
  const int size = static_cast<int>(xml.size());
  if (mj_makeEmptyFileVFS(vfs.get(), file_name.c_str(), size) != 0) {
    throw ConfigError({file_name}, "", "could not add the model to MuJoCo's virtual file system");
  }
  const int index = mj_findFileVFS(vfs.get(), file_name.c_str());
  MJL_DEMAND(index >= 0);
  std::memcpy(vfs->filedata[index], xml.data(), xml.size());

  char error[1024] = "";
  mjModel* model = nullptr;
  {
    std::lock_guard lock(ParserMutex());
    model = mj_loadXML(file_name.c_str(), vfs.get(), error, sizeof(error));
    mj_freeLastXML();
  }
  mj_deleteVFS(vfs.get());
  if (model == nullptr) throw ConfigError({file_name}, "", Trimmed(error));
  return MjModelPtr(model);
}

MjModelPtr LoadModelFromFile(const std::string& path) {
  InstallMujocoHandlers();
  if (!std::ifstream(path, std::ios::binary)) {
    throw ConfigError({path}, "", "cannot open the model file");
  }
  char error[1024] = "";
  mjModel* model = nullptr;
  {
    // from disk, so that <include> and asset paths resolve relative to the file
    std::lock_guard lock(ParserMutex());
    model = mj_loadXML(path.c_str(), nullptr, error, sizeof(error));
    mj_freeLastXML();
  }
  if (model == nullptr) throw ConfigError({path}, "", Trimmed(error));
  return MjModelPtr(model);
}

MjModelPtr CopyModel(const mjModel& model) {
  InstallMujocoHandlers();
  MjModelPtr copy(mj_copyModel(nullptr, &model));
  MJL_DEMAND(copy != nullptr);
  return copy;
}

MjDataPtr MakeData(const mjModel& model) {
  InstallMujocoHandlers();
  MjDataPtr data(mj_makeData(&model));
  MJL_DEMAND(data != nullptr);
  return data;
}

std::int64_t DataSizeBytes(const mjModel& model) {
  const MjDataPtr data = MakeData(model);
  return static_cast<std::int64_t>(data->nbuffer) +
         static_cast<std::int64_t>(data->nstack) * static_cast<std::int64_t>(sizeof(mjtNum));
}

}  // namespace metajoule::sim
