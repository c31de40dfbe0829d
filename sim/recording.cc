#include "sim/recording.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "common/error.h"
#include "sim/mujoco_handles.h"
#include "sim/world.h"

namespace metajoule::sim {
namespace {

constexpr char kMagic[8] = {'M', 'J', 'L', 'E', 'P', 'I', 'S', '\0'};
constexpr std::uint32_t kVersion = 1;
// sizes beyond these are corrupt input, not a real model: refuse before allocating
constexpr std::int64_t kMaxDim = 1 << 20;
constexpr std::int64_t kMaxString = 4096;

std::uint64_t Fnv1a(std::span<const std::uint8_t> bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::uint8_t b : bytes) {
    hash ^= b;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// Little-endian writer, independent of the host's byte order.
class Writer {
 public:
  void U8(std::uint8_t v) { bytes_.push_back(v); }
  void U32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void U64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void I32(std::int32_t v) { U32(static_cast<std::uint32_t>(v)); }
  void F64(double v) { U64(std::bit_cast<std::uint64_t>(v)); }
  void F64s(const std::vector<double>& values, std::size_t offset, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) F64(values[offset + i]);
  }
  void String(const std::string& s) {
    U32(static_cast<std::uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void Raw(const char* data, std::size_t size) { bytes_.insert(bytes_.end(), data, data + size); }
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

// Bounds-checked little-endian reader; every failure names the field being read.
class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, const std::string& source)
      : bytes_(bytes), source_(source) {}

  [[noreturn]] void Fail(const std::string& message) const {
    throw ConfigError({source_}, "", "episode recording: " + message);
  }
  void Need(std::size_t n, const char* field) const {
    if (bytes_.size() - pos_ < n) {
      Fail(std::string("truncated: ") + field + " needs " + std::to_string(n) +
           " bytes at offset " + std::to_string(pos_) + ", only " +
           std::to_string(bytes_.size() - pos_) + " left");
    }
  }
  std::uint8_t U8(const char* field) {
    Need(1, field);
    return bytes_[pos_++];
  }
  std::uint32_t U32(const char* field) {
    Need(4, field);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(bytes_[pos_++]) << (8 * i);
    return v;
  }
  std::uint64_t U64(const char* field) {
    Need(8, field);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(bytes_[pos_++]) << (8 * i);
    return v;
  }
  std::int32_t I32(const char* field) { return static_cast<std::int32_t>(U32(field)); }
  double F64(const char* field) { return std::bit_cast<double>(U64(field)); }
  std::string String(const char* field) {
    const std::uint32_t size = U32(field);
    if (size > kMaxString) Fail(std::string(field) + ": implausible length " + std::to_string(size));
    Need(size, field);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), size);
    pos_ += size;
    return s;
  }
  std::int32_t Dim(const char* field) {
    const std::int32_t v = I32(field);
    if (v < 0 || v > kMaxDim) Fail(std::string(field) + ": implausible size " + std::to_string(v));
    return v;
  }
  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::span<const std::uint8_t> bytes_;
  const std::string& source_;
  std::size_t pos_{0};
};

void AppendSpan(std::vector<double>& out, const double* data, int count) {
  out.insert(out.end(), data, data + count);
}

}  // namespace

void EpisodeRecorder::AppendState(const Env& env) {
  const mjModel& m = env.model();
  const mjData& d = env.data();
  recording_.time.push_back(d.time);
  AppendSpan(recording_.qpos, d.qpos, m.nq);
  AppendSpan(recording_.qvel, d.qvel, m.nv);
  AppendSpan(recording_.act, d.act, m.na);
  AppendSpan(recording_.ctrl, d.ctrl, m.nu);
  AppendSpan(recording_.qacc_warmstart, d.qacc_warmstart, m.nv);
}

void EpisodeRecorder::Begin(const Env& env, std::uint64_t reset_seed) {
  if (!env.episode_running() || env.episode_step() != 0) {
    throw std::logic_error("EpisodeRecorder::Begin: expected an environment right after Reset()");
  }
  const mjModel& m = env.model();
  recording_ = EpisodeRecording{};
  recording_.family = std::string(env.family().name());
  recording_.model_name = env.model_name();
  recording_.model_hash = env.model_hash();
  recording_.mujoco_version = mj_version();
  recording_.config = env.config();
  recording_.task = env.task();
  recording_.reset_seed = reset_seed;
  recording_.nq = m.nq;
  recording_.nv = m.nv;
  recording_.na = m.na;
  recording_.nu = m.nu;
  recording_.action_size = env.action_size();
  recording_.timestep = m.opt.timestep;
  AppendState(env);
  recording_.action.assign(static_cast<std::size_t>(env.action_size()), 0.0);
  recording_.reward.push_back(0.0);
  recording_.status.push_back(StepStatus::kOk);
  started_ = true;
}

