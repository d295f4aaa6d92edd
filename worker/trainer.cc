#include "worker/trainer.h"

#include <ATen/autocast_mode.h>
#include <malloc.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"
#include "sweeps/accounting.h"
#include "sweeps/safe_path.h"
#include "worker/checkpoint.h"
#include "worker/foreach_adamw.h"
#include "worker/gpt.h"
#include "worker/lr_schedule.h"
#include "worker/micro_batch_lanes.h"
#include "worker/noise_scale.h"

#define SCALELAW_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||           \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace scalelaw::worker {
namespace {

using Clock = std::chrono::steady_clock;

// Divergence: the smoothed training loss this far above its running minimum
// (after warmup) means the run has blown up.
constexpr double kDivergenceNats = 2.0;
// Decay of the smoothed training loss (EMA over ~10 steps).
constexpr double kTrainLossDecay = 0.9;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Training FLOPs per token of the built model, both counts of SCIENCE.md
// ("Counting parameters and compute"; Kaplan et al. 2020, table 1):
//   6N            (forward 2N, backward 4N)
//   6N + 6 n_layer n_ctx d_model   (with the attention-score term)
// N is the exact total counted from the model, tied head once.
struct FlopsPerTrainingToken {
  double with_attention = 0.0;
  double six_n = 0.0;
};
FlopsPerTrainingToken CountFlopsPerToken(const v1::ModelShape& shape, uint64_t params) {
  return {sweeps::FlopsPerToken(shape, params), sweeps::FlopsPerToken6N(params)};
}

// Autocast to bfloat16 for the forward pass and the loss, as Python's
// `with torch.autocast(device, torch.bfloat16):`. On leaving the outermost
// scope the cache of cast weights is cleared, as autocast.__exit__ does: the
// cached bf16 copies are stale once the optimiser updates the weights.
class AutocastScope {
 public:
  AutocastScope(bool enabled, torch::DeviceType device) : enabled_(enabled), device_(device) {
    if (!enabled_) return;
#if SCALELAW_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_dtype(device_, at::kBFloat16);
    at::autocast::set_autocast_enabled(device_, true);
#else
    if (device_ == torch::kCPU) {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    } else {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if SCALELAW_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(device_, false);
#else
    if (device_ == torch::kCPU) {
      at::autocast::set_cpu_enabled(false);
    } else {
      at::autocast::set_enabled(false);
    }
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  torch::DeviceType device_;
};

// Mean next-token cross-entropy (nats/token) of `windows` (n x (T+1)).
torch::Tensor LanguageModelLoss(Gpt& model, const torch::Tensor& windows, bool bf16,
                                torch::DeviceType device) {
  const int64_t time = windows.size(1) - 1;
  const torch::Tensor inputs = windows.narrow(1, 0, time);
  const torch::Tensor targets = windows.narrow(1, 1, time);
  AutocastScope autocast(bf16, device);
  const torch::Tensor logits = model->forward(inputs);
  return torch::nn::functional::cross_entropy(
      logits.to(torch::kFloat).reshape({-1, logits.size(-1)}), targets.reshape({-1}));
}

// Validation loss over the fixed held-out windows, in chunks of `chunk`
// windows. Runs under NoGradGuard in eval mode.
double Evaluate(Gpt& model, const torch::Tensor& val_windows, int64_t chunk, bool bf16,
                torch::DeviceType device) {
  torch::NoGradGuard no_grad;
  model->eval();
  double total = 0.0;
  int64_t windows = 0;
  for (int64_t start = 0; start < val_windows.size(0); start += chunk) {
    const int64_t n = std::min(chunk, val_windows.size(0) - start);
    total += LanguageModelLoss(model, val_windows.narrow(0, start, n), bf16, device)
                 .item<double>() *  // CPU-GPU sync point
             static_cast<double>(n);
    windows += n;
  }
  model->train();
  return total / static_cast<double>(windows);
}

// Sum of squared entries of every tensor, as a double (one sync).
double SquaredNorm(const std::vector<torch::Tensor>& tensors) {
  torch::Tensor sum = torch::zeros({}, tensors.front().options().dtype(torch::kFloat));
  for (const auto& t : tensors) sum += t.to(torch::kFloat).square().sum();
  return sum.item<double>();  // CPU-GPU sync point
}

torch::Tensor WindowsToTensor(std::vector<int64_t>& host, int64_t rows, int64_t cols,
                              torch::Device device) {
  return torch::from_blob(host.data(), {rows, cols}, torch::kLong)
      .to(device, /*non_blocking=*/false,
          /*copy=*/true);
}

// The model's parameters and buffers and the optimiser's state (AdamW
// moments and step counts, param groups) as one libtorch archive.
std::string SaveTorchState(Gpt& model, torch::optim::AdamW& optimizer) {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  model->save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  std::ostringstream out;
  archive.save_to(out);
  return std::move(out).str();
}

// Loads SaveTorchState's archive into a model and optimiser built the same
// way. Parameters are loaded in place (Tensor::set_), so the tensors the
// optimiser and the training loop hold stay valid; the optimiser's state is
// matched to them by position.
void LoadTorchState(const std::string& bytes, Gpt& model, torch::optim::AdamW& optimizer,
                    torch::Device device) {
  std::istringstream in(bytes);
  torch::serialize::InputArchive archive, model_archive, optimizer_archive;
  archive.load_from(in, device);
  archive.read("model", model_archive);
  archive.read("optimizer", optimizer_archive);
  model->load(model_archive);
  optimizer.load(optimizer_archive);
}

// A checkpoint belongs to this trial only if everything that shapes the
// training trajectory matches; resuming another trajectory would join two
// different curves.
absl::Status CheckResumable(const v1::TrialSpec& spec, const v1::TrialCheckpoint& state,
                            uint64_t total_steps, const std::string& path) {
  const v1::TrialSpec& saved = state.spec();
  std::string differs;
  if (saved.shape().SerializeAsString() != spec.shape().SerializeAsString()) differs = "shape";
  if (saved.optimizer().SerializeAsString() != spec.optimizer().SerializeAsString()) {
    differs = "optimizer";
  }
  if (saved.tokens() != spec.tokens()) differs = "tokens";
  if (saved.seed() != spec.seed()) differs = "seed";
  if (saved.training().batch_size() != spec.training().batch_size() ||
      saved.training().micro_batches() != spec.training().micro_batches()) {
    differs = "training.batch_size / micro_batches";
  }
  if (saved.training().precision() != spec.training().precision()) differs = "training.precision";
  if (!differs.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint \"", path, "\" of trial ", spec.trial_id(), " was written for a different ",
        differs, "; remove it or use another training.checkpoint_dir"));
  }
  if (state.steps_done() > total_steps) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint \"", path, "\" is at step ",
                                                      state.steps_done(), " of ", total_steps));
  }
  return absl::OkStatus();
}

