#include "network/link.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <stdexcept>

namespace metajoule::network {
namespace {

// statistical checks accept a sample mean within this many standard errors of its expectation
constexpr double kSigmas = 5.0;
constexpr double kRelativeTolerance = 1e-12;

bool HasKey(const std::vector<FieldError>& errors, const std::string& key) {
  for (const auto& error : errors) {
    if (error.key == key) return true;
  }
  return false;
}

bool SameRecord(const TransferRecord& a, const TransferRecord& b) {
  return a.round == b.round && a.from_node == b.from_node && a.to_node == b.to_node &&
         a.link == b.link && a.payload_bits == b.payload_bits && a.bits_on_air == b.bits_on_air &&
         a.packets == b.packets && a.attempts == b.attempts && a.receivers == b.receivers &&
         a.start_s == b.start_s && a.airtime_s == b.airtime_s && a.energy_j == b.energy_j &&
         a.delivered == b.delivered;
}

TEST_SUITE("network/link") {
  TEST_CASE("a link override replaces only the keys it gives, and checks their ranges") {
    LinkOverride override_config;
    CHECK(override_config.empty());
    override_config.efficiency_kbit_per_j = 25.0;
    override_config.broadcast = true;
    CHECK_FALSE(override_config.empty());
    const LinkConfig base{.rate_bps = 3e6, .loss_probability = 0.2};
    const LinkConfig applied = Apply(base, override_config);
    CHECK(applied.efficiency_kbit_per_j == 25.0);
    CHECK(applied.broadcast);
    CHECK(applied.rate_bps == 3e6);
    CHECK(applied.loss_probability == 0.2);
    CHECK(Validate(override_config).empty());
    override_config.max_attempts = 0;
    override_config.loss_probability = 1.0;
    const std::vector<FieldError> errors = Validate(override_config);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].key == "loss_probability");
    CHECK(errors[1].key == "max_attempts");
  }

  TEST_CASE("Validate names every out-of-range field") {
    LinkConfig config;
    config.rate_bps = 0.0;
    config.latency_s = -1.0;
    config.loss_probability = 1.0;
    config.max_attempts = 0;
    config.efficiency_kbit_per_j = -25.0;
    config.header_bits = -1;
    config.mtu_bytes = -1;
    const auto errors = Validate(config);
    for (const char* key : {"rate_bps", "latency_s", "loss_probability", "max_attempts",
                            "efficiency_kbit_per_j", "header_bits", "mtu_bytes"}) {
      CHECK_MESSAGE(HasKey(errors, key), key);
    }
    CHECK(Validate(LinkConfig{}).empty());
    CHECK_THROWS_AS(EmulatedLink(LinkKind::kUplink, config), std::invalid_argument);

    LinksConfig links;
    links.sidelink.loss_probability = std::nan("");
    CHECK(Validate(links).size() == 1);
    CHECK(HasKey(Validate(links), "sidelink.loss_probability"));
    CHECK(&links.Get(LinkKind::kDownlink) == &links.downlink);
  }

  TEST_CASE("a lossless transfer costs payload plus one header per packet exactly") {
    LinkConfig config;
    config.rate_bps = 1e6;
    config.latency_s = 0.01;
    config.efficiency_kbit_per_j = 25.0;
    config.header_bits = 100;
    config.mtu_bytes = 1000;
    EmulatedLink link(LinkKind::kUplink, config);
    std::mt19937_64 rng(1);
    const TransferRecord record =
        link.Transfer({.round = 3, .from = 5, .to = 0, .payload_bytes = 2500}, rng);
    CHECK(record.round == 3);
    CHECK(record.from_node == 5);
    CHECK(record.to_node == 0);
    CHECK(record.link == LinkKind::kUplink);
    CHECK(record.payload_bits == 20000);
    CHECK(record.packets == 3);
    CHECK(record.attempts == 3);
    CHECK(record.bits_on_air == 20000 + 3 * 100);
    CHECK(record.airtime_s == doctest::Approx(20300.0 / 1e6 + 0.01).epsilon(kRelativeTolerance));
    CHECK(record.energy_j == doctest::Approx(20300.0 / 25000.0).epsilon(kRelativeTolerance));
    CHECK(record.energy_j == CommunicationEnergyJ(record.bits_on_air, 25.0));
    CHECK(record.delivered);
  }

