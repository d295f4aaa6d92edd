#include "sweeps/planner.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "sweeps/accounting.h"
#include "sweeps/model_shape.h"
#include "sweeps/spec_defaults.h"
#include "sweeps/spec_validator.h"

namespace scalelaw::sweeps {
namespace {

v1::ModelShape ResolveShape(const v1::SweepSpec& spec, const v1::ModelSize& size) {
  const uint32_t vocab = VocabSizeOf(spec.data().tokenizer());
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

}  // namespace

double ScaledLearningRate(const v1::OptimizerConfig& optimizer, double params) {
  return optimizer.lr() *
         std::pow(params / optimizer.lr_reference_params(), -optimizer.lr_exponent());
}

absl::StatusOr<std::vector<v1::TrialSpec>> PlanGrid(const v1::SweepSpec& spec,
                                                    std::string_view sweep_id) {
  SCALELAW_RETURN_IF_ERROR(ValidateSweepSpec(spec));
  std::vector<v1::TrialSpec> trials;
  for (int m = 0; m < spec.models_size(); ++m) {
    const v1::ModelShape shape = ResolveShape(spec, spec.models(m));
    const ParamCounts counts = CountParams(shape);
    const uint64_t tokens_per_step = uint64_t{spec.training().batch_size()} * shape.n_ctx();
    for (int t = 0; t < spec.tokens_size(); ++t) {
      const uint64_t tokens = static_cast<uint64_t>(std::llround(spec.tokens(t)));
      if (tokens < tokens_per_step) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tokens[", t, "]: must be at least one optimiser step (batch_size x n_ctx = ",
            tokens_per_step, " tokens), got ", tokens));
      }
      for (uint64_t seed : spec.seeds()) {
        v1::TrialSpec& trial = trials.emplace_back();
        trial.set_trial_id(TrialId(sweep_id, trials.size() - 1));
        trial.set_sweep_id(std::string(sweep_id));
        *trial.mutable_shape() = shape;
        if (spec.models(m).has_target_params()) {
          trial.set_target_params(spec.models(m).target_params());
        }
        trial.set_tokens(tokens);
        trial.set_seed(seed);
        *trial.mutable_optimizer() = spec.optimizer();
        trial.mutable_optimizer()->set_lr(
            ScaledLearningRate(spec.optimizer(), static_cast<double>(counts.total)));
        *trial.mutable_data() = spec.data();
        *trial.mutable_training() = spec.training();
        trial.set_params(counts.total);
        trial.set_non_embedding_params(counts.non_embedding);
        trial.set_flops(FlopsPerToken(shape, counts.total) * static_cast<double>(tokens));
      }
    }
  }
  return trials;
}

}  // namespace scalelaw::sweeps