// Steps after which a WSD stable run keeps a checkpoint for a branch, sorted.
std::vector<uint64_t> BranchSteps(const v1::TrialSpec& spec, uint64_t tokens_per_step) {
  std::vector<uint64_t> steps;
  if (spec.wsd().role() != v1::TRIAL_ROLE_WSD_STABLE) return steps;
  for (uint64_t tokens : spec.wsd().branch_tokens()) steps.push_back(tokens / tokens_per_step);
  std::sort(steps.begin(), steps.end());
  return steps;
}

// The stable run's state where cooldown branch `spec` leaves it. The branch
// continues that exact trajectory, so everything that shapes it must match.
absl::StatusOr<std::optional<Checkpoint>> ReadBranchPoint(const v1::TrialSpec& spec,
                                                          const std::string& checkpoint_root,
                                                          const LrSchedule& schedule) {
  const std::string& stable_id = spec.wsd().stable_trial_id();
  SCALELAW_ASSIGN_OR_RETURN(
      const std::string branch_dir,
      BranchCheckpointDirectory(checkpoint_root, stable_id, "wsd.stable_trial_id"));
  const std::string path = branch_dir + "/" + CheckpointFileName(schedule.decay_start_step);
  absl::StatusOr<Checkpoint> checkpoint = ReadCheckpoint(path);
  if (!checkpoint.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cooldown branch ", spec.trial_id(), " starts from stable run ", stable_id,
                     " at step ", schedule.decay_start_step, ", but \"", path,
                     "\" cannot be read (", checkpoint.status().message(),
                     "); training.checkpoint_dir must be shared by every worker of the sweep"));
  }
  const v1::TrialSpec& saved = checkpoint->state.spec();
  v1::OptimizerConfig saved_opt = saved.optimizer(), opt = spec.optimizer();
  if (saved.shape().SerializeAsString() != spec.shape().SerializeAsString() ||
      saved_opt.SerializeAsString() != opt.SerializeAsString() || saved.seed() != spec.seed() ||
      saved.training().batch_size() != spec.training().batch_size() ||
      saved.training().micro_batches() != spec.training().micro_batches() ||
      saved.training().precision() != spec.training().precision() ||
      checkpoint->state.steps_done() != schedule.decay_start_step) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint \"", path, "\" of stable run ", stable_id, " does not match cooldown branch ",
        spec.trial_id(), " (shape, optimizer, seed, batch, precision and step must all agree)"));
  }
  return std::optional<Checkpoint>(std::move(*checkpoint));
}