void EpisodeRecorder::Record(const Env& env, std::span<const double> action,
                             const StepResult& result) {
  if (!started_) throw std::logic_error("EpisodeRecorder::Record: call Begin() first");
  if (static_cast<int>(action.size()) != recording_.action_size) {
    throw std::invalid_argument("EpisodeRecorder::Record: expected an action of size " +
                                std::to_string(recording_.action_size) + ", got " +
                                std::to_string(action.size()));
  }
  AppendState(env);
  recording_.action.insert(recording_.action.end(), action.begin(), action.end());
  recording_.reward.push_back(result.reward);
  recording_.status.push_back(result.status);
}

std::vector<std::uint8_t> EncodeRecording(const EpisodeRecording& r) {
  Writer w;
  w.Raw(kMagic, sizeof(kMagic));
  w.U32(kVersion);
  w.String(r.family);
  w.String(r.model_name);
  w.U64(r.model_hash);
  w.I32(r.mujoco_version);
  w.I32(r.config.horizon);
  w.I32(r.config.frame_skip);
  w.I32(r.task.goal_size);
  for (const double g : r.task.goal) w.F64(g);
  w.F64(r.task.target_velocity);
  w.F64(r.task.direction_deg);
  w.F64(r.task.payload_mass);
  w.F64(r.task.damping_scale);
  w.F64(r.task.gain_scale);
  w.U64(r.reset_seed);
  w.I32(r.nq);
  w.I32(r.nv);
  w.I32(r.na);
  w.I32(r.nu);
  w.I32(r.action_size);
  w.F64(r.timestep);
  const auto frames = static_cast<std::size_t>(r.num_frames());
  w.U32(static_cast<std::uint32_t>(frames));
  const auto nq = static_cast<std::size_t>(r.nq), nv = static_cast<std::size_t>(r.nv),
             na = static_cast<std::size_t>(r.na), nu = static_cast<std::size_t>(r.nu),
             nact = static_cast<std::size_t>(r.action_size);
  for (std::size_t i = 0; i < frames; ++i) {
    w.F64(r.time[i]);
    w.F64s(r.qpos, i * nq, nq);
    w.F64s(r.qvel, i * nv, nv);
    w.F64s(r.act, i * na, na);
    w.F64s(r.ctrl, i * nu, nu);
    w.F64s(r.qacc_warmstart, i * nv, nv);
    w.F64s(r.action, i * nact, nact);
    w.F64(r.reward[i]);
    w.U8(static_cast<std::uint8_t>(r.status[i]));
  }
  w.U64(Fnv1a(w.bytes()));
  return std::move(w.bytes());
}

EpisodeRecording DecodeRecording(std::span<const std::uint8_t> bytes,
                                 const std::string& source_name) {
  Reader in(bytes, source_name);
  in.Need(sizeof(kMagic), "magic");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    in.Fail("not a metajoule episode recording (bad magic)");
  }
  for (std::size_t i = 0; i < sizeof(kMagic); ++i) in.U8("magic");
  const std::uint32_t version = in.U32("version");
  if (version != kVersion) {
    in.Fail("unsupported version " + std::to_string(version) + " (this build reads version " +
            std::to_string(kVersion) + ")");
  }
  EpisodeRecording r;
  r.family = in.String("family");
  r.model_name = in.String("model_name");
  r.model_hash = in.U64("model_hash");
  r.mujoco_version = in.I32("mujoco_version");
  r.config.horizon = in.I32("horizon");
  r.config.frame_skip = in.I32("frame_skip");
  r.task.family = r.family;
  r.task.goal_size = in.I32("goal_size");
  if (r.task.goal_size < 0 || r.task.goal_size > 3) {
    in.Fail("goal_size must be in [0, 3], got " + std::to_string(r.task.goal_size));
  }
  for (double& g : r.task.goal) g = in.F64("goal");
  r.task.target_velocity = in.F64("target_velocity");
  r.task.direction_deg = in.F64("direction_deg");
  r.task.payload_mass = in.F64("payload_mass");
  r.task.damping_scale = in.F64("damping_scale");
  r.task.gain_scale = in.F64("gain_scale");
  r.reset_seed = in.U64("reset_seed");
  r.nq = in.Dim("nq");
  r.nv = in.Dim("nv");
  r.na = in.Dim("na");
  r.nu = in.Dim("nu");
  r.action_size = in.Dim("action_size");
  r.timestep = in.F64("timestep");
  const std::uint32_t frames = in.U32("num_frames");
  const std::size_t frame_bytes =
      8 * (1 + static_cast<std::size_t>(r.nq + 2 * r.nv + r.na + r.nu + r.action_size) + 1) + 1;
  const std::size_t expected = frames * frame_bytes + 8;
  if (in.remaining() != expected) {
    in.Fail((in.remaining() < expected ? "truncated: " : "trailing bytes: ") +
            std::to_string(frames) + " frames and the checksum need " + std::to_string(expected) +
            " bytes after the header, the file has " + std::to_string(in.remaining()));
  }
  auto read_into = [&in](std::vector<double>& out, std::int32_t count, const char* field) {
    for (std::int32_t k = 0; k < count; ++k) out.push_back(in.F64(field));
  };
  for (std::uint32_t i = 0; i < frames; ++i) {
    r.time.push_back(in.F64("time"));
    read_into(r.qpos, r.nq, "qpos");
    read_into(r.qvel, r.nv, "qvel");
    read_into(r.act, r.na, "act");
    read_into(r.ctrl, r.nu, "ctrl");
    read_into(r.qacc_warmstart, r.nv, "qacc_warmstart");
    read_into(r.action, r.action_size, "action");
    r.reward.push_back(in.F64("reward"));
    const std::uint8_t status = in.U8("status");
    if (status > static_cast<std::uint8_t>(StepStatus::kDiverged)) {
      in.Fail("frame " + std::to_string(i) + ": unknown status " + std::to_string(status));
    }
    r.status.push_back(static_cast<StepStatus>(status));
  }
  const std::size_t body = in.position();
  const std::uint64_t checksum = in.U64("checksum");
  if (checksum != Fnv1a(bytes.first(body))) in.Fail("checksum mismatch: the file is corrupt");
  return r;
}

