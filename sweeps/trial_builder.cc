#include "sweeps/trial_builder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sweeps/model_shape.h"
#include "sweeps/spec_defaults.h"

namespace scalelaw::sweeps {

v1::ModelShape ResolveShape(const v1::SweepSpec& spec, const v1::ModelSize& size) {
  const uint32_t vocab = VocabSizeOf(spec.data());
  if (size.has_shape()) {
    v1::ModelShape shape = size.shape();
    if (shape.n_ctx() == 0) shape.set_n_ctx(spec.context());
    if (shape.vocab_size() == 0) shape.set_vocab_size(vocab);
    return shape;
  }
  return ShapeForParams(size.target_params(), spec.context(), vocab);
}

std::string TrialId(std::string_view sweep_id, size_t index) {
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "-t%03zu", index);
  return std::string(sweep_id) + suffix;
}

double ScaledLearningRate(const v1::OptimizerConfig& optimizer, double params) {
  return optimizer.lr() *
         std::pow(params / optimizer.lr_reference_params(), -optimizer.lr_exponent());
}

uint32_t BatchSizeFor(const v1::TrainingConfig& training, double params) {
  const v1::BatchRule& rule = training.batch_rule();
  if (rule.critical_batch_size() == 0) return training.batch_size();
  // Least squares of log B on log N; with one size (or one N) the slope is 0.
  const double n = rule.critical_batch_size();
  double mean_x = 0, mean_y = 0;
  for (const v1::CriticalBatchPoint& point : rule.critical_batch()) {
    mean_x += std::log(point.params()) / n;
    mean_y += std::log(point.batch()) / n;
  }
  double sxx = 0, sxy = 0;
  for (const v1::CriticalBatchPoint& point : rule.critical_batch()) {
    const double dx = std::log(point.params()) - mean_x;
    sxx += dx * dx;
    sxy += dx * (std::log(point.batch()) - mean_y);
  }
  const double slope = sxx > 0 ? sxy / sxx : 0;
  const double critical = std::exp(mean_y + slope * (std::log(params) - mean_x));
  const double fraction = rule.fraction() > 0 ? rule.fraction() : 1;
  // Whole multiples of micro_batches within [min_batch, max_batch] (the
  // validator makes sure there is one).
  const double step = std::max(training.micro_batches(), 1u);
  const double lo = std::ceil(std::max<double>(rule.min_batch(), step) / step);
  const double hi = std::floor((rule.max_batch() > 0 ? rule.max_batch() : (1u << 20)) / step);
  const double multiples = std::clamp(std::round(fraction * critical / step), lo, std::max(lo, hi));
  return static_cast<uint32_t>(multiples * step);
}

uint64_t TokensPerStep(const v1::TrainingConfig& training, const v1::ModelShape& shape) {
  const double params = static_cast<double>(CountParams(shape).total);
  return uint64_t{BatchSizeFor(training, params)} * shape.n_ctx();
}

uint64_t StepsFor(uint64_t tokens, uint64_t tokens_per_step) {
  return (tokens + tokens_per_step - 1) / tokens_per_step;
}

v1::TrialSpec MakeTrial(const v1::SweepSpec& spec, std::string_view sweep_id,
                        const v1::ModelShape& shape, double target_params, uint64_t tokens,
                        uint64_t seed) {
  const ParamCounts counts = CountParams(shape);
  v1::TrialSpec trial;
  trial.set_sweep_id(std::string(sweep_id));
  *trial.mutable_shape() = shape;
  trial.set_target_params(target_params);
  trial.set_tokens(tokens);
  trial.set_seed(seed);
  *trial.mutable_optimizer() = spec.optimizer();
  trial.mutable_optimizer()->set_lr(
      ScaledLearningRate(spec.optimizer(), static_cast<double>(counts.total)));
  *trial.mutable_data() = spec.data();
  *trial.mutable_training() = spec.training();
  // The worker runs the batch the rule gives; the rule itself stays with the sweep.
  trial.mutable_training()->set_batch_size(
      BatchSizeFor(spec.training(), static_cast<double>(counts.total)));
  trial.mutable_training()->clear_batch_rule();
  trial.set_params(counts.total);
  trial.set_non_embedding_params(counts.non_embedding);
  trial.set_flops(FlopsPerToken(shape, counts.total) * static_cast<double>(tokens));
  return trial;
}

const char* TrialRoleName(const v1::TrialSpec& trial) {
  if (!trial.forecast_target().empty()) return "target";
  switch (trial.wsd().role()) {
    case v1::TRIAL_ROLE_WSD_STABLE:
      return "stable";
    case v1::TRIAL_ROLE_WSD_COOLDOWN:
      return "cooldown";
    default:
      return "run";
  }
}

double TrialCost(const v1::TrialSpec& trial) {
  if (trial.wsd().role() != v1::TRIAL_ROLE_WSD_COOLDOWN || trial.tokens() == 0) {
    return trial.flops();
  }
  const double cooled = static_cast<double>(trial.tokens() - trial.wsd().decay_start_tokens());
  return trial.flops() * cooled / static_cast<double>(trial.tokens());
}

}  // namespace scalelaw::sweeps
