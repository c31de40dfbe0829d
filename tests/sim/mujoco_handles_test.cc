#include "sim/mujoco_handles.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include "common/error.h"
#include "sim/embedded_models.h"

namespace metajoule::sim {
namespace {

// an element MuJoCo's schema does not know, on line 3
constexpr std::string_view kBadMjcf = R"(<mujoco model="bad">
  <worldbody>
    <robot name="nope"/>
  </worldbody>
</mujoco>
)";

constexpr std::string_view kTinyMjcf = R"(<mujoco model="tiny">
  <worldbody>
    <body><joint type="hinge"/><geom type="sphere" size="0.1"/></body>
  </worldbody>
</mujoco>
)";

std::string ConfigErrorOf(const auto& action) {
  try {
    action();
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST_SUITE("sim/mujoco_handles") {
  TEST_CASE("a model held in memory loads through the virtual file system") {
    const MjModelPtr model = LoadModelFromXml(kTinyMjcf, "tiny.xml");
    REQUIRE(model != nullptr);
    CHECK(model->nq == 1);
    const MjDataPtr data = MakeData(*model);
    mj_step(model.get(), data.get());
    CHECK(data->time > 0.0);
  }

  TEST_CASE("bad MJCF text becomes a ConfigError naming the file and MuJoCo's message") {
    CHECK(ConfigErrorOf([] { LoadModelFromXml(kBadMjcf, "broken.xml"); }) ==
          "broken.xml: XML Error: Schema violation: unrecognized element: Element 'robot', line 3");
  }

  TEST_CASE("a bad MJCF file on disk names its path and MuJoCo's message") {
    const std::string path =
        (std::filesystem::temp_directory_path() / "metajoule_sim_bad_model.xml").string();
    std::ofstream(path) << kBadMjcf;
    const std::string error = ConfigErrorOf([&] { LoadModelFromFile(path); });
    std::remove(path.c_str());
    CHECK(error.rfind(path + ": ", 0) == 0);
    CHECK(error.find("line 3") != std::string::npos);
  }

  TEST_CASE("a missing model file names its path") {
    CHECK(ConfigErrorOf([] { LoadModelFromFile("/nonexistent/model.xml"); }) ==
          "/nonexistent/model.xml: cannot open the model file");
  }

  TEST_CASE("a virtual file name with a directory is rejected as a bad argument") {
    CHECK_THROWS_AS(LoadModelFromXml(kTinyMjcf, "dir/tiny.xml"), std::invalid_argument);
  }

  TEST_CASE("every embedded model compiles, and arm models need at most 1 MB of mjData") {
    REQUIRE(EmbeddedModels().size() == 5);
    for (const EmbeddedModel& embedded : EmbeddedModels()) {
      CAPTURE(embedded.name);
      const MjModelPtr model = LoadModelFromXml(embedded.xml, std::string(embedded.name));
      REQUIRE(model != nullptr);
      CHECK(DataSizeBytes(*model) <= 1024 * 1024);
    }
  }

  TEST_CASE("a copied model is independent of its source") {
    const MjModelPtr model = LoadModelFromXml(kTinyMjcf, "tiny.xml");
    const MjModelPtr copy = CopyModel(*model);
    copy->dof_damping[0] = 5.0;
    CHECK(model->dof_damping[0] == 0.0);
  }

  TEST_CASE("MuJoCo warnings are counted by our handler") {
    InstallMujocoHandlers();
    const std::int64_t before = MujocoWarningCount();
    mju_warning("metajoule test warning (expected)");
    CHECK(MujocoWarningCount() == before + 1);
  }
}

}  // namespace
}  // namespace metajoule::sim