  TEST_CASE("the papers' operating points price bits at 25 and 50 and 200 kbit/J") {
    CHECK(CommunicationEnergyJ(1'000'000, 25.0) == doctest::Approx(40.0));
    CHECK(CommunicationEnergyJ(1'000'000, 50.0) == doctest::Approx(20.0));
    CHECK(CommunicationEnergyJ(1'000'000, 200.0) == doctest::Approx(5.0));
  }

  TEST_CASE("one-packet transfers: bits and airtime are attempts x (payload + header)") {
    LinkConfig config;
    config.rate_bps = 2e6;
    config.latency_s = 0.003;
    config.loss_probability = 0.4;
    config.max_attempts = 5;
    config.header_bits = 64;
    EmulatedLink link(LinkKind::kSidelink, config);
    std::mt19937_64 rng(2);
    for (int i = 0; i < 200; ++i) {
      const auto record = link.Transfer({.payload_bytes = 1234}, rng);
      const std::uint64_t per_attempt = 1234 * 8 + 64;
      REQUIRE(record.packets == 1);
      REQUIRE(record.attempts >= 1);
      REQUIRE(record.attempts <= 5);
      CHECK(record.bits_on_air == record.attempts * per_attempt);
      CHECK(record.airtime_s == doctest::Approx(static_cast<double>(record.attempts) *
                                                (0.003 + static_cast<double>(per_attempt) / 2e6))
                                    .epsilon(kRelativeTolerance));
      if (!record.delivered) CHECK(record.attempts == 5);
    }
  }

  TEST_CASE("mean attempts match 1 / (1 - p) within 5 standard errors") {
    for (double p : {0.1, 0.3, 0.6}) {
      CAPTURE(p);
      LinkConfig config;
      config.loss_probability = p;
      config.max_attempts = 1000;
      EmulatedLink link(LinkKind::kUplink, config);
      std::mt19937_64 rng(3);
      constexpr int kTransfers = 20000;
      double sum = 0.0;
      for (int i = 0; i < kTransfers; ++i) {
        const auto record = link.Transfer({.payload_bytes = 100}, rng);
        REQUIRE(record.delivered);
        sum += static_cast<double>(record.attempts);
      }
      // attempts are geometric: mean 1 / (1 - p), variance p / (1 - p)^2
      const double expected = 1.0 / (1.0 - p);
      const double standard_error = std::sqrt(p / ((1.0 - p) * (1.0 - p)) / kTransfers);
      CHECK(std::fabs(sum / kTransfers - expected) <= kSigmas * standard_error);
    }
  }

  TEST_CASE("with a retry limit the delivery rate is 1 - p^max_attempts per packet") {
    LinkConfig config;
    config.loss_probability = 0.5;
    config.max_attempts = 2;
    config.mtu_bytes = 100;
    EmulatedLink link(LinkKind::kDownlink, config);
    std::mt19937_64 rng(4);
    constexpr int kTransfers = 20000;
    int delivered = 0;
    for (int i = 0; i < kTransfers; ++i) {
      // two packets: delivered when both get through within two attempts, (1 - 0.25)^2
      const auto record = link.Transfer({.payload_bytes = 150}, rng);
      REQUIRE(record.packets == 2);
      delivered += record.delivered ? 1 : 0;
    }
    const double expected = 0.75 * 0.75;
    const double standard_error = std::sqrt(expected * (1.0 - expected) / kTransfers);
    CHECK(std::fabs(static_cast<double>(delivered) / kTransfers - expected) <=
          kSigmas * standard_error);
  }

