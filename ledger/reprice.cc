#include "ledger/reprice.h"

#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace metajoule::ledger {
namespace {

using internal::Statement;
using internal::Transaction;

// what the SQL pricing function sees: the model and each node's resolved pricing
struct PricingContext {
  const EnergyModel* model{nullptr};
  EnergySource compute_source{EnergySource::kModelled};
  std::unordered_map<std::int64_t, NodePricing> nodes{};  // with each node's cluster
  NodePricing fallback{};  // nodes that were never registered: the model's defaults
  // each row calls mj_price twice (energy, then carbon) with the same arguments: the second
  // call reuses the first one's result
  Event last_input{};
  Event last_priced{};
  bool has_last{false};
};

bool SameWork(const Event& a, const Event& b) {
  return a.node == b.node && a.peer == b.peer && a.kind == b.kind && a.link == b.link && a.sim_steps == b.sim_steps &&
         a.flops == b.flops && a.cpu_seconds == b.cpu_seconds &&
         a.wall_seconds == b.wall_seconds && a.bits_on_air == b.bits_on_air;
}

std::string_view TextArg(sqlite3_value* value) {
  const unsigned char* text = sqlite3_value_text(value);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_value_bytes(value))};
}

// mj_price(what, node, kind, link, sim_steps, flops, cpu_s, wall_s, bits_on_air, peer)
// what = 0: energy (J), what = 1: gCO2e. Both go through EnergyModel::Price, a transfer at the
// efficiency of LinkCluster(node's cluster, peer's cluster) as a live run prices it.
constexpr int kPriceArgCount = 10;
void PriceFunction(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != kPriceArgCount) {
    sqlite3_result_error(context, "mj_price: expected 10 arguments", -1);
    return;
  }
  auto* pricing = static_cast<PricingContext*>(sqlite3_user_data(context));
  Event event;
  event.node = static_cast<std::int32_t>(sqlite3_value_int64(argv[1]));
  const std::optional<EventKind> kind = FromName<EventKind>(TextArg(argv[2]));
  const std::optional<LinkKind> link = sqlite3_value_type(argv[3]) == SQLITE_NULL
                                           ? std::optional<LinkKind>(LinkKind::kNone)
                                           : FromName<LinkKind>(TextArg(argv[3]));
  if (!kind || !link) {
    sqlite3_result_error(context, "mj_price: unknown event kind or link name in the ledger", -1);
    return;
  }
  event.kind = *kind;
  event.link = *link;
  event.sim_steps = static_cast<std::int64_t>(sqlite3_value_int64(argv[4]));
  event.flops = sqlite3_value_double(argv[5]);
  event.cpu_seconds = sqlite3_value_double(argv[6]);
  event.wall_seconds = sqlite3_value_double(argv[7]);
  event.bits_on_air = static_cast<std::int64_t>(sqlite3_value_int64(argv[8]));
  event.peer = sqlite3_value_type(argv[9]) == SQLITE_NULL
                   ? kNoPeer
                   : static_cast<std::int32_t>(sqlite3_value_int64(argv[9]));
  if (!pricing->has_last || !SameWork(event, pricing->last_input)) {
    const auto it = pricing->nodes.find(event.node);
    const NodePricing& node = it != pricing->nodes.end() ? it->second : pricing->fallback;
    std::string_view peer_cluster;
    if (event.peer != kNoPeer) {
      const auto peer = pricing->nodes.find(event.peer);
      if (peer != pricing->nodes.end()) peer_cluster = peer->second.cluster;
    }
    pricing->last_input = event;
    pricing->has_last = false;
    try {
      pricing->model->Price(node, pricing->compute_source, event, std::nullopt,
                            LinkCluster(node.cluster, peer_cluster));
    } catch (const std::exception& error) {
      sqlite3_result_error(context, error.what(), -1);
      return;
    }
    pricing->last_priced = event;
    pricing->has_last = true;
  }
  const Event& priced = pricing->last_priced;
  sqlite3_result_double(context, sqlite3_value_int(argv[0]) == 0 ? priced.energy_j : priced.gco2e);
}