void WriteRecording(const EpisodeRecording& recording, const std::string& path) {
  const std::vector<std::uint8_t> bytes = EncodeRecording(recording);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw ConfigError({path}, "", "cannot write the episode recording");
}

EpisodeRecording ReadRecording(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError({path}, "", "cannot open the episode recording");
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
  return DecodeRecording(bytes, path);
}

ResimulatedStates Resimulate(const EpisodeRecording& r) {
  const World world(r.family);
  if (world.model_hash() != r.model_hash) {
    throw ConfigError({r.model_name}, "",
                      "the embedded model differs from the one the episode was recorded with");
  }
  Env env(world, r.task, r.config);
  const mjModel& m = env.model();
  if (m.nq != r.nq || m.nv != r.nv || m.na != r.na || m.nu != r.nu ||
      env.action_size() != r.action_size || env.frame_skip() != r.config.frame_skip ||
      r.num_frames() < 1) {
    throw ConfigError({r.model_name}, "", "the recording's sizes do not match the model");
  }
  const auto nq = static_cast<std::size_t>(r.nq), nv = static_cast<std::size_t>(r.nv),
             na = static_cast<std::size_t>(r.na), nu = static_cast<std::size_t>(r.nu),
             nact = static_cast<std::size_t>(r.action_size);
  auto frame = [](const std::vector<double>& values, std::size_t i, std::size_t n) {
    return std::span<const double>(values).subspan(i * n, n);
  };
  env.RestoreState(0, r.time[0], frame(r.qpos, 0, nq), frame(r.qvel, 0, nv), frame(r.act, 0, na),
                   frame(r.ctrl, 0, nu), frame(r.qacc_warmstart, 0, nv));
  ResimulatedStates out;
  AppendSpan(out.qpos, env.data().qpos, r.nq);
  AppendSpan(out.qvel, env.data().qvel, r.nv);

  if (env.family().dynamics() == Dynamics::kKinematic) {
    for (int i = 1; i < r.num_frames(); ++i) {
      env.Step(frame(r.action, static_cast<std::size_t>(i), nact));
      AppendSpan(out.qpos, env.data().qpos, r.nq);
      AppendSpan(out.qvel, env.data().qvel, r.nv);
    }
    return out;
  }
  // physics: the recorded controls drive a fresh mjData of the same (task-applied) model
  MjDataPtr data = MakeData(m);
  mjData* d = data.get();
  d->time = r.time[0];
  std::copy_n(r.qpos.begin(), nq, d->qpos);
  std::copy_n(r.qvel.begin(), nv, d->qvel);
  std::copy_n(r.act.begin(), na, d->act);
  std::copy_n(r.qacc_warmstart.begin(), nv, d->qacc_warmstart);
  for (int i = 1; i < r.num_frames(); ++i) {
    const auto f = static_cast<std::size_t>(i);
    std::copy_n(r.ctrl.begin() + static_cast<std::ptrdiff_t>(f * nu), nu, d->ctrl);
    for (int k = 0; k < r.config.frame_skip; ++k) {
      mj_step(&m, d);
      if (d->warning[mjWARN_BADQACC].number > 0 || d->warning[mjWARN_BADQVEL].number > 0 ||
          d->warning[mjWARN_BADQPOS].number > 0) {
        break;
      }
    }
    AppendSpan(out.qpos, d->qpos, r.nq);
    AppendSpan(out.qvel, d->qvel, r.nv);
  }
  return out;
}

}  // namespace metajoule::sim
