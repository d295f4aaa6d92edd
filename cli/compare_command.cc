// `scalelaw compare`: the compute multiplier between two recipes' sweeps
// ("AI and Efficiency", Hernandez & Brown 2020). Flag parsing and
// formatting only; the science is fitting/recipe_comparison.h.
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/fit_output.h"
#include "common/limits.h"
#include "fitting/provenance.h"
#include "fitting/recipe_comparison.h"
#include "fitting/runs_csv.h"
#include "fitting/runs_json.h"

namespace scalelaw::cli {
namespace {

using json = nlohmann::ordered_json;

struct CompareFlags {
  std::string baseline;
  std::string candidate;
  std::string loss;  // L*, parsed with strtod
  bool extrapolate = false;
  int points = 20;
  int bootstrap = 0;
  double level = 0.95;
  uint64_t seed = 0;
  double huber_delta = 1e-3;
  bool json = false;
};

constexpr char kFrontierRule[] =
    "lower envelope: the lowest-loss run per compute bucket (2 significant figures of flops, "
    "or 6*N*D), then L(C) = E + A*C^-alpha fitted to those";

int Fail(const absl::Status& status, int* exit_code) {
  std::cerr << "error: " << status.message() << "\n";
  const bool bad_input = status.code() == absl::StatusCode::kInvalidArgument ||
                         status.code() == absl::StatusCode::kNotFound ||
                         status.code() == absl::StatusCode::kFailedPrecondition;
  *exit_code = bad_input ? 2 : 1;
  return *exit_code;
}

json IntervalOrNull(const fitting::MultiplierPoint& point) {
  if (!point.has_interval) return nullptr;
  return {point.interval.lo, point.interval.hi};
}

json PointJson(const fitting::MultiplierPoint& point) {
  return {{"loss", point.loss},
          {"multiplier", point.multiplier},
          {"interval", IntervalOrNull(point)},
          {"baseline_compute", point.baseline_compute},
          {"candidate_compute", point.candidate_compute},
          {"extrapolated", point.extrapolated}};
}

json SideJson(const fitting::FrontierFit& side) {
  const fitting::PowerLawParams& p = side.fit.params;
  return {{"params", {{"E", p.E}, {"A", p.A}, {"alpha", p.alpha}}},
          {"n_frontier_points", side.frontier.size()},
          {"loss_range", {side.min_loss, side.max_loss}},
          {"objective", side.fit.objective},
          {"converged", side.fit.converged}};
}

absl::StatusOr<json> Provenance(const CompareFlags& flags) {
  json sha256;
  for (const auto& [name, path] : {std::pair<std::string, std::string>{"baseline", flags.baseline},
                                   {"candidate", flags.candidate}}) {
    absl::StatusOr<std::string> digest = fitting::Sha256OfFile(path);
    if (!digest.ok()) return digest.status();
    sha256[name] = *digest;
  }
  return json{{"input", {{"baseline", flags.baseline}, {"candidate", flags.candidate}}},
              {"sha256", sha256},
              {"options",
               {{"loss", flags.loss},
                {"extrapolate", flags.extrapolate},
                {"points", flags.points},
                {"bootstrap", flags.bootstrap},
                {"level", flags.level},
                {"seed", flags.seed},
                {"huber_delta", flags.huber_delta}}},
              {"code_version", fitting::CodeVersion()},
              {"time", fitting::Iso8601Utc(std::chrono::system_clock::now())}};
}

std::string Table(const fitting::RecipeComparison& comparison, const CompareFlags& flags) {
  std::string out =
      "recipe comparison (Hernandez & Brown 2020): compute multiplier C_baseline(L) / "
      "C_candidate(L); > 1 means the candidate needs less compute\n";
  absl::StrAppendFormat(&out, "  frontier    %s\n", kFrontierRule);
  for (const auto& [name, side] :
       {std::pair<const char*, const fitting::FrontierFit*>{"baseline", &comparison.baseline},
        {"candidate", &comparison.candidate}}) {
    const fitting::PowerLawParams& p = side->fit.params;
    absl::StrAppendFormat(&out,
                          "  %-11s L(C) = %.5g + %.5g*C^-%.5f (%zu frontier points, loss %.4f "
                          "to %.4f)\n",
                          name, p.E, p.A, p.alpha, side->frontier.size(), side->min_loss,
                          side->max_loss);
  }
  absl::StrAppendFormat(&out, "  covered     loss %.4f to %.4f (both sweeps reach it)\n",
                        comparison.covered_min_loss, comparison.covered_max_loss);
  if (flags.bootstrap > 0) {
    absl::StrAppendFormat(&out, "  intervals   %g%% bootstrap, %d paired resamples (%d failed)\n",
                          100 * comparison.level, comparison.resamples, comparison.failed);
  }
  const auto row = [&](const fitting::MultiplierPoint& point) {
    absl::StrAppendFormat(&out, "  %-10.5f %-12.4g", point.loss, point.multiplier);
    if (point.has_interval) {
      absl::StrAppendFormat(&out, " [%.4g, %.4g]", point.interval.lo, point.interval.hi);
    }
    if (point.extrapolated) out += "  EXTRAPOLATED beyond both sweeps' data";
    out += "\n";
  };
  absl::StrAppendFormat(&out, "  %-10s %-12s\n", "loss", "multiplier");
  for (const fitting::MultiplierPoint& point : comparison.curve) row(point);
  if (comparison.at_target.has_value()) {
    out += "  at the requested loss:\n";
    row(*comparison.at_target);
  }
  return out;
}

}  // namespace

void AddCompareCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* command = AddSubcommand(
      app, "compare",
      "Compute multiplier between two recipes' sweeps at equal loss (AI and Efficiency)",
      "Fits each sweep's compute frontier L(C) = E + A*C^-alpha (the lowest-loss run per compute "
      "bucket) and reports C_baseline(L)/C_candidate(L) across the loss range both sweeps "
      "cover, with bootstrap intervals. A --loss outside that range is refused unless "
      "--extrapolate, and extrapolated answers are marked.\n"
      "Examples:\n"
      "  scalelaw compare --baseline old.csv --candidate new.csv\n"
      "  scalelaw compare --baseline old.csv --candidate new.csv --loss 2.8 --bootstrap 500 "
      "--json");
  command->add_option("--baseline", flags->baseline, "runs CSV of the baseline recipe's sweep")
      ->required();
  command->add_option("--candidate", flags->candidate, "runs CSV of the candidate recipe's sweep")
      ->required();
  command->add_option("--loss", flags->loss, "also report the multiplier at this loss L*");
  command->add_flag("--extrapolate", flags->extrapolate,
                    "allow --loss outside the loss range both sweeps cover");
  command->add_option("--points", flags->points, "points of the multiplier curve")
      ->check(CLI::Range(2, 10000))
      ->capture_default_str();
  command->add_option("--bootstrap", flags->bootstrap,
                      "resample each frontier K times for percentile intervals")
      ->check(CLI::Range(0, static_cast<int>(limits::kMaxBootstrapResamples)));
  command->add_option("--level", flags->level, "confidence level of bootstrap intervals")
      ->capture_default_str();
  command->add_option("--seed", flags->seed, "seed of the bootstrap's resampling")
      ->capture_default_str();
  command
      ->add_option("--huber-delta", flags->huber_delta,
                   "delta of the Huber penalty on log-loss residuals")
      ->capture_default_str();
  command->add_flag("--json", flags->json, "print one JSON object instead of a table");
  command->callback([flags, exit_code] {
    fitting::RecipeComparisonOptions options;
    if (!flags->loss.empty()) {
      char* end = nullptr;
      const double loss = std::strtod(flags->loss.c_str(), &end);
      if (end != flags->loss.c_str() + flags->loss.size() || !std::isfinite(loss) || loss <= 0) {
        return (void)Fail(absl::InvalidArgumentError(absl::StrCat(
                              "--loss: expected a positive number, got '", flags->loss, "'")),
                          exit_code);
      }
      options.target_loss = loss;
    }
    options.extrapolate = flags->extrapolate;
    options.n_losses = flags->points;
    options.bootstrap = flags->bootstrap;
    options.level = flags->level;
    options.seed = flags->seed;
    options.huber_delta = flags->huber_delta;
    const absl::StatusOr<std::vector<fitting::Observation>> baseline =
        fitting::ReadRuns(flags->baseline);
    if (!baseline.ok()) return (void)Fail(baseline.status(), exit_code);
    const absl::StatusOr<std::vector<fitting::Observation>> candidate =
        fitting::ReadRuns(flags->candidate);
    if (!candidate.ok()) return (void)Fail(candidate.status(), exit_code);
    const absl::StatusOr<fitting::RecipeComparison> comparison =
        fitting::CompareRecipes(*baseline, *candidate, options);
    if (!comparison.ok()) return (void)Fail(comparison.status(), exit_code);
    if (!flags->json) {
      std::cout << Table(*comparison, *flags);
      return;
    }
    json curve = json::array();
    for (const fitting::MultiplierPoint& point : comparison->curve)
      curve.push_back(PointJson(point));
    json out = {
        {"measure", "compute_multiplier"},
        {"definition", "C_baseline(L) / C_candidate(L)"},
        {"frontier", kFrontierRule},
        {"baseline", SideJson(comparison->baseline)},
        {"candidate", SideJson(comparison->candidate)},
        {"covered_loss_range", {comparison->covered_min_loss, comparison->covered_max_loss}},
        {"curve", curve},
        {"extrapolate", flags->extrapolate}};
    if (comparison->at_target.has_value()) out["at_loss"] = PointJson(*comparison->at_target);
    if (flags->bootstrap > 0) {
      out["bootstrap"] = {{"resamples", comparison->resamples},
                          {"failed", comparison->failed},
                          {"level", comparison->level}};
    }
    absl::StatusOr<json> provenance = Provenance(*flags);
    if (!provenance.ok()) return (void)Fail(provenance.status(), exit_code);
    out["provenance"] = *std::move(provenance);
    std::cout << out.dump(2) << "\n";
  });
}

}  // namespace scalelaw::cli
