#include "sweeps/spec_validator.h"

#include <algorithm>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/status_macros.h"
#include "sweeps/safe_path.h"
#include "sweeps/spec_defaults.h"

namespace scalelaw::sweeps {
namespace {

absl::Status Invalid(const std::string& field, const std::string& expected, const auto& got) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", expected, ", got ", got));
}

absl::Status Positive(const std::string& field, double value) {
  return value > 0 ? absl::OkStatus() : Invalid(field, "must be > 0", value);
}

absl::Status InRange(const std::string& field, double value, double lo, double hi,
                     bool hi_open = false) {
  const bool ok = value >= lo && (hi_open ? value < hi : value <= hi);
  if (ok) return absl::OkStatus();
  return Invalid(field, absl::StrCat("must be in [", lo, ", ", hi, hi_open ? ")" : "]"), value);
}

absl::Status OneOf(const std::string& field, const std::string& value,
                   std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return absl::OkStatus();
    absl::StrAppend(&list, list.empty() ? "" : " or ", "'", a, "'");
  }
  return Invalid(field, absl::StrCat("must be ", list), absl::StrCat("'", value, "'"));
}

absl::Status ValidateShape(const std::string& field, const v1::ModelShape& shape) {
  SCALELAW_RETURN_IF_ERROR(Positive(field + ".n_layer", shape.n_layer()));
  SCALELAW_RETURN_IF_ERROR(Positive(field + ".d_model", shape.d_model()));
  SCALELAW_RETURN_IF_ERROR(Positive(field + ".n_head", shape.n_head()));
  if (shape.d_model() % shape.n_head() != 0) {
    return Invalid(field + ".n_head",
                   "must divide d_model (" + std::to_string(shape.d_model()) + ")", shape.n_head());
  }
  return absl::OkStatus();
}

