// `scalelaw report`: the fit report as one self-contained HTML page, from a
// runs CSV or from a sweep (its SQLite store, or a running coordinator).
// Flag parsing and conversion from the wire types only; the fits and the
// page live in scalelaw::report.
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/coordinator_client.h"
#include "cli/sweep_display.h"
#include "cli/sweep_source.h"
#include "coordinator/store.h"
#include "fitting/critical_batch_fit.h"
#include "fitting/envelope_fit.h"
#include "fitting/observation.h"
#include "fitting/runs_csv.h"
#include "fitting/runs_json.h"
#include "report/report_page.h"

namespace scalelaw::cli {
namespace {

struct ReportFlags {
  std::string csv;
  std::string curves_csv;
  std::string sweep;
  std::string db;
  std::string coordinator;
  ClientTls tls;  // for --coordinator (proto/coordinator_tls.h)
  std::string out;
  std::vector<std::string> budgets;
  std::vector<std::string> exclude;
  std::string param_count = "total";
  std::string title;
  int bootstrap = 100;
  double level = 0.9;
  uint64_t seed = 0;
  int holdout = 3;
};

absl::StatusOr<double> ParseBudget(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--budgets: expected positive FLOP counts like 1e22, got '", text, "'"));
  }
  return value;
}

// Succeeded trials but WSD stable runs become runs, the rest are left out
// with their state and reason; validation points become curves, noise-scale points (B_simple in
// sequences on the wire) become measurements in tokens (× n_ctx).
void ConvertSweep(const SweepData& data, bool non_embedding, report::ReportInput* input) {
  std::map<std::string, const v1::Trial*> by_id;
  for (const v1::Trial& trial : data.trials) {
    const std::string& id = trial.spec().trial_id();
    by_id[id] = &trial;
    if (trial.state() != v1::TRIAL_STATE_SUCCEEDED) {
      std::string reason = TrialStateName(trial.state());
      if (!trial.reason().empty()) absl::StrAppend(&reason, ": ", trial.reason());
      if (!coordinator::IsEnded(trial.state())) absl::StrAppend(&reason, " (not finished)");
      input->excluded.push_back({id, reason});
      continue;
    }
    // As in `scalelaw fit --sweep` (coordinator/sweep_fit.h): a WSD stable run
    // never cooled down, so its end is no (N, D, L) point; its curve still is.
    if (trial.spec().wsd().role() == v1::TRIAL_ROLE_WSD_STABLE) {
      input->excluded.push_back(
          {id, "WSD stable run (constant lr; its cooldown branches are the points)"});
      continue;
    }
    const v1::TrialResult& r = trial.result();
    fitting::Observation run;
    run.params = static_cast<double>(non_embedding ? r.non_embedding_params() : r.params());
    run.tokens = static_cast<double>(r.tokens());
    run.loss = r.final_val_loss();
    run.flops = r.flops();
    run.id = id;
    input->runs.push_back(run);
    if (r.noise_scale() > 0) {
      input->noise_scales.push_back(
          {r.final_val_loss(), r.noise_scale() * trial.spec().shape().n_ctx(), id});
    }
  }
  for (const v1::MetricPoint& point : data.metrics) {
    auto it = by_id.find(point.trial_id());
    if (it == by_id.end() || it->second->state() != v1::TRIAL_STATE_SUCCEEDED) continue;
    const v1::Trial& trial = *it->second;
    const double params = static_cast<double>(non_embedding ? trial.result().non_embedding_params()
                                                            : trial.result().params());
    if (point.has_val_loss() && point.tokens() > 0) {
      input->curves.push_back({point.trial_id(), params, static_cast<double>(point.tokens()),
                               point.val_loss(), point.flops()});
    }
    if (point.has_noise_scale() && point.noise_scale() > 0 && point.has_train_loss()) {
      input->noise_scales.push_back({point.train_loss(),
                                     point.noise_scale() * trial.spec().shape().n_ctx(),
                                     absl::StrCat(point.trial_id(), " step ", point.step())});
    }
  }
}

// The stored forecasts as the report draws them, with the ladder runs they
// were fitted on (Forecast.fit.point_ids, N in the fit's count) from the
// sweep's trials.
report::ForecastInput ConvertForecasts(const std::vector<v1::ForecastOutcome>& outcomes,
                                       const SweepData& data) {
  report::ForecastInput out;
  const v1::FitResult* fit = nullptr;
  for (const v1::ForecastOutcome& outcome : outcomes) {
    const v1::Forecast& f = outcome.forecast();
    report::ForecastOutcome& o = out.outcomes.emplace_back();
    o.target = f.target();
    o.trial_id = f.trial_id();
    o.params = f.params();
    o.tokens = f.tokens();
    o.compute = f.compute();
    o.predicted_loss = f.predicted_loss();
    o.prediction_interval = {f.prediction_interval().lo(), f.prediction_interval().hi()};
    o.level = f.level();
    o.error = f.error();
    o.state = TrialStateName(outcome.state());
    if (outcome.has_actual_loss()) o.actual_loss = outcome.actual_loss();
    o.fitted_ms = f.fitted_ms();
    o.first_target_lease_ms = outcome.first_target_lease_ms();
    o.ladder_points = static_cast<int>(f.fit().n_points());
    if (fit == nullptr && f.error().empty()) fit = &f.fit();
  }
  if (fit == nullptr) return out;
  std::map<std::string, const v1::Trial*> by_id;
  for (const v1::Trial& trial : data.trials) by_id[trial.spec().trial_id()] = &trial;
  const bool non_embedding = fit->param_count() == "non_embedding";
  for (const std::string& id : fit->point_ids()) {
    auto it = by_id.find(id);
    if (it == by_id.end()) continue;
    const v1::TrialResult& r = it->second->result();
    out.ladder.push_back(
        {static_cast<double>(non_embedding ? r.non_embedding_params() : r.params()),
         static_cast<double>(r.tokens()), r.final_val_loss(), r.flops(), id});
  }
  return out;
}

// True when the CSV's header names a noise_scale column.
bool HasNoiseScaleColumn(const std::string& path) {
  std::ifstream in(path);
  std::string header;
  std::getline(in, header);
  for (char& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return header.find("noise_scale") != std::string::npos ||
         header.find("b_simple") != std::string::npos;
}

absl::Status LoadCsv(const ReportFlags& flags, report::ReportInput* input) {
  absl::StatusOr<std::vector<fitting::Observation>> runs = fitting::ReadRuns(flags.csv);
  if (!runs.ok()) return runs.status();
  input->runs = *std::move(runs);
  input->source = flags.csv;
  if (HasNoiseScaleColumn(flags.csv)) {
    absl::StatusOr<std::vector<fitting::NoiseScalePoint>> noise =
        fitting::ReadNoiseScaleCsv(flags.csv);
    if (!noise.ok()) return noise.status();
    input->noise_scales = *std::move(noise);
  }
  return absl::OkStatus();
}

absl::Status WriteReport(const ReportFlags& flags) {
  report::ReportInput input;
  input.bootstrap = flags.bootstrap;
  input.level = flags.level;
  input.seed = flags.seed;
  input.holdout = flags.holdout;
  input.param_count = flags.param_count;
  for (const std::string& text : flags.budgets) {
    absl::StatusOr<double> budget = ParseBudget(text);
    if (!budget.ok()) return budget.status();
    input.budgets.push_back(*budget);
  }
  if (!flags.csv.empty()) {
    if (absl::Status s = LoadCsv(flags, &input); !s.ok()) return s;
  } else {
    absl::StatusOr<SweepData> data =
        LoadSweep(flags.sweep, SweepSource{flags.db, flags.coordinator, "", flags.tls}, true);
    if (!data.ok()) return data.status();
    ConvertSweep(*data, flags.param_count == "non_embedding", &input);
    input.source = data->source;
    // A coordinator from before forecasts answers UNIMPLEMENTED: no forecasts.
    absl::StatusOr<std::vector<v1::ForecastOutcome>> forecasts =
        LoadForecasts(data->sweep_id, SweepSource{flags.db, flags.coordinator, "", flags.tls});
    if (!forecasts.ok() && !absl::IsUnimplemented(forecasts.status())) return forecasts.status();
    if (forecasts.ok()) input.forecasts = ConvertForecasts(*forecasts, *data);
  }
  if (!flags.curves_csv.empty()) {
    absl::StatusOr<std::vector<fitting::CurvePoint>> curves =
        fitting::ReadCurvesCsv(flags.curves_csv);
    if (!curves.ok()) return curves.status();
    input.curves = *std::move(curves);
  }
  if (!flags.exclude.empty()) {
    std::vector<fitting::Observation> kept;
    if (absl::Status s = fitting::FilterExcluded(input.runs, flags.exclude, &kept); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--exclude: ", s.message()));
    }
    for (const std::string& id : flags.exclude)
      input.excluded.push_back({id, "user filter (--exclude)"});
    input.runs = std::move(kept);
  }
  input.title =
      flags.title.empty() ? absl::StrCat("Scaling-law report: ", input.source) : flags.title;

  absl::StatusOr<std::string> html = report::BuildReportHtml(input);
  if (!html.ok()) return html.status();
  std::error_code error;
  std::filesystem::create_directories(flags.out, error);
  if (error)
    return absl::InvalidArgumentError(absl::StrCat("--out ", flags.out, ": ", error.message()));
  const std::filesystem::path path = std::filesystem::path(flags.out) / "index.html";
  std::ofstream file(path);
  file << *html;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("--out: could not write ", path.string()));
  std::cout << path.string() << "\n";
  return absl::OkStatus();
}

}  // namespace

void AddReportCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* cmd = AddSubcommand(
      app, "report", "Write the fit report: a self-contained HTML page of scaling-law plots",
      "Fits Chinchilla approach 3 (with bootstrap intervals), IsoFLOP profiles, an\n"
      "extrapolation check and the B_crit law, and writes DIR/index.html: loss vs tokens\n"
      "and compute, IsoFLOP curves, N_opt(C) and D_opt(C) extrapolated to --budgets,\n"
      "residuals, the runs left out and why, and the noise scale vs loss; for a sweep with\n"
      "pre-registered forecasts, each target's forecast against its outcome. Inline SVG, no\n"
      "scripts, nothing fetched: open it from disk or attach it.\n\n"
      "Examples:\n"
      "  scalelaw report --csv runs.csv --out report --budgets 1e22,1e23\n"
      "  scalelaw report --db runs/quickstart/state.db --out report\n"
      "  scalelaw report --sweep SWEEP_ID --coordinator 127.0.0.1:50051 --out report");
  auto* csv = cmd->add_option("--csv", flags->csv,
                              "runs CSV: params, tokens, loss; optional flops, budget, id, "
                              "noise_scale");
  auto* sweep = cmd->add_option("--sweep", flags->sweep,
                                "sweep id (optional with --db when the store holds one sweep)");
  auto* db = cmd->add_option("--db", flags->db, "read the sweep from this SQLite store");
  auto* coordinator = cmd->add_option(
      "--coordinator", flags->coordinator,
      "read the sweep from this coordinator (default $SCALELAW_COORDINATOR or 127.0.0.1:50051)");
  csv->excludes(sweep)->excludes(db)->excludes(coordinator);
  db->excludes(coordinator);
  AddCoordinatorTlsFlags(*cmd, &flags->tls);
  cmd->add_option("--curves", flags->curves_csv,
                  "training curves CSV (params, tokens, loss, run) for the loss-vs-tokens plot");
  cmd->add_option("--out,-o", flags->out, "output directory; the page is DIR/index.html")
      ->required();
  cmd->add_option("--budgets", flags->budgets, "FLOP budgets to extrapolate to, e.g. 1e22,1e23")
      ->delimiter(',');
  cmd->add_option("--bootstrap", flags->bootstrap, "bootstrap resamples for intervals (0: none)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--level", flags->level, "confidence level of the intervals")
      ->check(CLI::Range(0.5, 0.999))
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed, "seed of the bootstrap's resampling")
      ->capture_default_str();
  cmd->add_option("--holdout", flags->holdout,
                  "largest-compute runs held out in the extrapolation check (0: none)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--exclude", flags->exclude, "run ids to leave out of every fit")->delimiter(',');
  cmd->add_option("--param-count", flags->param_count,
                  "parameter count of a sweep's trials to fit: total or non_embedding")
      ->check(CLI::IsMember({"total", "non_embedding"}))
      ->capture_default_str();
  cmd->add_option("--title", flags->title, "page title");
  cmd->callback([flags, exit_code]() {
    if (flags->csv.empty() && flags->sweep.empty() && flags->db.empty()) {
      std::cerr << "error: report: give --csv FILE, or --sweep ID (with --db or --coordinator)\n";
      *exit_code = 2;
      return;
    }
    if (absl::Status s = WriteReport(*flags); !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      const bool bad_input =
          s.code() == absl::StatusCode::kInvalidArgument || s.code() == absl::StatusCode::kNotFound;
      *exit_code = bad_input ? 2 : 1;
      return;
    }
    *exit_code = 0;
  });
}

}  // namespace scalelaw::cli
