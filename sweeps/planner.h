// Expands a validated sweep spec into its trials. PlanSweep picks the design:
//   isoflop.budgets given      -> PlanIsoflop (Chinchilla approach 2)
//   optimizer.schedule "wsd"   -> PlanWsd (one stable run per size + cooldowns)
//   otherwise                  -> PlanGrid (sizes x token budgets x seeds)
// Trial ids are "<sweep_id>-t<index>" in plan order, so planning the same spec
// twice gives the same ids.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "scalelaw/v1/coordinator.pb.h"
#include "sweeps/trial_builder.h"

namespace scalelaw::sweeps {

absl::StatusOr<std::vector<v1::TrialSpec>> PlanSweep(const v1::SweepSpec& spec,
                                                     std::string_view sweep_id);

// Every model size x token budget x seed, in that order. A size's budgets are
// `tokens` followed by `tokens_per_param` multiples of its parameter count.
absl::StatusOr<std::vector<v1::TrialSpec>> PlanGrid(const v1::SweepSpec& spec,
                                                    std::string_view sweep_id);

// Per budget C (in order), per size (small to large), per seed: the tokens
// that spend C on that size, rounded to whole optimiser steps. Sizes whose
// shapes coincide after rounding are planned once. trial.budget() is C.
absl::StatusOr<std::vector<v1::TrialSpec>> PlanIsoflop(const v1::SweepSpec& spec,
                                                       std::string_view sweep_id);

// Per size and seed: the stable run (constant lr after warmup) to the latest
// branch point, then one cooldown branch per token budget (ascending). A
// branch of D tokens leaves the stable run after S - round(f S) steps, S the
// steps of D and f optimizer.cooldown_fraction, and decays over the rest.
// Warmup is warmup_fraction of the smallest budget, shared by the whole row.
absl::StatusOr<std::vector<v1::TrialSpec>> PlanWsd(const v1::SweepSpec& spec,
                                                   std::string_view sweep_id);

// The trials of spec.forecast's targets, to follow `ladder` (the planned
// trials they are forecast from). A size target is planned as a ladder trial
// of its size would be; a compute target as a placeholder (tokens 0, flops =
// its compute) that the coordinator sizes from the fit. InvalidArgument,
// naming the field, for a ladder with fewer than 3 sizes or 5 fit points and
// for a target whose compute (6ND) does not exceed every ladder trial's.
absl::StatusOr<std::vector<v1::TrialSpec>> PlanForecastTargets(
    const v1::SweepSpec& spec, std::string_view sweep_id,
    const std::vector<v1::TrialSpec>& ladder);

// A target's name: its own, or "target<index>".
std::string ForecastTargetName(const v1::ForecastPlan& plan, int index);

// The token budgets of one size (total parameter count `params`): `tokens`
// then the `tokens_per_param` multiples, rounded to whole tokens.
std::vector<uint64_t> TokenBudgets(const v1::SweepSpec& spec, uint64_t params);

// The spec field that TokenBudgets' entry `index` came from, e.g. "tokens[1]".
std::string BudgetField(const v1::SweepSpec& spec, size_t index);

}  // namespace scalelaw::sweeps
