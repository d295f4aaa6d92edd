// How fits read on the terminal and in JSON: the renderers of fit_output.h.
#include "cli/fit_output.h"

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fitting/provenance.h"

namespace scalelaw::cli {

using json = nlohmann::ordered_json;

json IntervalJson(const fitting::Interval& interval) { return {interval.lo, interval.hi}; }

json ParamsJson(const fitting::ChinchillaParams& params) {
  return {{"E", params.E},
          {"A", params.A},
          {"B", params.B},
          {"alpha", params.alpha},
          {"beta", params.beta}};
}

json ResidualsJson(const std::vector<std::string>& ids, const std::vector<double>& residuals) {
  json out = json::array();
  for (size_t i = 0; i < ids.size(); ++i) {
    out.push_back({{"id", ids[i]}, {"log_residual", residuals[i]}});
  }
  return out;
}

// The solver's account, the same for every least-squares law: points, objective,
// convergence, then `starts` (a multi-start fit's), then exclusions and residuals.
template <typename Fit>
void AppendSolverJson(const Fit& fit, const json& starts, json* out) {
  (*out)["n_points"] = fit.n_points;
  (*out)["objective"] = fit.objective;
  (*out)["termination"] = fit.termination;
  (*out)["converged"] = fit.converged;
  (*out)["iterations"] = fit.iterations;
  (*out)["param_count"] = fit.param_count;
  (*out)["huber_delta"] = fit.huber_delta;
  for (const auto& [key, value] : starts.items()) (*out)[key] = value;
  (*out)["excluded"] = fit.excluded_ids;
  (*out)["residuals"] = ResidualsJson(fit.residual_ids, fit.residuals);
}

std::string ExcludedText(const std::vector<std::string>& excluded) {
  return excluded.empty() ? "none" : absl::StrJoin(excluded, ", ");
}

std::string OptimalTable(const std::vector<fitting::ComputeOptimal>& rows) {
  std::string out = absl::StrFormat("%-12s %-12s %-12s %-10s %-10s\n", "compute", "params",
                                    "tokens", "loss", "tokens/param");
  for (const fitting::ComputeOptimal& row : rows) {
    absl::StrAppendFormat(&out, "%-12.4g %-12.4g %-12.4g %-10.5f %-10.2f\n", row.compute,
                          row.params, row.tokens, row.loss, row.tokens_per_param);
  }
  return out;
}

void AddMle(const fitting::ChinchillaFitResult& fit, const fitting::ChinchillaMleResult& mle,
            json* out) {
  (*out)["objective_kind"] = "mle";
  (*out)["huber_params"] = ParamsJson(fit.params);
  (*out)["params"] = ParamsJson(mle.params);
  (*out)["sigma"] = mle.sigma;
  (*out)["huber_c"] = mle.huber_c;
  (*out)["negative_log_likelihood"] = mle.negative_log_likelihood;
  (*out)["mle_termination"] = mle.termination;
  (*out)["mle_converged"] = mle.converged;
  (*out)["residuals"] = ResidualsJson(mle.residual_ids, mle.residuals);
}

std::string MleTable(const fitting::ChinchillaMleResult& mle) {
  const fitting::ChinchillaParams& p = mle.params;
  std::string out = absl::StrFormat(
      "maximum likelihood (Huber density, c = %g sigma): E = %.6g, A = %.6g, B = %.6g, "
      "alpha = %.6g, beta = %.6g\n",
      mle.huber_c, p.E, p.A, p.B, p.alpha, p.beta);
  absl::StrAppendFormat(&out,
                        "  sigma       %.6g (residual scale of log loss; 95%% of new runs within "
                        "x/ %.4f of the law)\n",
                        mle.sigma,
                        std::exp(fitting::HuberDensityHalfWidth(mle.huber_c, 0.95) * mle.sigma));
  absl::StrAppendFormat(&out, "  -log lik.   %.12g\n", mle.negative_log_likelihood);
  absl::StrAppendFormat(&out, "  solver      %s after %d iterations\n", mle.termination,
                        mle.iterations);
  return out;
}

json FitJson(const fitting::ChinchillaFitResult& fit,
             const fitting::ChinchillaBootstrap* bootstrap) {
  json out = {{"law", "chinchilla"}, {"params", ParamsJson(fit.params)}};
  AppendSolverJson(
      fit,
      {{"n_starts", fit.n_starts},
       {"n_starts_converged", fit.n_starts_converged},
       {"best_start",
        {{"index", fit.best_start_index},
         {"theta", std::vector<double>(fit.best_start.begin(), fit.best_start.end())}}}},
      &out);
  if (bootstrap != nullptr) {
    out["intervals"] = {{"E", IntervalJson(bootstrap->E)},
                        {"A", IntervalJson(bootstrap->A)},
                        {"B", IntervalJson(bootstrap->B)},
                        {"alpha", IntervalJson(bootstrap->alpha)},
                        {"beta", IntervalJson(bootstrap->beta)}};
    out["bootstrap"] = {{"resamples", bootstrap->resamples},
                        {"failed", bootstrap->failed},
                        {"level", bootstrap->level},
                        {"unit", fitting::ResampleUnitName(bootstrap->unit)}};
    if (bootstrap->failed > 0) out["bootstrap"]["first_failure"] = bootstrap->first_failure;
  }
  return out;
}

json FitJson(const fitting::PowerLawFitResult& fit) {
  json out = {{"law", "power"},
              {"x", fitting::PowerLawAxisName(fit.axis)},
              {"params", {{"E", fit.params.E}, {"A", fit.params.A}, {"alpha", fit.params.alpha}}}};
  AppendSolverJson(fit, json::object(), &out);
  return out;
}

json OptimalJson(const fitting::ComputeOptimal& optimal) {
  return {{"compute", optimal.compute},
          {"params", optimal.params},
          {"tokens", optimal.tokens},
          {"loss", optimal.loss},
          {"tokens_per_param", optimal.tokens_per_param},
          {"method", optimal.method}};
}

std::string FitTable(const fitting::ChinchillaFitResult& fit,
                     const fitting::ChinchillaBootstrap* bootstrap) {
  const fitting::ChinchillaParams& p = fit.params;
  std::string out =
      "Chinchilla approach 3 (Hoffmann et al. 2022): L(N, D) = E + A/N^alpha + B/D^beta\n";
  absl::StrAppendFormat(&out, "  points      %d (excluded: %s)\n", fit.n_points,
                        ExcludedText(fit.excluded_ids));
  absl::StrAppendFormat(&out, "  param count %s\n",
                        fit.param_count.empty() ? "as given in the CSV" : fit.param_count);
  const auto row = [&](const char* name, double value, const fitting::Interval* interval) {
    absl::StrAppendFormat(&out, "  %-11s %-12.6g", name, value);
    if (interval != nullptr)
      absl::StrAppendFormat(&out, " [%.6g, %.6g]", interval->lo, interval->hi);
    out += "\n";
  };
  const bool b = bootstrap != nullptr;
  if (b) {
    absl::StrAppendFormat(&out, "  %-11s %-12s  %g%% bootstrap interval (%d resamples by %s", "",
                          "", 100 * bootstrap->level, bootstrap->resamples,
                          fitting::ResampleUnitName(bootstrap->unit));
    if (bootstrap->failed > 0) {
      absl::StrAppendFormat(&out, "; %d failed: %s", bootstrap->failed, bootstrap->first_failure);
    }
    out += ")\n";
  }
  row("E", p.E, b ? &bootstrap->E : nullptr);
  row("A", p.A, b ? &bootstrap->A : nullptr);
  row("B", p.B, b ? &bootstrap->B : nullptr);
  row("alpha", p.alpha, b ? &bootstrap->alpha : nullptr);
  row("beta", p.beta, b ? &bootstrap->beta : nullptr);
  absl::StrAppendFormat(&out, "  N_opt ~ C^%.4f, D_opt ~ C^%.4f\n", p.beta / (p.alpha + p.beta),
                        p.alpha / (p.alpha + p.beta));
  absl::StrAppendFormat(&out, "  objective   %.12g (sum of Huber, delta = %g, log residuals)\n",
                        fit.objective, fit.huber_delta);
  absl::StrAppendFormat(&out,
                        "  solver      %s after %d iterations; start %d of %d won, %d of %d "
                        "starts converged\n",
                        fit.termination, fit.iterations, fit.best_start_index, fit.n_starts,
                        fit.n_starts_converged, fit.n_starts);
  return out;
}

std::string FitTable(const fitting::PowerLawFitResult& fit) {
  const char* x = fitting::PowerLawAxisName(fit.axis);
  std::string out = absl::StrFormat("power law with offset: L(%s) = E + A*%s^-alpha\n", x, x);
  absl::StrAppendFormat(&out, "  points      %d (excluded: %s)\n", fit.n_points,
                        ExcludedText(fit.excluded_ids));
  absl::StrAppendFormat(&out, "  E           %.6g\n", fit.params.E);
  absl::StrAppendFormat(&out, "  A           %.6g\n", fit.params.A);
  absl::StrAppendFormat(&out, "  alpha       %.6g\n", fit.params.alpha);
  absl::StrAppendFormat(&out, "  objective   %.12g (sum of Huber, delta = %g, log residuals)\n",
                        fit.objective, fit.huber_delta);
  absl::StrAppendFormat(&out, "  solver      %s after %d iterations\n", fit.termination,
                        fit.iterations);
  return out;
}

json FitJson(const fitting::IsoflopFitResult& fit, const fitting::IsoflopBootstrap* bootstrap) {
  json budgets = json::array();
  for (const fitting::IsoflopBudget& budget : fit.budgets) {
    budgets.push_back({{"compute", budget.compute},
                       {"params_opt", budget.params_opt},
                       {"tokens_opt", budget.tokens_opt},
                       {"loss_opt", budget.loss_opt},
                       {"n_points", budget.n_points},
                       {"interior", budget.interior}});
  }
  json out = {
      {"law", "isoflop"},
      {"params", {{"a", fit.a}, {"b", fit.b}}},
      {"coefficients", {{"params", fit.params_coefficient}, {"tokens", fit.tokens_coefficient}}},
      {"budgets", budgets},
      {"skipped_budgets", fit.skipped_budgets},
      {"n_points", fit.n_points},
      {"excluded", fit.excluded_ids}};
  if (bootstrap != nullptr) {
    out["intervals"] = {{"a", IntervalJson(bootstrap->a)}, {"b", IntervalJson(bootstrap->b)}};
    out["bootstrap"] = {{"resamples", bootstrap->resamples},
                        {"failed", bootstrap->failed},
                        {"level", bootstrap->level},
                        {"unit", "point within budget"}};
    if (bootstrap->failed > 0) out["bootstrap"]["first_failure"] = bootstrap->first_failure;
  }
  return out;
}

std::string FitTable(const fitting::IsoflopFitResult& fit,
                     const fitting::IsoflopBootstrap* bootstrap) {
  std::string out =
      "Chinchilla approach 2 (Hoffmann et al. 2022): IsoFLOP parabolas in log N per budget\n";
  absl::StrAppendFormat(&out, "  points      %d (excluded: %s)\n", fit.n_points,
                        ExcludedText(fit.excluded_ids));
  absl::StrAppendFormat(&out, "  N_opt = %.4g * C^%.4f", fit.params_coefficient, fit.a);
  if (bootstrap != nullptr)
    absl::StrAppendFormat(&out, "  a in [%.4f, %.4f]", bootstrap->a.lo, bootstrap->a.hi);
  absl::StrAppendFormat(&out, "\n  D_opt = %.4g * C^%.4f", fit.tokens_coefficient, fit.b);
  if (bootstrap != nullptr)
    absl::StrAppendFormat(&out, "  b in [%.4f, %.4f]", bootstrap->b.lo, bootstrap->b.hi);
  out += "\n";
  if (bootstrap != nullptr) {
    absl::StrAppendFormat(&out,
                          "  %g%% bootstrap intervals: %d resamples within budgets, %d failed%s\n",
                          100 * bootstrap->level, bootstrap->resamples, bootstrap->failed,
                          bootstrap->failed > 0 ? ": " + bootstrap->first_failure : "");
  }
  absl::StrAppendFormat(&out, "  %-12s %-6s %-12s %-12s %-10s\n", "compute", "runs", "params_opt",
                        "tokens_opt", "loss_opt");
  for (const fitting::IsoflopBudget& budget : fit.budgets) {
    absl::StrAppendFormat(&out, "  %-12.4g %-6d %-12.4g %-12.4g %-10.5f%s\n", budget.compute,
                          budget.n_points, budget.params_opt, budget.tokens_opt, budget.loss_opt,
                          budget.interior ? "" : "  (vertex outside the sampled sizes)");
  }
  if (!fit.skipped_budgets.empty()) {
    absl::StrAppendFormat(&out, "  skipped %d budget(s) with < 3 sizes or no minimum\n",
                          fit.skipped_budgets.size());
  }
  return out;
}

absl::StatusOr<json> ProvenanceJson(const std::string& input, json options) {
  absl::StatusOr<std::string> sha256 = fitting::Sha256OfFile(input);
  if (!sha256.ok()) return sha256.status();
  return json{{"input", input},
              {"sha256", *sha256},
              {"options", std::move(options)},
              {"code_version", fitting::CodeVersion()},
              {"time", fitting::Iso8601Utc(std::chrono::system_clock::now())}};
}

json SweepProvenanceJson(const std::string& sweep_id, const std::string& source,
                         const std::vector<std::string>& point_ids, json options) {
  return json{{"input", absl::StrCat("sweep:", sweep_id)},
              {"source", source},
              {"point_ids", point_ids},
              {"options", std::move(options)},
              {"code_version", fitting::CodeVersion()},
              {"time", fitting::Iso8601Utc(std::chrono::system_clock::now())}};
}

json ExtrapolationJson(const ExtrapolationReport& report) {
  if (!report.check.has_value()) {
    return {{"held_out", 0}, {"requested", report.requested}, {"skipped", report.skipped}};
  }
  const fitting::ExtrapolationCheck& check = *report.check;
  json points = json::array();
  for (const fitting::ExtrapolationPoint& point : check.points) {
    points.push_back({{"id", point.id},
                      {"compute", point.compute},
                      {"actual", point.actual},
                      {"predicted", point.predicted},
                      {"relative_error", point.relative_error}});
  }
  return {{"held_out", check.held_out},
          {"points", points},
          {"max_relative_error", check.max_relative_error},
          {"refit_params", ParamsJson(check.refit.params)},
          {"refit_objective", check.refit.objective},
          {"refit_converged", check.refit.converged}};
}

std::string ExtrapolationTable(const ExtrapolationReport& report) {
  if (!report.check.has_value()) {
    return absl::StrCat("extrapolation check: skipped, ", report.skipped, "\n");
  }
  const fitting::ExtrapolationCheck& check = *report.check;
  std::string out = absl::StrFormat(
      "extrapolation check: refit without the %d largest-compute runs (alpha = %.4f, beta = "
      "%.4f), then predict them\n",
      check.held_out, check.refit.params.alpha, check.refit.params.beta);
  absl::StrAppendFormat(&out, "  %-16s %-12s %-10s %-10s %-10s\n", "id", "compute", "actual",
                        "predicted", "rel. error");
  for (const fitting::ExtrapolationPoint& point : check.points) {
    absl::StrAppendFormat(&out, "  %-16s %-12.4g %-10.5f %-10.5f %-10.4f\n", point.id,
                          point.compute, point.actual, point.predicted, point.relative_error);
  }
  absl::StrAppendFormat(&out, "  max relative error %.4f\n", check.max_relative_error);
  return out;
}

json RolloutJson(const fitting::RolloutCheck& check) {
  json folds = json::array();
  int folds_run = 0;
  for (const fitting::RolloutFold& fold : check.folds) {
    json out = {{"rank", fold.rank},
                {"compute", fold.compute},
                {"n_held_out", fold.n_held_out},
                {"n_fitted", fold.n_fitted},
                {"n_sizes", fold.n_sizes}};
    if (!fold.skipped.empty()) {
      out["skipped"] = fold.skipped;
      out["runs"] = json::array();
      folds.push_back(std::move(out));
      continue;
    }
    ++folds_run;
    out["params"] = ParamsJson(fold.fit.params);
    out["converged"] = fold.fit.converged;
    out["objective"] = fold.fit.objective;
    out["bootstrap"] = {{"resamples", fold.bootstrap_resamples}, {"failed", fold.bootstrap_failed}};
    out["residual_scale"] = fold.residual_scale;
    json runs = json::array();
    for (const fitting::RolloutRun& run : fold.runs) {
      runs.push_back({{"id", run.id},
                      {"params", run.params},
                      {"tokens", run.tokens},
                      {"compute", run.compute},
                      {"actual", run.actual},
                      {"predicted", run.predicted},
                      {"parameter_interval", IntervalJson(run.parameter_interval)},
                      {"prediction_interval", IntervalJson(run.prediction_interval)},
                      {"relative_error", run.relative_error},
                      {"inside", run.inside}});
    }
    out["runs"] = std::move(runs);
    folds.push_back(std::move(out));
  }
  return {{"budgets", check.budgets},
          {"n_budgets", check.n_budgets},
          {"level", check.level},
          {"folds", std::move(folds)},
          {"summary",
           {{"n_predicted", check.n_predicted},
            {"n_inside", check.n_inside},
            {"coverage", check.coverage},
            {"median_abs_relative_error", check.median_abs_relative_error},
            {"folds_run", folds_run},
            {"folds_skipped", static_cast<int>(check.folds.size()) - folds_run}}}};
}

std::string RolloutTable(const fitting::RolloutCheck& check) {
  std::string out = absl::StrFormat(
      "rollout (leave-future-out): each of the %d largest of %d compute budgets predicted by a "
      "fit of the smaller ones, with %g%% bootstrap prediction intervals\n",
      check.budgets, check.n_budgets, 100 * check.level);
  int folds_run = 0;
  for (const fitting::RolloutFold& fold : check.folds) {
    absl::StrAppendFormat(&out,
                          "  fold %d: budget %.4g FLOPs, %d run(s) held out, %d fitted (%d sizes)",
                          fold.rank, fold.compute, fold.n_held_out, fold.n_fitted, fold.n_sizes);
    if (!fold.skipped.empty()) {
      absl::StrAppendFormat(&out, ": skipped, %s\n", fold.skipped);
      continue;
    }
    ++folds_run;
    absl::StrAppendFormat(&out,
                          ": alpha = %.4f, beta = %.4f%s, residual scale %.4g, %d resamples "
                          "(%d failed)\n",
                          fold.fit.params.alpha, fold.fit.params.beta,
                          fold.fit.converged ? "" : " (not converged)", fold.residual_scale,
                          fold.bootstrap_resamples, fold.bootstrap_failed);
    absl::StrAppendFormat(&out, "    %-14s %-10s %-10s %-10s %-9s %-9s %-19s %-10s %s\n", "id",
                          "params", "tokens", "compute", "actual", "predicted",
                          "prediction interval", "rel. error", "inside");
    for (const fitting::RolloutRun& run : fold.runs) {
      absl::StrAppendFormat(
          &out, "    %-14s %-10.4g %-10.4g %-10.4g %-9.5f %-9.5f %-19s %-+10.4f %s\n", run.id,
          run.params, run.tokens, run.compute, run.actual, run.predicted,
          absl::StrFormat("[%.4f, %.4f]", run.prediction_interval.lo, run.prediction_interval.hi),
          run.relative_error, run.inside ? "yes" : "no");
    }
  }
  if (check.n_predicted == 0) {
    absl::StrAppendFormat(&out, "  summary: no fold ran (%zu skipped)\n", check.folds.size());
    return out;
  }
  absl::StrAppendFormat(&out,
                        "  summary: %d run(s) predicted in %d of %zu folds; median |rel. error| "
                        "%.4f; coverage %d/%d = %.3f of the %g%% prediction intervals\n",
                        check.n_predicted, folds_run, check.folds.size(),
                        check.median_abs_relative_error, check.n_inside, check.n_predicted,
                        check.coverage, 100 * check.level);
  return out;
}

json FitJson(const fitting::KaplanFitResult& fit) {
  json out = {{"law", "kaplan"},
              {"params",
               {{"N_c", fit.params.N_c},
                {"D_c", fit.params.D_c},
                {"alpha_N", fit.params.alpha_N},
                {"alpha_D", fit.params.alpha_D}}}};
  AppendSolverJson(fit,
                   {{"n_starts", fit.n_starts},
                    {"n_starts_converged", fit.n_starts_converged},
                    {"best_start", {{"index", fit.best_start_index}}}},
                   &out);
  return out;
}

std::string FitTable(const fitting::KaplanFitResult& fit) {
  std::string out = "Kaplan et al. 2020: L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D\n";
  absl::StrAppendFormat(&out, "  points      %d (excluded: %s)\n", fit.n_points,
                        ExcludedText(fit.excluded_ids));
  absl::StrAppendFormat(&out, "  param count %s\n",
                        fit.param_count.empty() ? "as given in the CSV" : fit.param_count);
  absl::StrAppendFormat(&out, "  N_c         %.6g\n", fit.params.N_c);
  absl::StrAppendFormat(&out, "  D_c         %.6g\n", fit.params.D_c);
  absl::StrAppendFormat(&out, "  alpha_N     %.6g\n", fit.params.alpha_N);
  absl::StrAppendFormat(&out, "  alpha_D     %.6g\n", fit.params.alpha_D);
  absl::StrAppendFormat(&out, "  objective   %.12g (sum of Huber, delta = %g, log residuals)\n",
                        fit.objective, fit.huber_delta);
  absl::StrAppendFormat(&out,
                        "  solver      %s after %d iterations; start %d of %d won, %d of %d "
                        "starts converged\n",
                        fit.termination, fit.iterations, fit.best_start_index, fit.n_starts,
                        fit.n_starts_converged, fit.n_starts);
  return out;
}

}  // namespace scalelaw::cli