absl::Status ValidateModels(const v1::SweepSpec& spec) {
  if (spec.models_size() == 0)
    return absl::InvalidArgumentError("models: must list at least one size");
  for (int i = 0; i < spec.models_size(); ++i) {
    const std::string field = absl::StrCat("models[", i, "]");
    const v1::ModelSize& size = spec.models(i);
    switch (size.size_case()) {
      case v1::ModelSize::kTargetParams:
        SCALELAW_RETURN_IF_ERROR(
            InRange(field + ".target_params", size.target_params(), 1e3, 1e13));
        break;
      case v1::ModelSize::kShape:
        SCALELAW_RETURN_IF_ERROR(ValidateShape(field + ".shape", size.shape()));
        break;
      default:
        return absl::InvalidArgumentError(field + ": expected 'target_params' or 'shape'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOptimizer(const v1::OptimizerConfig& opt) {
  SCALELAW_RETURN_IF_ERROR(InRange("optimizer.lr", opt.lr(), 1e-7, 1.0));
  SCALELAW_RETURN_IF_ERROR(InRange("optimizer.min_lr_ratio", opt.min_lr_ratio(), 0, 1));
  SCALELAW_RETURN_IF_ERROR(InRange("optimizer.warmup_fraction", opt.warmup_fraction(), 0, 1, true));
  SCALELAW_RETURN_IF_ERROR(InRange("optimizer.weight_decay", opt.weight_decay(), 0, 10));
  SCALELAW_RETURN_IF_ERROR(InRange("optimizer.beta1", opt.beta1(), 0, 1, true));
  SCALELAW_RETURN_IF_ERROR(InRange("optimizer.beta2", opt.beta2(), 0, 1, true));
  SCALELAW_RETURN_IF_ERROR(InRange("optimizer.grad_clip", opt.grad_clip(), 0, 1e6));
  SCALELAW_RETURN_IF_ERROR(
      OneOf("optimizer.schedule", opt.schedule(), {"cosine", "linear", "wsd"}));
  if (opt.schedule() == "wsd") {
    SCALELAW_RETURN_IF_ERROR(
        InRange("optimizer.cooldown_fraction", opt.cooldown_fraction(), 0.01, 0.9));
  }
  SCALELAW_RETURN_IF_ERROR(InRange("optimizer.lr_exponent", opt.lr_exponent(), 0, 2));
  return Positive("optimizer.lr_reference_params", opt.lr_reference_params());
}

absl::Status ValidateData(const v1::DataConfig& data) {
  if (data.corpus().empty())
    return absl::InvalidArgumentError("data.corpus: must name a directory");
  SCALELAW_RETURN_IF_ERROR(CheckPathText("data.corpus", data.corpus()));
  SCALELAW_RETURN_IF_ERROR(OneOf("data.tokenizer", data.tokenizer(), {"byte"}));
  return InRange("data.val_fraction", data.val_fraction(), 0.001, 0.5);
}

absl::Status ValidateBatchRule(const v1::TrainingConfig& t) {
  const v1::BatchRule& rule = t.batch_rule();
  if (rule.critical_batch_size() == 0) {
    if (rule.fraction() != 0 || rule.min_batch() != 0 || rule.max_batch() != 0) {
      return absl::InvalidArgumentError(
          "training.batch_rule.critical_batch: required with the batch rule's other fields "
          "(a list of {params, batch} measured critical batch sizes, e.g. from `scalelaw sweep "
          "critical-batch`)");
    }
    return absl::OkStatus();
  }
  for (int i = 0; i < rule.critical_batch_size(); ++i) {
    const std::string field = absl::StrCat("training.batch_rule.critical_batch[", i, "]");
    SCALELAW_RETURN_IF_ERROR(InRange(field + ".params", rule.critical_batch(i).params(), 1, 1e15));
    SCALELAW_RETURN_IF_ERROR(InRange(field + ".batch", rule.critical_batch(i).batch(), 1e-3, 1e9));
  }
  if (rule.fraction() != 0) {
    SCALELAW_RETURN_IF_ERROR(InRange("training.batch_rule.fraction", rule.fraction(), 0.01, 100));
  }
  SCALELAW_RETURN_IF_ERROR(InRange("training.batch_rule.min_batch", rule.min_batch(), 0, 1 << 20));
  SCALELAW_RETURN_IF_ERROR(InRange("training.batch_rule.max_batch", rule.max_batch(), 0, 1 << 20));
  if (rule.max_batch() != 0) {
    const uint32_t step = std::max(t.micro_batches(), 1u);
    const uint32_t lo = std::max(rule.min_batch(), step);
    if (rule.max_batch() < lo) {
      return Invalid("training.batch_rule.max_batch",
                     absl::StrCat("must be at least min_batch and micro_batches (", lo, ")"),
                     rule.max_batch());
    }
    if ((lo + step - 1) / step > rule.max_batch() / step) {
      return Invalid("training.batch_rule.max_batch",
                     absl::StrCat("leaves no multiple of micro_batches (", step,
                                  ") between min_batch (", rule.min_batch(), ") and it"),
                     rule.max_batch());
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTraining(const v1::TrainingConfig& t) {
  SCALELAW_RETURN_IF_ERROR(ValidateBatchRule(t));
  // With a batch rule, batch_size is not used: the rule keeps its batches
  // multiples of micro_batches.
  const bool fixed_batch = t.batch_rule().critical_batch_size() == 0;
  SCALELAW_RETURN_IF_ERROR(InRange("training.batch_size", t.batch_size(), 1, 1 << 20));
  SCALELAW_RETURN_IF_ERROR(InRange("training.micro_batches", t.micro_batches(), 1,
                                   fixed_batch ? t.batch_size() : 1 << 20));
  if (fixed_batch && t.batch_size() % t.micro_batches() != 0) {
    return Invalid("training.micro_batches",
                   absl::StrCat("must divide batch_size (", t.batch_size(), ")"),
                   t.micro_batches());
  }
  SCALELAW_RETURN_IF_ERROR(InRange("training.threads", t.threads(), 1, 1024));
  SCALELAW_RETURN_IF_ERROR(OneOf("training.device", t.device(), {"cpu", "cuda"}));
  SCALELAW_RETURN_IF_ERROR(OneOf("training.precision", t.precision(), {"fp32", "bf16"}));
  SCALELAW_RETURN_IF_ERROR(InRange("training.eval_points", t.eval_points(), 1, 1000));
  SCALELAW_RETURN_IF_ERROR(InRange("training.eval_batches", t.eval_batches(), 1, 100000));
  SCALELAW_RETURN_IF_ERROR(InRange("training.log_every_steps", t.log_every_steps(), 1, 1e9));
  // 0 checkpoints only at the end of a trial (and when a worker is stopped).
  SCALELAW_RETURN_IF_ERROR(
      InRange("training.checkpoint_every_steps", t.checkpoint_every_steps(), 0, 1e9));
  // Workers write <checkpoint_dir>/<trial_id>/ (sweeps/safe_path.h).
  return CheckWritableDirectory("training.checkpoint_dir", t.checkpoint_dir());
}

absl::Status ValidateTokenBudgets(const v1::SweepSpec& spec) {
  if (spec.tokens_size() == 0 && spec.tokens_per_param_size() == 0) {
    return absl::InvalidArgumentError(
        "tokens: must list at least one budget (or tokens_per_param at least one multiple)");
  }
  for (int i = 0; i < spec.tokens_size(); ++i) {
    SCALELAW_RETURN_IF_ERROR(InRange(absl::StrCat("tokens[", i, "]"), spec.tokens(i), 1, 1e16));
  }
  for (int i = 0; i < spec.tokens_per_param_size(); ++i) {
    SCALELAW_RETURN_IF_ERROR(InRange(absl::StrCat("tokens_per_param[", i, "]"),
                                     spec.tokens_per_param(i), 0.01, 1e6));
  }
  return absl::OkStatus();
}

// An IsoFLOP design takes its sizes and tokens from the budgets.
absl::Status ValidateIsoflop(const v1::SweepSpec& spec) {
  const v1::IsoflopPlan& plan = spec.isoflop();
  if (spec.models_size() > 0 || spec.tokens_size() > 0 || spec.tokens_per_param_size() > 0) {
    return absl::InvalidArgumentError(
        "isoflop: sizes and tokens come from isoflop.budgets, min_params and max_params; "
        "remove models, tokens and tokens_per_param");
  }
  if (spec.optimizer().schedule() == "wsd") {
    return Invalid("optimizer.schedule",
                   "must be 'cosine' or 'linear' in an isoflop design (every size has its own "
                   "budget, so there is no shared stable run)",
                   "'wsd'");
  }
  for (int i = 0; i < plan.budgets_size(); ++i) {
    SCALELAW_RETURN_IF_ERROR(
        InRange(absl::StrCat("isoflop.budgets[", i, "]"), plan.budgets(i), 1e6, 1e30));
  }
  SCALELAW_RETURN_IF_ERROR(InRange("isoflop.sizes_per_budget", plan.sizes_per_budget(), 2, 100));
  SCALELAW_RETURN_IF_ERROR(InRange("isoflop.min_params", plan.min_params(), 1e3, 1e13));
  SCALELAW_RETURN_IF_ERROR(InRange("isoflop.max_params", plan.max_params(), 1e3, 1e13));
  if (plan.max_params() <= plan.min_params()) {
    return Invalid("isoflop.max_params",
                   absl::StrCat("must exceed isoflop.min_params (", plan.min_params(), ")"),
                   plan.max_params());
  }
  return OneOf("isoflop.flops", plan.flops(), {"exact", "6n"});
}

// The forecast block's own fields; whether its targets lie beyond the ladder
// needs the planned trials, so PlanSweep checks that.
absl::Status ValidateForecast(const v1::ForecastPlan& plan) {
  if (plan.targets_size() == 0) {
    return absl::InvalidArgumentError(
        "forecast.targets: must list at least one target (a size with tokens, or compute)");
  }
  for (int i = 0; i < plan.targets_size(); ++i) {
    const std::string field = absl::StrCat("forecast.targets[", i, "]");
    const v1::ForecastTarget& target = plan.targets(i);
    // Names as the planner resolves them: an unnamed target is "target<i>".
    const auto name_of = [&plan](int k) {
      return plan.targets(k).name().empty() ? absl::StrCat("target", k) : plan.targets(k).name();
    };
    for (int j = 0; j < i; ++j) {
      if (name_of(i) == name_of(j)) {
        return Invalid(field + ".name", absl::StrCat("must differ from forecast.targets[", j, "]'s"),
                       absl::StrCat("'", name_of(i), "'"));
      }
    }
    if (!target.name().empty()) {
      SCALELAW_RETURN_IF_ERROR(CheckSafeName(field + ".name", target.name()));
    }
    if (target.compute() != 0) {
      if (target.has_size() || target.tokens() != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": give either compute, or a size (target_params or shape) with tokens"));
      }
      SCALELAW_RETURN_IF_ERROR(InRange(field + ".compute", target.compute(), 1e6, 1e30));
      // The shape rule sizes a model by its total count.
      if (plan.param_count() == "non_embedding") {
        return Invalid(field + ".compute",
                       "needs forecast.param_count 'total' (compute targets are sized from N_opt "
                       "as a total parameter count)",
                       "param_count 'non_embedding'");
      }
      continue;
    }
    if (!target.has_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": needs target_params or shape (with tokens), or compute"));
    }
    if (target.size().has_shape()) {
      SCALELAW_RETURN_IF_ERROR(ValidateShape(field + ".shape", target.size().shape()));
    } else {
      SCALELAW_RETURN_IF_ERROR(
          InRange(field + ".target_params", target.size().target_params(), 1e3, 1e13));
    }
    SCALELAW_RETURN_IF_ERROR(InRange(field + ".tokens", target.tokens(), 1, 1e16));
  }
  SCALELAW_RETURN_IF_ERROR(OneOf("forecast.law", plan.law(), {"chinchilla"}));
  SCALELAW_RETURN_IF_ERROR(InRange("forecast.bootstrap", plan.bootstrap(), 20, 100000));
  SCALELAW_RETURN_IF_ERROR(InRange("forecast.level", plan.level(), 0.5, 1, /*hi_open=*/true));
  return OneOf("forecast.param_count", plan.param_count(), {"total", "non_embedding"});
}

// A value that goes into an sbatch directive or a Kubernetes manifest as one
// token: no whitespace, quotes, backslashes or control characters.
absl::Status OneToken(const std::string& field, const std::string& value) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '\'' || c == '"' || c == '\\' || c == '`' || c == '$') {
      return Invalid(field, "must be one word without spaces, quotes, '$' or control characters",
                     absl::StrCat("'", value, "'"));
    }
  }
  return absl::OkStatus();
}