// registers mj_price for the lifetime of the scope
class ScopedPriceFunction {
 public:
  ScopedPriceFunction(sqlite3* db, const std::string& path, PricingContext* context) : db_(db) {
    if (sqlite3_create_function_v2(db_, "mj_price", kPriceArgCount, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   context, PriceFunction, nullptr, nullptr,
                                   nullptr) != SQLITE_OK) {
      throw LedgerError(path, internal::SqliteMessage(db_, "cannot register mj_price"));
    }
  }
  ~ScopedPriceFunction() {
    sqlite3_create_function_v2(db_, "mj_price", kPriceArgCount, SQLITE_UTF8, nullptr, nullptr, nullptr,
                               nullptr, nullptr);
  }
  ScopedPriceFunction(const ScopedPriceFunction&) = delete;
  ScopedPriceFunction& operator=(const ScopedPriceFunction&) = delete;

 private:
  sqlite3* db_;
};

std::string Mapped(const std::map<std::string, std::string>& map, const std::string& name) {
  const auto it = map.find(name);
  return it != map.end() ? it->second : name;
}

void Totals(const LedgerStore& store, std::int64_t run, std::int64_t& events, double& energy_j,
            double& gco2e) {
  Statement select(store.handle(), store.path(),
                   "SELECT count(*), coalesce(sum(energy_j), 0), coalesce(sum(gco2e), 0) "
                   "FROM events WHERE run = ?1");
  select.BindInt64(1, run);
  select.Step();
  events = select.ColumnInt64(0);
  energy_j = select.ColumnDouble(1);
  gco2e = select.ColumnDouble(2);
}

constexpr const char* kPriceArgs =
    "node, kind, link, sim_steps, flops, cpu_s, wall_s, bits_on_air, peer";

// transfers whose link cluster is unknown: sent by a node outside every cluster with no recorded
// receiver (rows written before ledger schema version 3)
std::int64_t UnattributedTransfers(const LedgerStore& store, std::int64_t run) {
  Statement select(store.handle(), store.path(),
                   "SELECT count(*) FROM events AS e WHERE e.run = ?1 AND e.kind = 'comm' AND "
                   "e.peer IS NULL AND NOT EXISTS (SELECT 1 FROM nodes AS n WHERE n.run = e.run "
                   "AND n.node = e.node AND n.cluster != '')");
  select.BindInt64(1, run);
  select.Step();
  return select.ColumnInt64(0);
}

}  // namespace

