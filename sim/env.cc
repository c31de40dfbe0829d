#include "sim/env.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>

#include "common/error.h"
#include "sim/random.h"

namespace metajoule::sim {
namespace {

// nav2d action bounds: the velocity limit of Finn et al. 2017
constexpr double kNavMaxStep = 0.1;

void CheckSize(const char* what, std::span<const double> values, int expected) {
  if (static_cast<int>(values.size()) != expected) {
    throw std::invalid_argument(std::string("Env::RestoreState: expected ") + what + " of size " +
                                std::to_string(expected) + ", got " +
                                std::to_string(values.size()));
  }
}

}  // namespace

const char* ToString(StepStatus status) {
  switch (status) {
    case StepStatus::kOk: return "ok";
    case StepStatus::kTerminated: return "terminated";
    case StepStatus::kTruncated: return "truncated";
    case StepStatus::kDiverged: return "diverged";
  }
  return "unknown";
}

Env::Env(const World& world, const Task& task, const EnvConfig& config)
    : family_(&world.family()),
      task_(task),
      config_(config),
      model_name_(world.model_name()),
      model_hash_(world.model_hash()),
      model_(CopyModel(world.model())),
      ids_(world.ids()) {
  if (config.horizon < 0 || config.frame_skip < 0) {
    throw std::invalid_argument("Env: expected horizon >= 0 and frame_skip >= 0, got " +
                                std::to_string(config.horizon) + " and " +
                                std::to_string(config.frame_skip));
  }
  family_->Apply(task_, ids_, *model_);
  data_ = MakeData(*model_);
  // derived constants (subtree masses, inverse weights) after the mass change
  mj_setConst(model_.get(), data_.get());

  horizon_ = config.horizon > 0 ? config.horizon : family_->default_horizon();
  frame_skip_ = config.frame_skip > 0 ? config.frame_skip : family_->default_frame_skip();
  if (family_->dynamics() == Dynamics::kKinematic) frame_skip_ = 1;
  config_.horizon = horizon_;
  config_.frame_skip = frame_skip_;

  observation_.assign(static_cast<std::size_t>(family_->ObservationSize(*model_)), 0.0);
  if (family_->dynamics() == Dynamics::kKinematic) {
    action_low_.assign(2, -kNavMaxStep);
    action_high_.assign(2, kNavMaxStep);
  } else {
    for (int i = 0; i < model_->nu; ++i) {
      const bool limited = model_->actuator_ctrllimited[i] != 0;
      action_low_.push_back(limited ? model_->actuator_ctrlrange[2 * i] : -mjMAXVAL);
      action_high_.push_back(limited ? model_->actuator_ctrlrange[2 * i + 1] : mjMAXVAL);
    }
  }
  clipped_.assign(action_low_.size(), 0.0);
}

std::span<const double> Env::Reset(std::uint64_t seed) {
  mjModel* m = model_.get();
  mjData* d = data_.get();
  mj_resetData(m, d);
  const double noise = family_->reset_noise();
  if (noise > 0.0) {
    std::mt19937_64 rng(seed);
    for (int j = 0; j < m->njnt; ++j) {
      const int type = m->jnt_type[j];
      if (type == mjJNT_HINGE || type == mjJNT_SLIDE) {
        d->qpos[m->jnt_qposadr[j]] += UniformDouble(rng, -noise, noise);
      }
    }
    for (int i = 0; i < m->nv; ++i) d->qvel[i] += UniformDouble(rng, -noise, noise);
  }
  if (family_->dynamics() == Dynamics::kKinematic) {
    mj_kinematics(m, d);
  } else {
    mj_forward(m, d);
  }
  family_->Observe(*m, *d, ids_, observation_);
  episode_step_ = 0;
  running_ = true;
  return observation_;
}

void Env::CheckAction(std::span<const double> action) const {
  if (action.size() != action_low_.size()) {
    throw std::invalid_argument("Env::Step: expected an action of size " +
                                std::to_string(action_low_.size()) + ", got " +
                                std::to_string(action.size()));
  }
  for (std::size_t i = 0; i < action.size(); ++i) {
    if (!std::isfinite(action[i])) {
      throw std::invalid_argument("Env::Step: action[" + std::to_string(i) + "] is " +
                                  (std::isnan(action[i]) ? "nan" : "inf") +
                                  " (expected finite values)");
    }
  }
  if (!running_) {
    throw std::logic_error("Env::Step: no episode is running; call Reset() first");
  }
}

bool Env::Diverged() const {
  // MuJoCo resets the state and counts the warning when a value goes bad (mj_checkPos/Vel/Acc)
  const mjWarningStat* w = data_->warning;
  return w[mjWARN_BADQACC].number > 0 || w[mjWARN_BADQVEL].number > 0 ||
         w[mjWARN_BADQPOS].number > 0;
}

StepResult Env::Step(std::span<const double> action) {
  CheckAction(action);
  const mjModel* m = model_.get();
  mjData* d = data_.get();
  const std::size_t n = clipped_.size();
  for (std::size_t i = 0; i < n; ++i) {
    clipped_[i] = std::clamp(action[i], action_low_[i], action_high_[i]);
  }

  bool diverged = false;
  if (family_->dynamics() == Dynamics::kKinematic) {
    // p_{t+1} = p_t + clip(a_t) (Finn et al. 2017), exact: no forces are integrated
    d->qpos[0] += clipped_[0];
    d->qpos[1] += clipped_[1];
    d->time += m->opt.timestep;
    mj_kinematics(m, d);
    ++sim_steps_;
  } else {
    for (std::size_t i = 0; i < n; ++i) d->ctrl[i] = clipped_[i];
    for (int k = 0; k < frame_skip_; ++k) {
      mj_step(m, d);
      ++sim_steps_;
      if (Diverged()) {
        diverged = true;
        break;
      }
    }
  }
  ++episode_step_;
  family_->Observe(*m, *d, ids_, observation_);

  StepResult result;
  result.observation = observation_;
  if (diverged) {
    result.reward = 0.0;  // the state was reset by MuJoCo: no meaningful reward
    result.status = StepStatus::kDiverged;
  } else {
    result.reward = family_->Reward(*m, *d, ids_, task_, clipped_);
    if (family_->Terminated(*m, *d, ids_, task_)) {
      result.status = StepStatus::kTerminated;
    } else if (episode_step_ >= horizon_) {
      result.status = StepStatus::kTruncated;
    }
  }
  if (IsDone(result.status)) running_ = false;
  return result;
}

void Env::RestoreState(int step, double time, std::span<const double> qpos,
                       std::span<const double> qvel, std::span<const double> act,
                       std::span<const double> ctrl, std::span<const double> qacc_warmstart) {
  const mjModel* m = model_.get();
  mjData* d = data_.get();
  CheckSize("qpos", qpos, m->nq);
  CheckSize("qvel", qvel, m->nv);
  CheckSize("act", act, m->na);
  CheckSize("ctrl", ctrl, m->nu);
  CheckSize("qacc_warmstart", qacc_warmstart, m->nv);
  if (step < 0 || step >= horizon_) {
    throw std::invalid_argument("Env::RestoreState: expected step in [0, " +
                                std::to_string(horizon_) + "), got " + std::to_string(step));
  }
  mj_resetData(m, d);
  d->time = time;
  std::copy(qpos.begin(), qpos.end(), d->qpos);
  std::copy(qvel.begin(), qvel.end(), d->qvel);
  std::copy(act.begin(), act.end(), d->act);
  std::copy(ctrl.begin(), ctrl.end(), d->ctrl);
  std::copy(qacc_warmstart.begin(), qacc_warmstart.end(), d->qacc_warmstart);
  if (family_->dynamics() == Dynamics::kKinematic) {
    mj_kinematics(m, d);
  } else {
    mj_forward(m, d);
  }
  family_->Observe(*m, *d, ids_, observation_);
  episode_step_ = step;
  running_ = true;
}

}  // namespace metajoule::sim
