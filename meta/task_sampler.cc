#include "meta/task_sampler.h"

#include <chrono>
#include <ctime>
#include <stdexcept>
#include <string>

#include "agents/math/checks.h"
#include "common/error.h"

namespace metajoule::meta {
namespace {

agents::RolloutEnv& CheckedEnv(const agents::GaussianMlpPolicy& policy, const TaskEnv& task,
                               int max_episodes) {
  if (task.env == nullptr) throw std::invalid_argument("TaskSampler: task.env is null");
  agents::internal::CheckSize("TaskSampler: env obs_dim", task.env->obs_dim(), policy.obs_dim());
  agents::internal::CheckSize("TaskSampler: env act_dim", task.env->act_dim(), policy.act_dim());
  if (task.max_steps < 1 || max_episodes < 1) {
    throw std::invalid_argument("TaskSampler: expected max_steps, max_episodes >= 1, got " +
                                std::to_string(task.max_steps) + ", " +
                                std::to_string(max_episodes));
  }
  return *task.env;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// TaskSamplers alive on this thread (they share one ThreadWorkspace slot)
thread_local int live_samplers = 0;
// collection CPU time of every TaskSampler on this thread (ThreadSamplingCpuSeconds)
thread_local double thread_sampling_cpu = 0.0;

}  // namespace

TaskSampler::TaskSampler(const agents::GaussianMlpPolicy& policy,
                         const agents::AdvantageConfig& advantage, TaskEnv& task,
                         int max_episodes, std::mt19937_64& init_rng)
    : policy_(policy),
      task_((CheckedEnv(policy, task, max_episodes), task)),
      estimator_(policy.obs_dim(), advantage, init_rng),
      sample_ws_(policy, 1),
      loss_ws_(agents::internal::ThreadWorkspace(
          policy, Eigen::Index{max_episodes} * task.max_steps, kLossSlot)),
      max_batch_(Eigen::Index{max_episodes} * task.max_steps) {
  MJL_DEMAND(live_samplers == 0);
  ++live_samplers;
  loss_ws_.ResetFlops();
}

TaskSampler::~TaskSampler() { --live_samplers; }

double TaskSampler::ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double TaskSampler::ThreadSamplingCpuSeconds() { return thread_sampling_cpu; }

agents::UpdateStatus TaskSampler::Sample(const Eigen::Ref<const Eigen::VectorXd>& theta,
                                         int episodes, std::mt19937_64& rng, LossBatch& out,
                                         double& mean_return, std::string& message,
                                         double& advantage_seconds) {
  agents::internal::CheckSize("TaskSampler::Sample: theta size", theta.size(),
                              policy_.num_params());
  if (episodes < 1 || Eigen::Index{episodes} * task_.max_steps > max_batch_) {
    throw std::invalid_argument("TaskSampler::Sample: expected 1.." +
                                std::to_string(max_batch_ / task_.max_steps) +
                                " episodes, got " + std::to_string(episodes));
  }
  // a NaN policy would feed NaN actions to the simulator, which rejects them
  if (!theta.allFinite()) {
    message = "sampling: NaN or inf in the policy parameters";
    return agents::UpdateStatus::kNonFiniteParams;
  }
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  const std::int64_t sim_before = task_.sim_steps ? task_.sim_steps() : 0;
  // the rollout keeps its forward pass for the losses on this batch at this theta
  // (LossBatch::memo); a memo still shared with an earlier batch (a MamlTrace) is not reused
  if (!out.memo || out.memo.use_count() > 1) out.memo = std::make_shared<agents::ActivationMemo>();
  agents::TrajectoryBatch batch =
      agents::CollectEpisodes(policy_, theta, *task_.env, episodes, task_.max_steps, rng,
                              sample_ws_, out.memo.get());
  if (task_.sim_steps) work_.sim_steps += task_.sim_steps() - sim_before;
  work_.env_steps += batch.num_steps();
  work_.episodes += episodes;
  sampling_seconds_ += SecondsSince(start);
  thread_sampling_cpu += ThreadCpuSeconds() - cpu_start;

  const auto advantage_start = std::chrono::steady_clock::now();
  agents::UpdateStatus status = agents::CheckTrajectoryBatch(batch, policy_.obs_dim(),
                                                             policy_.act_dim(), &message);
  if (status == agents::UpdateStatus::kOk) {
    mean_return = agents::EpisodeReturns(batch).mean();
    status = estimator_.Compute(batch, rng, out.advantages, &message, &work_.policy_flops);
  }
  if (status == agents::UpdateStatus::kOk && !out.advantages.allFinite()) {
    status = agents::UpdateStatus::kNonFiniteInput;
    message = "sampling: the advantages are not finite";
  }
  out.obs = std::move(batch.obs);
  out.actions = std::move(batch.actions);
  advantage_seconds += SecondsSince(advantage_start);
  return status;
}

WorkCounts TaskSampler::work() const {
  WorkCounts total = work_;
  total.policy_flops += sample_ws_.total_flops() + loss_ws_.total_flops();
  return total;
}

}  // namespace metajoule::meta