absl::StatusOr<v1::TrialResult> TrainTrialUnfenced(const v1::TrialSpec& spec,
                                                   const data::TokenDataset& corpus,
                                                   const TrainerHooks& hooks) {
  const auto start = Clock::now();
  v1::ModelShape shape = spec.shape();
  if (shape.vocab_size() == 0) shape.set_vocab_size(corpus.vocab_size());
  const v1::TrainingConfig& training = spec.training();
  const v1::OptimizerConfig& opt = spec.optimizer();

  const uint32_t threads = hooks.threads > 0 ? hooks.threads : std::max(1u, training.threads());
  torch::set_num_threads(static_cast<int>(threads));
  // Settles this thread's own OpenMP thread count now, before any micro-batch
  // lane stores 1 as libtorch's process-wide default (micro_batch_lanes.h).
  (void)torch::get_num_threads();

  const bool cuda = training.device() == "cuda";
  if (cuda && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        absl::StrCat("training.device: trial ", spec.trial_id(), " asks for cuda, none present"));
  }
  const torch::Device device(cuda ? torch::kCUDA : torch::kCPU);
  const torch::DeviceType device_type = device.type();
  const bool bf16 = training.precision() == "bf16";

  // Model and optimiser. AdamW decays 2-D weights only (not biases, norms).
  torch::manual_seed(spec.seed());
  Gpt model(shape);
  model->to(device);
  model->train();
  const sweeps::ParamCounts counts = model->CountParameters();
  const FlopsPerTrainingToken flops_per_token = CountFlopsPerToken(shape, counts.total);

  std::vector<torch::Tensor> params = model->parameters();
  std::vector<torch::Tensor> decayed, not_decayed;
  for (const auto& p : params) (p.dim() >= 2 ? decayed : not_decayed).push_back(p);
  auto adamw = [&](double weight_decay) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(opt.lr())
                                                            .betas({opt.beta1(), opt.beta2()})
                                                            .eps(1e-8)
                                                            .weight_decay(weight_decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, adamw(opt.weight_decay()));
  groups.emplace_back(not_decayed, adamw(0.0));
  ForeachAdamW optimizer(std::move(groups));

  // Batches, steps and schedule.
  const uint32_t n_ctx = shape.n_ctx();
  const uint32_t batch = training.batch_size();
  const uint32_t accumulation = std::max(1u, training.micro_batches());
  const uint32_t micro = batch / accumulation;
  const uint32_t lanes = MicroBatchLanes(threads, accumulation, /*cpu=*/!cuda);
  MicroBatchLanePool lane_pool(lanes);
  const uint64_t tokens_per_step = uint64_t{batch} * n_ctx;
  const uint64_t total_steps = StepsForTokens(spec.tokens(), batch, n_ctx);
  SCALELAW_ASSIGN_OR_RETURN(const LrSchedule schedule, ScheduleOfTrial(spec, tokens_per_step));
  const std::vector<uint64_t> eval_steps =
      EvalSteps(total_steps, tokens_per_step, training.eval_points());
  const uint32_t log_every = std::max(1u, training.log_every_steps());

  std::vector<int64_t> host;
  corpus.ValidationWindows(std::max(1u, training.eval_batches()) * batch, n_ctx + 1, host);
  const torch::Tensor val_windows =
      WindowsToTensor(host, static_cast<int64_t>(host.size() / (n_ctx + 1)), n_ctx + 1, device);
  std::mt19937_64 rng(spec.seed() ^ 0x5ca1e1a3da7a5eedull);  // data order, apart from init
  SCALELAW_ASSIGN_OR_RETURN(const std::string checkpoint_dir,
                            TrialCheckpointDirectory(training.checkpoint_dir(), spec.trial_id()));
  SCALELAW_ASSIGN_OR_RETURN(const std::string branch_dir,
                            BranchCheckpointDirectory(training.checkpoint_dir(), spec.trial_id()));
  const uint32_t checkpoint_every = training.checkpoint_every_steps();

  v1::TrialResult result;
  result.set_params(counts.total);
  result.set_non_embedding_params(counts.non_embedding);
  result.set_flops_per_token_6n(flops_per_token.six_n);
  result.set_flops_per_token(flops_per_token.with_attention);
  result.set_device(cuda ? "cuda" : "cpu");

  // The state a checkpoint carries besides the model and optimiser.
  NoiseScaleEma noise;
  std::optional<double> smoothed_loss;
  double min_smoothed_loss = std::numeric_limits<double>::infinity();
  double last_val_loss = 0.0;
  double earlier_wall = 0.0;    // wall seconds of earlier attempts
  double earlier_eval = 0.0;    // of which evaluating and checkpointing
  Clock::duration eval_time{};  // this attempt's evaluating and checkpointing
  size_t next_eval = 0;
  uint64_t first_step = 0;
  uint64_t metric_seq = 0;
  std::vector<v1::MetricPoint> history;  // every point so far, kept only for checkpoints
  auto wall_seconds = [&] { return earlier_wall + Seconds(Clock::now() - start); };

  // Points carry the trial's own sequence numbers (1, 2, ... across
  // attempts), so a resumed attempt's stream continues where the last
  // checkpoint's left off.
  auto emit = [&](v1::MetricPoint point, uint64_t steps_done) {
    point.set_trial_id(spec.trial_id());
    point.set_seq(++metric_seq);
    point.set_step(steps_done);
    point.set_tokens(steps_done * tokens_per_step);
    point.set_flops(static_cast<double>(steps_done * tokens_per_step) *
                    flops_per_token.with_attention);
    point.set_wall_seconds(wall_seconds());
    if (!checkpoint_dir.empty()) history.push_back(point);
    if (hooks.on_metric) hooks.on_metric(point);
  };

  // Writes the state after `steps_done` steps into `directory` (keeping its
  // `keep` newest); its time counts as overhead, not training, in tokens/s.
  auto save_checkpoint_to = [&](uint64_t steps_done, const std::string& directory,
                                int keep) -> absl::Status {
    const auto save_start = Clock::now();
    v1::TrialCheckpoint state;
    *state.mutable_spec() = spec;
    state.set_steps_done(steps_done);
    state.set_tokens(steps_done * tokens_per_step);
    std::ostringstream rng_state;
    rng_state << rng;
    state.set_data_rng_state(rng_state.str());
    const NoiseScaleEma::State ema = noise.state();
    state.set_noise_grad_sq(ema.grad_sq);
    state.set_noise_trace_sigma(ema.trace_sigma);
    state.set_noise_weight(ema.weight);
    state.set_noise_count(ema.count);
    if (smoothed_loss) state.set_smoothed_train_loss(*smoothed_loss);
    state.set_min_smoothed_train_loss(min_smoothed_loss);
    state.set_last_val_loss(last_val_loss);
    state.set_next_eval(static_cast<uint32_t>(next_eval));
    state.set_wall_seconds(wall_seconds());
    state.set_eval_seconds(earlier_eval + Seconds(eval_time));
    state.set_metric_seq(metric_seq);
    for (const v1::MetricPoint& point : history) *state.add_metrics() = point;
    SCALELAW_ASSIGN_OR_RETURN(
        const std::string path,
        WriteCheckpoint(directory, state, SaveTorchState(model, optimizer), keep));
    eval_time += Clock::now() - save_start;
    spdlog::debug("trial {}: checkpoint {}", spec.trial_id(), path);
    return absl::OkStatus();
  };
  auto save_checkpoint = [&](uint64_t steps_done) {
    return save_checkpoint_to(steps_done, checkpoint_dir, /*keep=*/2);
  };
  // A WSD stable run keeps every state a cooldown branch starts from.
  const std::vector<uint64_t> branch_steps = BranchSteps(spec, tokens_per_step);
  if (!branch_steps.empty() && checkpoint_dir.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("training.checkpoint_dir: WSD stable run ", spec.trial_id(),
                     " needs a checkpoint directory that its cooldown branches can read"));
  }

  // --- resume from the newest checkpoint ------------------------------------
  if (!checkpoint_dir.empty()) {
    SCALELAW_ASSIGN_OR_RETURN(std::optional<Checkpoint> checkpoint,
                              ReadNewestCheckpoint(checkpoint_dir));
    bool from_branch_point = false;
    if (checkpoint) {
      SCALELAW_RETURN_IF_ERROR(
          CheckResumable(spec, checkpoint->state, total_steps, checkpoint->path));
    } else if (spec.wsd().role() == v1::TRIAL_ROLE_WSD_COOLDOWN) {
      // A cooldown branch's first attempt starts where it leaves its stable run.
      SCALELAW_ASSIGN_OR_RETURN(checkpoint,
                                ReadBranchPoint(spec, training.checkpoint_dir(), schedule));
      from_branch_point = true;
    }
    if (checkpoint) {
      const v1::TrialCheckpoint& state = checkpoint->state;
      LoadTorchState(checkpoint->model_state, model, optimizer, device);
      std::istringstream rng_state(state.data_rng_state());
      rng_state >> rng;
      if (!rng_state) {
        return absl::DataLossError(
            absl::StrCat("checkpoint \"", checkpoint->path, "\": bad data_rng_state"));
      }
      noise.Restore({state.noise_grad_sq(), state.noise_trace_sigma(), state.noise_weight(),
                     state.noise_count()});
      if (state.has_smoothed_train_loss()) smoothed_loss = state.smoothed_train_loss();
      min_smoothed_loss = state.min_smoothed_train_loss();
      last_val_loss = state.last_val_loss();
      next_eval = std::min<size_t>(state.next_eval(), eval_steps.size());
      earlier_wall = state.wall_seconds();
      earlier_eval = state.eval_seconds();
      first_step = state.steps_done();
      metric_seq = state.metric_seq();
      history.assign(state.metrics().begin(), state.metrics().end());
      for (v1::MetricPoint& point : history) point.set_trial_id(spec.trial_id());
      // A branch's own evaluations start where it leaves the stable run.
      if (from_branch_point) {
        next_eval = 0;
        while (next_eval < eval_steps.size() && eval_steps[next_eval] < first_step) ++next_eval;
      }
      if (hooks.tokens_done != nullptr) hooks.tokens_done->store(first_step * tokens_per_step);
      spdlog::info("trial {}: resuming at step {} of {} from {}", spec.trial_id(), first_step,
                   total_steps, checkpoint->path);
      // This attempt's stream holds the whole curve: the points up to the
      // checkpoint again (same seq, step and values), then its own.
      if (hooks.on_metric) {
        for (const v1::MetricPoint& point : history) hooks.on_metric(point);
      }
    }
  }

  auto log_start = Clock::now();
  uint64_t log_start_step = first_step;

  for (uint64_t step = first_step;; ++step) {
    // --- set lr -----------------------------------------------------------
    const double lr = GetLr(step, schedule);
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);

    // --- evaluate (log-spaced token counts and the end) -----------------------
    if (next_eval < eval_steps.size() && eval_steps[next_eval] == step) {
      const auto eval_start = Clock::now();
      last_val_loss = Evaluate(model, val_windows, micro, bf16, device_type);
      const auto eval_duration = Clock::now() - eval_start;
      eval_time += eval_duration;
      log_start += eval_duration;  // logged throughput is training only
      ++next_eval;
      v1::MetricPoint point;
      point.set_val_loss(last_val_loss);
      if (smoothed_loss) point.set_train_loss(*smoothed_loss);
      emit(point, step);
    }
    if (step == total_steps) break;

    // --- stop? (lease lost) -------------------------------------------------
    if (hooks.stop != nullptr && hooks.stop->load()) {
      // Keep the progress for the next attempt (a copy of the same
      // trajectory, should another attempt already be writing here).
      if (!checkpoint_dir.empty() && step > first_step) {
        if (absl::Status saved = save_checkpoint(step); !saved.ok()) {
          spdlog::warn("trial {}: {}", spec.trial_id(), saved.ToString());
        }
      }
      return absl::CancelledError(
          absl::StrCat("trial ", spec.trial_id(), " stopped at step ", step));
    }

    // --- forward/backward with micro-batch accumulation -----------------------
    // Each micro-batch gradient is taken separately (autograd::grad) so its
    // squared norm feeds the noise-scale estimate; their mean is the step's.
    // On the CPU (fp32 and bf16) the micro-batches run side by side in waves
    // of one per lane (worker/micro_batch_lanes.h); each wave is summed in
    // order, so at most `lanes` micro-batch gradients are held beside the sum.
    corpus.SampleTrainWindows(rng, batch, n_ctx + 1, host);
    const torch::Tensor windows = WindowsToTensor(host, batch, n_ctx + 1, device);
    std::vector<torch::Tensor> grads;
    double micro_sq_sum = 0.0;
    torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(device));
    std::vector<std::vector<torch::Tensor>> wave_grads(lanes);
    std::vector<torch::Tensor> wave_losses(lanes);
    for (uint32_t first = 0; first < accumulation; first += lanes) {
      const uint32_t wave = std::min(lanes, accumulation - first);
      lane_pool.ForEach(wave, [&](uint32_t k) {
        const int64_t row = int64_t{first + k} * micro;
        wave_losses[k] = LanguageModelLoss(model, windows.narrow(0, row, micro), bf16, device_type);
        wave_grads[k] = torch::autograd::grad({wave_losses[k]}, params);
      });
      for (uint32_t k = 0; k < wave; ++k) {
        std::vector<torch::Tensor> g = std::move(wave_grads[k]);
        if (accumulation > 1) micro_sq_sum += SquaredNorm(g);
        if (grads.empty()) {
          grads = std::move(g);
        } else {
          for (size_t j = 0; j < grads.size(); ++j) grads[j].add_(g[j]);
        }
        loss_sum += wave_losses[k].detach();
      }
    }
    for (size_t j = 0; j < grads.size(); ++j) {
      if (accumulation > 1) grads[j].div_(static_cast<double>(accumulation));
      params[j].mutable_grad() = grads[j];
    }
    const double loss = loss_sum.item<double>() / accumulation;  // CPU-GPU sync point
    if (accumulation > 1) {
      noise.Add(EstimateNoise(/*b_small=*/micro, /*g_small_sq=*/micro_sq_sum / accumulation,
                              /*b_big=*/batch, /*g_big_sq=*/SquaredNorm(grads)));
    }

    // --- clip, step, zero -------------------------------------------------
    if (opt.grad_clip() > 0) ForeachClipGradNorm(params, opt.grad_clip());
    optimizer.step();
    for (auto& p : params) p.mutable_grad() = torch::Tensor();  // set_to_none
    const uint64_t steps_done = step + 1;
    if (hooks.tokens_done != nullptr) hooks.tokens_done->store(steps_done * tokens_per_step);

    // --- timing, log ------------------------------------------------------
    smoothed_loss =
        smoothed_loss ? kTrainLossDecay * *smoothed_loss + (1 - kTrainLossDecay) * loss : loss;
    if (steps_done % log_every == 0 || steps_done == total_steps) {
      const auto now = Clock::now();
      v1::MetricPoint point;
      point.set_train_loss(*smoothed_loss);
      point.set_lr(lr);
      point.set_tokens_per_second(
          static_cast<double>((steps_done - log_start_step) * tokens_per_step) /
          Seconds(now - log_start));
      if (noise.count() > 0) point.set_noise_scale(noise.BSimple());
      emit(point, steps_done);
      log_start = Clock::now();
      log_start_step = steps_done;
    }

    // --- diverged? ----------------------------------------------------------
    std::string divergence;
    if (!std::isfinite(loss)) {
      divergence = absl::StrCat("non-finite training loss (", loss, ") at step ", steps_done);
    } else if (step >= schedule.warmup_steps) {
      min_smoothed_loss = std::min(min_smoothed_loss, *smoothed_loss);
      if (*smoothed_loss > min_smoothed_loss + kDivergenceNats) {
        divergence = absl::StrCat("smoothed training loss ", *smoothed_loss, " rose more than ",
                                  kDivergenceNats, " nats above its minimum ", min_smoothed_loss,
                                  " at step ", steps_done);
      }
    }
    if (!divergence.empty()) {
      result.set_diverged(true);
      result.set_divergence_reason(divergence);
      result.set_steps(steps_done);
      result.set_tokens(steps_done * tokens_per_step);
      break;
    }

    // --- checkpoint ---------------------------------------------------------
    // After the step's log point, so the checkpoint's history holds it; the
    // last step's checkpoint follows the final evaluation, below.
    if (!checkpoint_dir.empty() && checkpoint_every > 0 && steps_done % checkpoint_every == 0 &&
        steps_done < total_steps) {
      const auto save_start = Clock::now();
      SCALELAW_RETURN_IF_ERROR(save_checkpoint(steps_done));
      log_start += Clock::now() - save_start;  // logged throughput is training only
    }
    if (std::binary_search(branch_steps.begin(), branch_steps.end(), steps_done) &&
        steps_done < total_steps) {
      const auto save_start = Clock::now();
      SCALELAW_RETURN_IF_ERROR(
          save_checkpoint_to(steps_done, branch_dir, std::numeric_limits<int>::max()));
      log_start += Clock::now() - save_start;
    }
  }

  if (!result.diverged()) {
    result.set_steps(total_steps);
    result.set_tokens(total_steps * tokens_per_step);
    if (!checkpoint_dir.empty()) SCALELAW_RETURN_IF_ERROR(save_checkpoint(total_steps));
    if (std::binary_search(branch_steps.begin(), branch_steps.end(), total_steps)) {
      SCALELAW_RETURN_IF_ERROR(
          save_checkpoint_to(total_steps, branch_dir, std::numeric_limits<int>::max()));
    }
  }
  const double wall = wall_seconds();
  const double overhead = earlier_eval + Seconds(eval_time);
  result.set_flops(static_cast<double>(result.tokens()) * flops_per_token.with_attention);
  result.set_final_val_loss(last_val_loss);
  result.set_final_train_loss(smoothed_loss.value_or(0.0));
  result.set_noise_scale(noise.BSimple());
  result.set_wall_seconds(wall);
  // Training throughput: evaluation and checkpoint time are left out. A
  // resumed trial's counts every attempt's time up to its checkpoint.
  result.set_tokens_per_second(static_cast<double>(result.tokens()) /
                               std::max(1e-9, wall - overhead));
  return result;
}

