#include "sim/world.h"

#include <string>

#include <doctest/doctest.h>

#include "common/error.h"

namespace metajoule::sim {
namespace {

// a reach2d-like arm without the "fingertip" site the family needs
constexpr std::string_view kArmWithoutTip = R"(<mujoco model="no_tip">
  <worldbody>
    <site name="goal" pos="0.1 0 0"/>
    <body name="upper">
      <joint name="a" type="hinge" axis="0 0 1"/>
      <geom type="capsule" fromto="0 0 0 0.1 0 0" size="0.01"/>
      <body name="payload" pos="0.1 0 0">
        <joint name="b" type="hinge" axis="0 0 1"/>
        <geom type="sphere" size="0.01"/>
      </body>
    </body>
  </worldbody>
  <actuator><motor joint="a"/><motor joint="b"/></actuator>
</mujoco>
)";

TEST_SUITE("sim/world") {
  TEST_CASE("every family's world loads from the embedded models") {
    for (const std::string& name : TaskFamilyNames()) {
      CAPTURE(name);
      const World world(name);
      CHECK(world.family().name() == name);
      CHECK(world.model_name() == world.family().model_file());
      CHECK(world.model_hash() == HashText(EmbeddedModelXml(world.model_name())));
    }
  }

  TEST_CASE("a model the family cannot bind to names the file and the missing site") {
    try {
      World("reach2d", kArmWithoutTip, "no_tip.xml");
      FAIL("expected ConfigError");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()) == "no_tip.xml: the model has no site named \"fingertip\"");
    }
  }

  TEST_CASE("an unknown embedded model lists the embedded files") {
    CHECK_THROWS_WITH_AS(EmbeddedModelXml("humanoid.xml"),
                         "no embedded model \"humanoid.xml\"; embedded models: reach2d.xml, "
                         "reach3d.xml, nav2d.xml, runner.xml, quadruped.xml",
                         std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::sim