  TEST_CASE("the same seed gives the same records and another seed different ones") {
    LinkConfig config;
    config.loss_probability = 0.3;
    config.mtu_bytes = 500;
    config.header_bits = 200;
    auto run = [&config](std::uint64_t seed) {
      EmulatedLink link(LinkKind::kUplink, config);
      std::mt19937_64 rng(seed);
      std::vector<TransferRecord> records;
      for (std::uint32_t i = 0; i < 50; ++i) {
        records.push_back(link.Transfer({.round = i, .from = i, .payload_bytes = 10000}, rng));
      }
      return records;
    };
    const auto a = run(7);
    const auto b = run(7);
    const auto c = run(8);
    bool all_same = true;
    bool all_same_as_other_seed = true;
    for (std::size_t i = 0; i < a.size(); ++i) {
      all_same = all_same && SameRecord(a[i], b[i]);
      all_same_as_other_seed = all_same_as_other_seed && SameRecord(a[i], c[i]);
    }
    CHECK(all_same);
    CHECK_FALSE(all_same_as_other_seed);
  }

  TEST_CASE("the virtual clock serialises transfers on one link") {
    LinkConfig config;
    config.rate_bps = 8e3;  // one byte per millisecond
    config.latency_s = 0.5;
    EmulatedLink link(LinkKind::kUplink, config);
    std::mt19937_64 rng(5);
    const auto first = link.Transfer({.payload_bytes = 1000, .ready_s = 2.0}, rng);
    CHECK(first.start_s == 2.0);
    CHECK(first.airtime_s == doctest::Approx(1.5));
    const auto second = link.Transfer({.payload_bytes = 1000, .ready_s = 2.5}, rng);
    CHECK(second.start_s == doctest::Approx(3.5));
    const auto third = link.Transfer({.payload_bytes = 1000, .ready_s = 10.0}, rng);
    CHECK(third.start_s == 10.0);
    CHECK(link.clock_s() == doctest::Approx(11.5));
  }

  TEST_CASE("a broadcast is charged once for every receiver and unicasts once per receiver") {
    LinkConfig config;
    config.header_bits = 80;
    config.broadcast = true;
    EmulatedLink link(LinkKind::kDownlink, config);
    std::mt19937_64 rng(6);
    const std::vector<NodeId> agents{1, 2, 3, 4};
    const auto result = link.Broadcast({.from = 0, .payload_bytes = 1000}, agents, rng);
    CHECK(result.record.to_node == kAnyNode);
    CHECK(result.record.receivers == 4);
    CHECK(result.record.bits_on_air == 8000 + 80);
    CHECK(result.record.delivered);
    CHECK(result.delivered == std::vector<bool>(4, true));
    std::uint64_t unicast_bits = 0;
    for (NodeId agent : agents) {
      unicast_bits +=
          link.Transfer({.from = 0, .to = agent, .payload_bytes = 1000}, rng).bits_on_air;
    }
    CHECK(unicast_bits == 4 * result.record.bits_on_air);
  }

  TEST_CASE("a lossy broadcast repeats a packet until the worst receiver has it") {
    LinkConfig config;
    config.loss_probability = 0.3;
    config.max_attempts = 1000;
    EmulatedLink link(LinkKind::kDownlink, config);
    std::mt19937_64 rng(7);
    const std::vector<NodeId> agents(10, 1);
    double sum = 0.0;
    constexpr int kBroadcasts = 5000;
    for (int i = 0; i < kBroadcasts; ++i) {
      const auto result = link.Broadcast({.payload_bytes = 10}, agents, rng);
      REQUIRE(result.record.delivered);
      sum += static_cast<double>(result.record.attempts);
    }
    // E[max of 10 geometric attempts] = sum_{k>=0} (1 - (1 - p^k)^10)
    double expected = 0.0;
    for (int k = 0; k < 200; ++k) expected += 1.0 - std::pow(1.0 - std::pow(0.3, k), 10);
    CHECK(sum / kBroadcasts == doctest::Approx(expected).epsilon(0.02));
  }
}

}  // namespace
}  // namespace metajoule::network