// Ids and the checkpoint directory come from the coordinator (or anyone
// who can speak for it on a plaintext channel) and decide where this worker
// writes: refused unless they are safe names and a writable directory
// (sweeps/safe_path.h), INVALID_ARGUMENT so the trial fails for good. The
// directory is checked as given, made absolute (a worker's working directory
// may be "/" in a container) and with symbolic links resolved.
absl::Status ValidateTrialPaths(const v1::TrialSpec& spec) {
  SCALELAW_RETURN_IF_ERROR(sweeps::CheckSafeName("trial_id", spec.trial_id()));
  if (!spec.sweep_id().empty()) {
    SCALELAW_RETURN_IF_ERROR(sweeps::CheckSafeName("sweep_id", spec.sweep_id()));
  }
  if (spec.wsd().role() == v1::TRIAL_ROLE_WSD_COOLDOWN) {
    SCALELAW_RETURN_IF_ERROR(
        sweeps::CheckSafeName("wsd.stable_trial_id", spec.wsd().stable_trial_id()));
  }
  const std::string& dir = spec.training().checkpoint_dir();
  if (dir.empty()) return absl::OkStatus();
  const std::string field = absl::StrCat("trial ", spec.trial_id(), ": training.checkpoint_dir");
  SCALELAW_RETURN_IF_ERROR(sweeps::CheckWritableDirectory(field, dir));
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(dir, error);
  if (!error) SCALELAW_RETURN_IF_ERROR(sweeps::CheckWritableDirectory(field, absolute.string()));
  const std::filesystem::path resolved = std::filesystem::weakly_canonical(dir, error);
  if (!error) SCALELAW_RETURN_IF_ERROR(sweeps::CheckWritableDirectory(field, resolved.string()));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTrialSpec(const v1::TrialSpec& spec, uint32_t data_vocab_size) {
  const std::string where = absl::StrCat("trial ", spec.trial_id(), ": ");
  const v1::ModelShape& shape = spec.shape();
  if (shape.n_layer() == 0 || shape.d_model() == 0 || shape.n_head() == 0 || shape.n_ctx() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "shape: n_layer, d_model, n_head and n_ctx must be > 0, got ",
                     shape.ShortDebugString()));
  }
  if (shape.d_model() % shape.n_head() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "shape.d_model ", shape.d_model(), " is not a multiple of n_head ", shape.n_head()));
  }
  if (shape.vocab_size() > data::kMaxVocabSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "shape.vocab_size: must be <= ", data::kMaxVocabSize, ", got ", shape.vocab_size()));
  }
  if (shape.vocab_size() != 0 && shape.vocab_size() < data_vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "shape.vocab_size: the data's tokenizer has ", data_vocab_size,
                     " tokens, the model's embedding only ", shape.vocab_size()));
  }
  if (spec.tokens() == 0) return absl::InvalidArgumentError(where + "tokens: must be > 0");
  const v1::TrainingConfig& training = spec.training();
  const uint32_t micro_batches = std::max(1u, training.micro_batches());
  if (training.batch_size() == 0 || training.batch_size() % micro_batches != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "training.batch_size ", training.batch_size(),
                     " must be > 0 and a multiple of training.micro_batches ", micro_batches));
  }
  if (training.device() != "cpu" && training.device() != "cuda" && !training.device().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "training.device: expected \"cpu\" or \"cuda\", got \"", training.device(), "\""));
  }
  if (training.precision() != "fp32" && training.precision() != "bf16" &&
      !training.precision().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "training.precision: expected \"fp32\" or \"bf16\", got \"",
                     training.precision(), "\""));
  }
  const v1::OptimizerConfig& opt = spec.optimizer();
  if (!(opt.lr() > 0) || !std::isfinite(opt.lr())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "optimizer.lr: must be > 0, got ", opt.lr()));
  }
  if (!opt.schedule().empty() && opt.schedule() != "cosine" && opt.schedule() != "linear" &&
      opt.schedule() != "wsd") {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "optimizer.schedule: expected \"cosine\", \"linear\" or \"wsd\", got \"",
        opt.schedule(), "\""));
  }
  return ValidateTrialPaths(spec);
}

