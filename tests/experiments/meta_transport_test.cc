// The meta round over real sockets: the emulated exchange (messages encoded and decoded in
// memory), inproc sockets and tcp loopback sockets give bit-identical learning and ledger
// figures, and what travels is what the learner uses (quantisation included).
#include <cmath>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <sqlite3.h>

#include <doctest/doctest.h>

#include "experiments/experiment_config.h"
#include "experiments/meta_agent.h"
#include "experiments/runner.h"
#include "ledger/ledger_store.h"
#include "network/wire_format.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_experiment.h"

namespace metajoule::experiments {
namespace {

// two clusters of different families (two meta-models), lossy links on both directions
ExperimentConfig TinyMeta(const std::filesystem::path& output_dir, const std::string& transport,
                          std::vector<std::string> extra = {}) {
  const std::string text = R"(
[experiment]
name = "tiny-transport"
seed = 11
methods = ["maml", "fedavg"]

[training]
rounds = 3

[agents]
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 2
outer_episodes = 2

[evaluation]
held_out_tasks = 0

[network.links.uplink]
loss_probability = 0.3
max_attempts = 2
[network.links.downlink]
loss_probability = 0.2
max_attempts = 2
)";
  extra.push_back("network.transport=\"" + transport + "\"");
  return test::ParseTwoClusterExperiment(text, "tiny-transport.toml", output_dir,
                                         std::move(extra));
}

// Every event of a run but its measured cpu/wall seconds, and every evaluation, in id order.
using EventRow = std::tuple<std::int64_t, std::int64_t, std::string, std::string, std::string,
                            std::int64_t, double, std::int64_t, std::int64_t, std::int64_t, double>;
using EvaluationRow = std::tuple<std::int64_t, std::int64_t, std::string, std::int64_t, double>;

std::string Text(sqlite3_stmt* statement, int column) {
  const unsigned char* text = sqlite3_column_text(statement, column);
  return text == nullptr ? std::string() : reinterpret_cast<const char*>(text);
}

std::vector<EventRow> Events(const ledger::LedgerStore& store, std::int64_t run) {
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(store.handle(),
                             "SELECT round, node, phase, kind, link, sim_steps, flops, "
                             "bits_on_air, payload_bits, attempts, energy_j FROM events WHERE "
                             "run = ? ORDER BY round, node, phase, kind, link, bits_on_air",
                             -1, &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(statement, 1, run);
  std::vector<EventRow> rows;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    rows.emplace_back(sqlite3_column_int64(statement, 0), sqlite3_column_int64(statement, 1),
                      Text(statement, 2), Text(statement, 3), Text(statement, 4),
                      sqlite3_column_int64(statement, 5), sqlite3_column_double(statement, 6),
                      sqlite3_column_int64(statement, 7), sqlite3_column_int64(statement, 8),
                      sqlite3_column_int64(statement, 9), sqlite3_column_double(statement, 10));
  }
  sqlite3_finalize(statement);
  return rows;
}

std::vector<EvaluationRow> Evaluations(const ledger::LedgerStore& store, std::int64_t run) {
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(store.handle(),
                             "SELECT round, node, task, adapt_step, return_value FROM evaluations "
                             "WHERE run = ? ORDER BY round, node, adapt_step",
                             -1, &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(statement, 1, run);
  std::vector<EvaluationRow> rows;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    rows.emplace_back(sqlite3_column_int64(statement, 0), sqlite3_column_int64(statement, 1),
                      Text(statement, 2), sqlite3_column_int64(statement, 3),
                      sqlite3_column_double(statement, 4));
  }
  sqlite3_finalize(statement);
  return rows;
}

struct Outcome {
  RunSummary summary;
  std::vector<std::vector<EventRow>> events;
  std::vector<std::vector<EvaluationRow>> evaluations;
  std::string log;
};

Outcome Run(const ExperimentConfig& config) {
  std::ostringstream out;
  Outcome outcome;
  outcome.summary = RunExperiment(config, out);
  outcome.log = out.str();
  const ledger::LedgerStore store((outcome.summary.folder / "ledger.sqlite").string(), {},
                                  ledger::OpenMode::kReadOnly);
  for (const MethodSummary& method : outcome.summary.methods) {
    outcome.events.push_back(Events(store, method.ledger_run));
    outcome.evaluations.push_back(Evaluations(store, method.ledger_run));
  }
  return outcome;
}

void CheckIdentical(const Outcome& a, const Outcome& b) {
  REQUIRE(a.summary.methods.size() == b.summary.methods.size());
  for (std::size_t m = 0; m < a.summary.methods.size(); ++m) {
    const MethodSummary& x = a.summary.methods[m];
    const MethodSummary& y = b.summary.methods[m];
    INFO(x.method);
    CHECK(x.mean_return == y.mean_return);
    CHECK(x.compute_j == y.compute_j);
    CHECK(x.uplink_j == y.uplink_j);
    CHECK(x.downlink_j == y.downlink_j);
    CHECK(x.gco2e == y.gco2e);
    CHECK(a.events[m] == b.events[m]);
    CHECK(a.evaluations[m] == b.evaluations[m]);
  }
}

TEST_SUITE("experiments/meta_transport") {
  TEST_CASE("runs over inproc and tcp sockets equal the emulated run bit for bit") {
    test::TempDir dir;
    const Outcome emulated = Run(TinyMeta(dir.path(), "emulated"));
    const Outcome inproc = Run(TinyMeta(dir.path(), "inproc"));
    const Outcome tcp = Run(TinyMeta(dir.path(), "tcp"));
    // the lossy links did lose messages, and the run is not trivial
    CHECK(emulated.log.find("messages lost") != std::string::npos);
    REQUIRE(emulated.events.size() == 2);
    CHECK(emulated.events[0].size() > 20);
    CHECK(inproc.log.find("maml transport inproc") != std::string::npos);
    CHECK(tcp.log.find("maml transport tcp") != std::string::npos);
    CheckIdentical(emulated, inproc);
    CheckIdentical(emulated, tcp);
  }

  TEST_CASE("the learner uses the decoded values: float16 links change the learning") {
    test::TempDir dir;
    const std::vector<std::string> half = {"network.links.uplink.tensor_encoding=\"float16\"",
                                           "network.links.downlink.tensor_encoding=\"float16\"",
                                           "experiment.methods=[\"maml\"]"};
    const Outcome emulated = Run(TinyMeta(dir.path(), "emulated", half));
    const Outcome inproc = Run(TinyMeta(dir.path(), "inproc", half));
    CheckIdentical(emulated, inproc);
    const Outcome full = Run(TinyMeta(dir.path(), "emulated", {"experiment.methods=[\"maml\"]"}));
    // half the tensor bytes on air, and other returns from round 2 on (phi differs)
    CHECK(emulated.summary.methods[0].downlink_j < 0.75 * full.summary.methods[0].downlink_j);
    CHECK(emulated.evaluations[0] != full.evaluations[0]);
  }
}

}  // namespace
}  // namespace metajoule::experiments
