#pragma once
// Transport and codec figures for `metajoule bench network` (machine notes section 4 has the raw
// ZeroMQ numbers of this machine). GB/s are 1e9 bytes per second of float32 payload. The tcp
// pushes come from a forked peer process, for our channel and for the raw ZeroMQ baseline alike,
// so that each side has its own process, ZeroMQ context and I/O thread, as in a real run.

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace metajoule::network {

struct NetworkBenchmarkOptions {
  /// Float32 bytes of the model in each push (1 MiB by default).
  std::size_t push_bytes{1u << 20};
  /// Pushes timed over tcp loopback per run, for the raw baseline and for the channel.
  int pushes{1000};
  /// Runs of each, alternating raw and channel (the order flips every run), so that both see the
  /// same share of whatever else the machine is doing; the report gives median and best.
  int push_runs{5};
  /// Pins the forked sender process to one CPU and the receiving process to another during the
  /// push runs (ZeroMQ's I/O threads inherit it), when at least two are allowed. Off by default:
  /// a real run does not pin.
  bool pin_cpus{false};
  /// ZeroMQ high-water mark of both sides in the push runs, raw and channel alike (messages):
  /// 16 MiB queued per side. A round has a few model messages in flight per peer; a deep queue
  /// of 1 MiB messages only pushes the data out of the caches (100: 1.3 GB/s, 16: 2.3-2.6).
  int push_high_water_mark{16};
  /// Parameters of the model pushed in each inproc round trip.
  std::size_t round_trip_parameters{10000};
  /// Round trips timed, after `warmup` untimed ones.
  int round_trips{20000};
  int warmup{1000};
  /// Busy-poll window of the spinning round-trip variant, microseconds.
  int spin_us{200};
  /// Encodes and decodes timed per tensor encoding.
  int codec_repetitions{200};
  /// The quickstart-sized round: agents hosted by one AgentHost over inproc, in groups (one
  /// model each), with `round_parameters` float32 values per push and per report.
  int round_agents{8};
  int round_groups{2};
  std::size_t round_parameters{1400};
  int rounds{500};
};

/// Latency summary of a round-trip series, microseconds.
struct LatencyUs {
  double mean{0.0};
  double p50{0.0};
  double p99{0.0};
};

/// GB/s of repeated runs of one measurement.
struct Throughputs {
  std::vector<double> runs;
  double median() const;
  double best() const;
};

struct NetworkBenchmarkReport {
  /// Raw ZeroMQ PUSH/PULL over tcp loopback from a forked sender process, one copy
  /// per send; one entry per run.
  Throughputs raw_push_pull;
  /// ChannelClient (forked process) -> ChannelServer model pushes over tcp loopback, each
  /// encoded (CRC-32 included) on send and decoded and checked on receipt; one entry per run,
  /// measured alternately with raw_push_pull.
  Throughputs channel_push;
  /// Medians, and the ratio of the medians (channel / raw).
  double raw_push_pull_gbps() const { return raw_push_pull.median(); }
  double channel_push_gbps() const { return channel_push.median(); }
  double push_ratio() const {
    return raw_push_pull_gbps() > 0.0 ? channel_push_gbps() / raw_push_pull_gbps() : 0.0;
  }
  /// Whether the push runs were pinned (options.pin_cpus and two CPUs allowed).
  bool pinned{false};
  /// A meta round's transport alone: ProtocolServer::StartRound (one push per group) to
  /// round_agents agents of an AgentHost over inproc, each answering at once with an update
  /// report of the same size and 11 scalars, CollectUpdates; microseconds per round.
  LatencyUs round{};
  /// Request (model push of round_trip_parameters floats) + Ack reply over inproc, blocking.
  LatencyUs round_trip{};
  /// The same with both sides busy-polling for spin_us before blocking.
  LatencyUs round_trip_spin{};
  /// Encode and decode speed of a push_bytes tensor, per TensorEncoding (float32, float16, int8),
  /// in float32 GB/s.
  std::array<double, 3> encode_gbps{};
  std::array<double, 3> decode_gbps{};
  /// CRC-32 speed, GB/s, and the implementation it used ("tables", "pclmulqdq",
  /// "vpclmulqdq-avx512").
  double crc32_gbps{0.0};
  std::string crc32_path;
  NetworkBenchmarkOptions options{};
};

/// Runs every measurement in turn (a few seconds with the defaults). Needs free tcp loopback
/// ports (it binds to tcp://127.0.0.1:*).
NetworkBenchmarkReport RunNetworkBenchmark(const NetworkBenchmarkOptions& options = {});

/// A plain-text table of the report, with the targets (>= 2 GB/s push, <= 50 us round trip).
std::string FormatNetworkBenchmark(const NetworkBenchmarkReport& report);

}  // namespace metajoule::network