uint64_t StepsForTokens(uint64_t tokens, uint32_t batch_size, uint32_t n_ctx) {
  const uint64_t per_step = uint64_t{batch_size} * n_ctx;
  return (tokens + per_step - 1) / per_step;
}

std::vector<uint64_t> EvalSteps(uint64_t total_steps, uint64_t tokens_per_step,
                                uint32_t eval_points) {
  std::vector<uint64_t> steps;
  const double total_tokens = static_cast<double>(total_steps * tokens_per_step);
  const double first = std::max(static_cast<double>(tokens_per_step), total_tokens / 100.0);
  for (uint32_t i = 0; i + 1 < eval_points; ++i) {
    const double tokens =
        first * std::pow(total_tokens / first, static_cast<double>(i) / (eval_points - 1));
    const auto step = static_cast<uint64_t>(std::ceil(tokens / tokens_per_step - 1e-9));
    steps.push_back(std::clamp<uint64_t>(step, 1, total_steps));
  }
  steps.push_back(total_steps);
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

absl::StatusOr<v1::TrialResult> TrainTrial(const v1::TrialSpec& spec,
                                           const data::TokenDataset& corpus,
                                           const TrainerHooks& hooks) {
  SCALELAW_RETURN_IF_ERROR(ValidateTrialSpec(spec, corpus.vocab_size()));
  if (corpus.train_size() <= spec.shape().n_ctx() || corpus.val_size() <= spec.shape().n_ctx()) {
    return absl::FailedPreconditionError(
        absl::StrCat("data.corpus: \"", corpus.directory(),
                     "\" is too small for windows of n_ctx + 1 = ", spec.shape().n_ctx() + 1,
                     " tokens (train ", corpus.train_size(), ", val ", corpus.val_size(), ")"));
  }
  // libtorch reports errors by throwing; fence them here.
  try {
    return TrainTrialUnfenced(spec, corpus, hooks);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("libtorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training trial ", spec.trial_id(), ": ", e.what()));
  }
}

std::string AvailableDevice() { return torch::cuda::is_available() ? "cuda" : "cpu"; }

void TuneMallocForTraining() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace scalelaw::worker