RepriceResult RepriceRun(LedgerStore& store, std::int64_t run, const RepriceOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.energy.meter == EnergySource::kRapl) {
    throw std::invalid_argument("RepriceRun: expected meter \"modelled\" or \"cputime\", got "
                                "\"rapl\" (a counter cannot be re-read after the run)");
  }
  const EnergyModel model(options.energy);
  const RunRecord source = store.Run(run);  // throws for an unknown run
  store.Flush();

  // resolve every node under the new model before touching the database
  PricingContext context;
  context.model = &model;
  context.compute_source = options.energy.meter;
  context.fallback = model.ForNode("", "");
  std::vector<NodeInfo> nodes = store.Nodes(run);
  for (NodeInfo& node : nodes) {
    node.device = Mapped(options.device_map, node.device);
    node.location = Mapped(options.location_map, node.location);
    try {
      NodePricing pricing = model.ForNode(node.device, node.location);
      pricing.cluster = node.cluster;
      context.nodes.emplace(node.id, std::move(pricing));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument("RepriceRun: node " + std::to_string(node.id) + ": " +
                                  error.what());
    }
  }

  // per-cluster efficiencies need each transfer's cluster: refuse rather than price a transfer
  // of unknown cluster at the base efficiency
  if (!options.energy.cluster_links.empty()) {
    if (const std::int64_t unknown = UnattributedTransfers(store, run); unknown > 0) {
      throw std::invalid_argument(
          "RepriceRun: run " + std::to_string(run) + " has " + std::to_string(unknown) +
          " transfers from nodes outside every cluster with no recorded receiver (written before "
          "ledger schema version 3), so per-cluster link efficiencies (network.cluster_links) "
          "cannot be attributed to them; reprice without per-cluster efficiencies");
    }
  }

  RepriceResult result;
  Totals(store, run, result.events, result.old_energy_j, result.old_gco2e);

  sqlite3* db = store.handle();
  const std::string& path = store.path();
  const ScopedPriceFunction function(db, path, &context);
  const std::string source_name(Name(options.energy.meter));
  Transaction transaction(db, path);
  if (options.in_place) {
    result.run = run;
    Statement update(db, path,
                     std::string("UPDATE events SET energy_j = mj_price(0, ") + kPriceArgs +
                         "), gco2e = mj_price(1, " + kPriceArgs +
                         "), energy_source = CASE kind WHEN 'compute' THEN ?2 ELSE 'modelled' "
                         "END WHERE run = ?1");
    update.BindInt64(1, run);
    update.BindText(2, source_name);
    update.Step();
    Statement update_run(db, path, "UPDATE runs SET energy_model = ?2 WHERE id = ?1");
    update_run.BindInt64(1, run);
    update_run.BindText(2, model.ToText());
    update_run.Step();
    Statement update_node(db, path,
                          "UPDATE nodes SET device = ?3, location = ?4 WHERE run = ?1 AND node = ?2");
    for (const NodeInfo& node : nodes) {
      update_node.BindInt64(1, run);
      update_node.BindInt64(2, node.id);
      update_node.BindText(3, node.device);
      update_node.BindText(4, node.location);
      update_node.Step();
      update_node.Reset();
    }
  } else {
    // the copy: a new runs row pointing at its source, then nodes, events and evaluations
    Statement insert_run(
        db, path,
        "INSERT INTO runs (name, method, config, energy_model, git_commit, host, seed, "
        "meter_requested, meter_status, started_at, ended_at, status, repriced_from) "
        "SELECT ?2, method, config, ?3, git_commit, host, seed, meter_requested, meter_status, "
        "started_at, ended_at, status, id FROM runs WHERE id = ?1");
    insert_run.BindInt64(1, run);
    insert_run.BindText(2, options.new_name.empty() ? source.info.name + " [repriced]"
                                                    : options.new_name);
    insert_run.BindText(3, model.ToText());
    insert_run.Step();
    result.run = static_cast<std::int64_t>(sqlite3_last_insert_rowid(db));

    Statement insert_node(db, path,
                          "INSERT INTO nodes (run, node, role, cluster, device, location) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    for (const NodeInfo& node : nodes) {
      insert_node.BindInt64(1, result.run);
      insert_node.BindInt64(2, node.id);
      insert_node.BindText(3, node.role);
      insert_node.BindText(4, node.cluster);
      insert_node.BindText(5, node.device);
      insert_node.BindText(6, node.location);
      insert_node.Step();
      insert_node.Reset();
    }

    Statement copy_events(
        db, path,
        std::string("INSERT INTO events (run, round, node, phase, kind, link, sim_steps, flops, "
                    "cpu_s, wall_s, bits_on_air, payload_bits, attempts, energy_j, "
                    "energy_source, gco2e, peer) SELECT ?2, round, node, phase, kind, link, "
                    "sim_steps, flops, cpu_s, wall_s, bits_on_air, payload_bits, attempts, "
                    "mj_price(0, ") +
            kPriceArgs + "), CASE kind WHEN 'compute' THEN ?3 ELSE 'modelled' END, mj_price(1, " +
            kPriceArgs + "), peer FROM events WHERE run = ?1 ORDER BY id");
    copy_events.BindInt64(1, run);
    copy_events.BindInt64(2, result.run);
    copy_events.BindText(3, source_name);
    copy_events.Step();

    Statement copy_evaluations(
        db, path,
        "INSERT INTO evaluations (run, round, node, task, method, adapt_step, return_value) "
        "SELECT ?2, round, node, task, method, adapt_step, return_value FROM evaluations "
        "WHERE run = ?1 ORDER BY id");
    copy_evaluations.BindInt64(1, run);
    copy_evaluations.BindInt64(2, result.run);
    copy_evaluations.Step();
  }
  store.RebuildTotals(result.run);  // the repriced figures and node locations, in the same transaction
  transaction.Commit();

  std::int64_t events = 0;
  Totals(store, result.run, events, result.new_energy_j, result.new_gco2e);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace metajoule::ledger
