// The pieces every planner shares: a size's shape, trial ids, and one trial
// built from (size, tokens, seed) with its size-scaled learning rate and its
// formula counts and FLOPs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "scalelaw/v1/coordinator.pb.h"
#include "sweeps/accounting.h"

namespace scalelaw::sweeps {

// The shape of a spec's size: explicit shapes get the spec's context and the
// tokenizer's vocabulary where they leave them 0; target counts go through
// ShapeForParams.
v1::ModelShape ResolveShape(const v1::SweepSpec& spec, const v1::ModelSize& size);

// "<sweep_id>-t<index>", the index zero-padded to 3 digits, so planning the
// same spec twice gives the same ids.
std::string TrialId(std::string_view sweep_id, size_t index);

// lr(N) = lr * (N / lr_reference_params)^(-lr_exponent), N the total count.
double ScaledLearningRate(const v1::OptimizerConfig& optimizer, double params);

// Sequences per optimiser step for a model of `params` parameters:
// training.batch_size, or with training.batch_rule the fraction of the
// critical batch size fitted through its measured points (a power law in N,
// least squares in log-log; one point: a constant), rounded to a multiple of
// micro_batches and clamped to [min_batch, max_batch].
uint32_t BatchSizeFor(const v1::TrainingConfig& training, double params);

// Tokens per optimiser step of `shape` under `training` (BatchSizeFor x n_ctx).
uint64_t TokensPerStep(const v1::TrainingConfig& training, const v1::ModelShape& shape);

// Optimiser steps of `tokens` tokens in steps of `tokens_per_step`, rounded up.
uint64_t StepsFor(uint64_t tokens, uint64_t tokens_per_step);

// A trial of `shape` trained on `tokens` tokens with `seed`, everything else
// from `spec`. The id is left for the planner to set.
v1::TrialSpec MakeTrial(const v1::SweepSpec& spec, std::string_view sweep_id,
                        const v1::ModelShape& shape, double target_params, uint64_t tokens,
                        uint64_t seed);

// "target" for a forecast target, "stable" or "cooldown" for WSD trials,
// "run" for a whole run.
const char* TrialRoleName(const v1::TrialSpec& trial);

// Compute the trial spends when it runs: its FLOPs, except for a WSD cooldown
// branch, which starts from its stable run's checkpoint and so spends only
// its cooldown's share.
double TrialCost(const v1::TrialSpec& trial);

}  // namespace scalelaw::sweeps