// A Kubernetes object name: a DNS-1123 label (namespaces: at most 63
// characters, no dots) or subdomain (Secrets, service accounts: at most 253):
// lower-case letters, digits and '-' (and '.'), starting and ending with a
// letter or digit. Empty means "not set". Checked here so a bad name fails at
// submit, not when someone applies the Job.
absl::Status KubernetesName(const std::string& field, const std::string& value, bool label) {
  if (value.empty()) return absl::OkStatus();
  const size_t max_length = label ? 63 : 253;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = value.size() <= max_length && alnum(value.front()) && alnum(value.back());
  for (char c : value) ok = ok && (alnum(c) || c == '-' || (!label && c == '.'));
  if (ok) return absl::OkStatus();
  return Invalid(field,
                 absl::StrCat("must be a Kubernetes name: lower-case letters, digits and '-'",
                              label ? "" : " or '.'", ", starting and ending with a letter or "
                              "digit, at most ", max_length, " characters"),
                 absl::StrCat("'", value, "'"));
}

// Slurm's --mem: a whole number with an optional unit K, M, G or T.
absl::Status SlurmMemory(const std::string& field, const std::string& value) {
  size_t digits = 0;
  while (digits < value.size() && std::isdigit(static_cast<unsigned char>(value[digits]))) {
    ++digits;
  }
  const std::string unit = value.substr(digits);
  if (digits == 0 || !(unit.empty() || unit == "K" || unit == "M" || unit == "G" || unit == "T")) {
    return Invalid(field, "must be a whole number with an optional unit K, M, G or T (e.g. 16G)",
                   absl::StrCat("'", value, "'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLauncher(const v1::LauncherConfig& launcher) {
  // Empty strings are the defaults of sweeps/spec_defaults.cc (a spec built
  // in code may leave them unset).
  const std::string kind = launcher.kind().empty() ? "local" : launcher.kind();
  SCALELAW_RETURN_IF_ERROR(OneOf("launcher.kind", kind, {"local", "slurm", "kubernetes"}));
  SCALELAW_RETURN_IF_ERROR(InRange("launcher.workers", launcher.workers(), 0, 10000));
  const v1::Resources& resources = launcher.resources();
  SCALELAW_RETURN_IF_ERROR(InRange("launcher.resources.gpus", resources.gpus(), 0, 64));
  SCALELAW_RETURN_IF_ERROR(InRange("launcher.resources.cpus", resources.cpus(), 0, 4096));
  if (!resources.memory().empty()) {
    SCALELAW_RETURN_IF_ERROR(SlurmMemory("launcher.resources.memory", resources.memory()));
  }
  // A year; Slurm's own limit is larger, but a longer job is surely a typo.
  SCALELAW_RETURN_IF_ERROR(
      InRange("launcher.resources.time_limit_minutes", resources.time_limit_minutes(), 0, 525600));
  SCALELAW_RETURN_IF_ERROR(
      OneToken("launcher.coordinator_address", launcher.coordinator_address()));
  if (!launcher.coordinator_address().empty() &&
      launcher.coordinator_address().rfind(':') == std::string::npos) {
    return Invalid("launcher.coordinator_address", "must be host:port",
                   absl::StrCat("'", launcher.coordinator_address(), "'"));
  }

  const v1::SlurmConfig& slurm = launcher.slurm();
  SCALELAW_RETURN_IF_ERROR(OneToken("launcher.slurm.partition", slurm.partition()));
  SCALELAW_RETURN_IF_ERROR(OneToken("launcher.slurm.account", slurm.account()));
  SCALELAW_RETURN_IF_ERROR(OneOf("launcher.slurm.signal",
                                 slurm.signal().empty() ? "TERM" : slurm.signal(),
                                 {"TERM", "INT", "HUP", "USR1", "USR2", "QUIT", "ALRM", "XCPU"}));
  // sbatch --signal takes 0..65535 seconds.
  SCALELAW_RETURN_IF_ERROR(
      InRange("launcher.slurm.signal_seconds", slurm.signal_seconds(), 0, 65535));
  if (resources.time_limit_minutes() > 0 &&
      slurm.signal_seconds() >= 60.0 * resources.time_limit_minutes()) {
    return Invalid("launcher.slurm.signal_seconds",
                   absl::StrCat("must be less than the time limit (launcher.resources."
                                "time_limit_minutes = ",
                                resources.time_limit_minutes(), " minutes)"),
                   slurm.signal_seconds());
  }
  for (int i = 0; i < slurm.extra_args_size(); ++i) {
    const std::string field = absl::StrCat("launcher.slurm.extra_args[", i, "]");
    const std::string& arg = slurm.extra_args(i);
    if (arg.size() < 2 || arg[0] != '-') {
      return Invalid(field, "must be an sbatch option starting with '-' (e.g. --qos=high)",
                     absl::StrCat("'", arg, "'"));
    }
    SCALELAW_RETURN_IF_ERROR(OneToken(field, arg));
  }

  const v1::KubernetesConfig& kubernetes = launcher.kubernetes();
  SCALELAW_RETURN_IF_ERROR(OneToken("launcher.kubernetes.image", kubernetes.image()));
  SCALELAW_RETURN_IF_ERROR(
      KubernetesName("launcher.kubernetes.namespace", kubernetes.namespace_(), /*label=*/true));
  SCALELAW_RETURN_IF_ERROR(KubernetesName("launcher.kubernetes.service_account",
                                          kubernetes.service_account(), /*label=*/false));
  SCALELAW_RETURN_IF_ERROR(KubernetesName("launcher.kubernetes.token_secret",
                                          kubernetes.token_secret(), /*label=*/false));
  SCALELAW_RETURN_IF_ERROR(KubernetesName("launcher.kubernetes.tls_secret",
                                          kubernetes.tls_secret(), /*label=*/false));
  if (!kubernetes.image_pull_policy().empty()) {
    SCALELAW_RETURN_IF_ERROR(OneOf("launcher.kubernetes.image_pull_policy",
                                   kubernetes.image_pull_policy(),
                                   {"Always", "IfNotPresent", "Never"}));
  }
  if (kind == "kubernetes" && kubernetes.image().empty()) {
    return absl::InvalidArgumentError(
        "launcher.kubernetes.image: required with launcher.kind kubernetes (the worker image, "
        "e.g. registry.example.org/scalelaw:0.3)");
  }
  return absl::OkStatus();
}

// The most trials the spec can plan, from the sizes of its lists alone (an
// IsoFLOP design may plan fewer: coinciding shapes are planned once), so a
// grid too large is refused before any trial is built.
double PlannedTrialsAtMost(const v1::SweepSpec& spec) {
  const double seeds = spec.seeds_size();
  const double budgets = spec.tokens_size() + spec.tokens_per_param_size();
  double trials = 0;
  if (spec.isoflop().budgets_size() > 0) {
    trials = spec.isoflop().budgets_size() *
             static_cast<double>(spec.isoflop().sizes_per_budget()) * seeds;
  } else if (spec.optimizer().schedule() == "wsd") {
    trials = spec.models_size() * (budgets + 1) * seeds;  // a stable run and its branches
  } else {
    trials = spec.models_size() * budgets * seeds;
  }
  return trials + spec.forecast().targets_size();
}

absl::Status ValidateTrialCount(const v1::SweepSpec& spec) {
  const double trials = PlannedTrialsAtMost(spec);
  if (trials <= static_cast<double>(limits::kMaxTrialsPerSweep)) return absl::OkStatus();
  const bool isoflop = spec.isoflop().budgets_size() > 0;
  return absl::InvalidArgumentError(absl::StrCat(
      isoflop ? "isoflop.budgets x isoflop.sizes_per_budget x seeds"
              : "models x (tokens + tokens_per_param) x seeds",
      ": the sweep would plan ",
      trials < 1e18 ? absl::StrCat(static_cast<uint64_t>(trials)) : absl::StrCat(trials),
      " trials, more than the ", limits::kMaxTrialsPerSweep,
      " one sweep may have; split it into several sweeps"));
}

}  // namespace

absl::Status ValidateSweepSpec(const v1::SweepSpec& spec) {
  if (spec.name().empty()) return absl::InvalidArgumentError("name: must not be empty");
  if (spec.name().size() > limits::kMaxSweepNameBytes) {
    return Invalid("name", absl::StrCat("must be at most ", limits::kMaxSweepNameBytes, " bytes"),
                   absl::StrCat(spec.name().size(), " bytes"));
  }
  SCALELAW_RETURN_IF_ERROR(CheckSafeName("name", spec.name()));
  SCALELAW_RETURN_IF_ERROR(InRange("context", spec.context(), 2, 1 << 20));
  if (spec.isoflop().budgets_size() > 0) {
    SCALELAW_RETURN_IF_ERROR(ValidateIsoflop(spec));
  } else {
    SCALELAW_RETURN_IF_ERROR(ValidateModels(spec));
    SCALELAW_RETURN_IF_ERROR(ValidateTokenBudgets(spec));
  }
  if (spec.seeds_size() == 0)
    return absl::InvalidArgumentError("seeds: must list at least one seed");
  SCALELAW_RETURN_IF_ERROR(ValidateTrialCount(spec));
  SCALELAW_RETURN_IF_ERROR(InRange("max_attempts", spec.max_attempts(), 1, 100));
  SCALELAW_RETURN_IF_ERROR(ValidateOptimizer(spec.optimizer()));
  SCALELAW_RETURN_IF_ERROR(ValidateData(spec.data()));
  SCALELAW_RETURN_IF_ERROR(ValidateTraining(spec.training()));
  if (spec.has_forecast()) SCALELAW_RETURN_IF_ERROR(ValidateForecast(spec.forecast()));
  return ValidateLauncher(spec.launcher());
}

absl::Status ValidateSweepPathRoots(const v1::SweepSpec& spec,
                                    const std::vector<std::string>& allowed_roots) {
  if (allowed_roots.empty()) return absl::OkStatus();
  std::error_code error;
  const std::string base = std::filesystem::current_path(error).string();
  SCALELAW_RETURN_IF_ERROR(
      CheckUnderRoots("data.corpus", spec.data().corpus(), allowed_roots, base));
  if (spec.training().checkpoint_dir().empty()) return absl::OkStatus();
  return CheckUnderRoots("training.checkpoint_dir", spec.training().checkpoint_dir(),
                         allowed_roots, base);
}

}  // namespace scalelaw::sweeps
