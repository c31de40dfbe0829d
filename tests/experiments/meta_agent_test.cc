#include "experiments/meta_agent.h"

#include <cmath>
#include <string>

#include <doctest/doctest.h>

#include "network/wire_format.h"

namespace metajoule::experiments {
namespace {

TEST_SUITE("experiments/meta_agent") {
  TEST_CASE("a report carries the contribution and the work and parses back") {
    meta::Contribution c;
    c.method = meta::MetaMethod::kFedAvg;
    c.vector = Eigen::VectorXd::LinSpaced(5, -1.0, 1.0);
    c.weight = 7.0;
    c.work.sim_steps = 1234;
    c.work.env_steps = 600;
    c.work.episodes = 7;
    c.work.policy_flops = (std::uint64_t{1} << 52) + 3;
    c.pre_adaptation_return = -3.5;
    ledger::Measurement measurement;
    measurement.cpu_seconds = 0.25;
    measurement.wall_seconds = 0.5;
    network::Message report = MakeMetaReport(c, measurement);
    CHECK(report.content == network::Content::kModel);
    network::Message decoded;
    REQUIRE(network::Decode(network::Encode(report), decoded) == network::DecodeStatus::kOk);
    std::string error;
    const std::optional<MetaReport> parsed = ParseMetaReport(decoded, error);
    REQUIRE(parsed);
    CHECK(parsed->contribution.ok());
    CHECK(parsed->contribution.work == c.work);
    CHECK(parsed->contribution.weight == 7.0);
    CHECK(parsed->contribution.pre_adaptation_return == -3.5);
    CHECK(std::isnan(parsed->contribution.post_adaptation_return));
    CHECK(parsed->measurement.wall_seconds == 0.5);
    CHECK(!parsed->measurement.package_j);
    for (Eigen::Index i = 0; i < 5; ++i) {
      CHECK(parsed->contribution.vector[i] == static_cast<double>(static_cast<float>(c.vector[i])));
    }

    // beyond float32's range: sent as a failed contribution, with the reason
    c.vector[2] = 1e300;
    const std::optional<MetaReport> failed = ParseMetaReport(MakeMetaReport(c, measurement), error);
    REQUIRE(failed);
    CHECK(!failed->contribution.ok());
    CHECK(failed->contribution.vector.size() == 0);
    CHECK(failed->contribution.message.find("float32") != std::string::npos);

    // malformed: a missing work scalar, a fractional count
    network::Message broken = report;
    broken.scalars.erase(broken.scalars.begin() + 3);
    CHECK(!ParseMetaReport(broken, error));
    CHECK(error.find("sim_steps") != std::string::npos);
    broken = report;
    broken.scalars[3].value = 1.5;
    CHECK(!ParseMetaReport(broken, error));
  }

  TEST_CASE("a push names the method and the training round and bad ones are rejected") {
    const network::Message push =
        MakeMetaPush(meta::MetaMethod::kReptile, 4, Eigen::VectorXd::Constant(3, 0.1));
    std::string error;
    const std::optional<MetaPush> parsed = ParseMetaPush(push, error);
    REQUIRE(parsed);
    CHECK(parsed->method == meta::MetaMethod::kReptile);
    CHECK(parsed->round == 4);
    CHECK(parsed->phi[1] == static_cast<double>(0.1f));
    network::Message scratch = push;
    scratch.scalars[0].value = 0.0;  // scratch has no contribution
    CHECK(!ParseMetaPush(scratch, error));
    network::Message no_round = push;
    no_round.scalars.pop_back();
    CHECK(!ParseMetaPush(no_round, error));
  }
}

}  // namespace
}  // namespace metajoule::experiments
