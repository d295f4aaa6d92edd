#include "cli/sweep_display.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace scalelaw::cli {

std::string TrialStateName(v1::TrialState state) {
  std::string name = v1::TrialState_Name(state);
  constexpr std::string_view kPrefix = "TRIAL_STATE_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

std::string FormatSweepStatus(const v1::Sweep& sweep) {
  std::string state = v1::SweepState_Name(sweep.state());
  state = state.substr(std::string_view("SWEEP_STATE_").size());
  std::string out = absl::StrFormat("sweep %s (%s): %s, %u trials\n", sweep.sweep_id(),
                                    sweep.name(), state, sweep.n_trials());
  std::string counts;
  for (const v1::StateCount& count : sweep.counts()) {
    if (count.count() == 0) continue;
    absl::StrAppend(&counts, counts.empty() ? "  " : ", ", TrialStateName(count.state()), " ",
                    count.count());
  }
  absl::StrAppend(&out, counts, "\n");
  const double total = std::max<double>(1, sweep.tokens_total());
  const double fraction = std::min(1.0, sweep.tokens_done() / total);
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(std::lround(fraction * kWidth));
  absl::StrAppend(&out, "  [", std::string(filled, '#'), std::string(kWidth - filled, '.'),
                  absl::StrFormat("] %5.1f%%  %.3g / %.3g tokens\n", 100 * fraction,
                                  static_cast<double>(sweep.tokens_done()), total));
  if (sweep.flops_total() > 0) {
    absl::StrAppend(&out, absl::StrFormat("  compute %.3g / %.3g FLOPs", sweep.flops_done(),
                                          sweep.flops_total()));
    if (sweep.eta_seconds() > 0) {
      absl::StrAppend(&out, ", ETA ", FormatDuration(sweep.eta_seconds()),
                      " at the rate so far");
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out,
                  FormatLauncherJobs(sweep.jobs(), sweep.state() == v1::SWEEP_STATE_RUNNING));
  return out;
}

std::string FormatLauncherJobs(const google::protobuf::RepeatedPtrField<v1::LauncherJob>& jobs,
                               bool hints) {
  if (jobs.empty()) return "";
  std::string out = "  jobs:";
  std::string how_to_apply;
  for (int i = 0; i < jobs.size(); ++i) {
    const v1::LauncherJob& job = jobs[i];
    absl::StrAppend(&out, i == 0 ? " " : ", ", job.launcher(), " ", job.job_id());
    constexpr std::string_view kManifest = "manifest:";
    if (hints && job.job_id().rfind(kManifest, 0) == 0) {
      absl::StrAppend(&how_to_apply, "  no kubectl on the coordinator's PATH: start the workers with\n"
                              "    kubectl apply -f ",
                      job.job_id().substr(kManifest.size()), "\n");
    }
  }
  return absl::StrCat(out, "\n", how_to_apply);
}

std::string FormatDuration(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return absl::StrCat(s, " s");
  if (s < 3600) return absl::StrCat(s / 60, " min ", s % 60, " s");
  if (s < 86400) return absl::StrCat(s / 3600, " h ", (s % 3600) / 60, " min");
  return absl::StrCat(s / 86400, " d ", (s % 86400) / 3600, " h");
}

// WSD rows and forecast targets say what they are: a stable run's loss is
// not a fit point, a target's is not fitted before its forecast.
static std::string WsdNote(const v1::TrialSpec& spec) {
  if (!spec.forecast_target().empty()) {
    return absl::StrCat("  forecast target '", spec.forecast_target(), "' (runs after its forecast)");
  }
  switch (spec.wsd().role()) {
    case v1::TRIAL_ROLE_WSD_STABLE:
      return "  stable run (constant lr, not fitted)";
    case v1::TRIAL_ROLE_WSD_COOLDOWN:
      return absl::StrCat("  cooldown from ", spec.wsd().stable_trial_id());
    default:
      return "";
  }
}
std::string FormatTrialTable(const v1::ListTrialsResponse& trials) {
  std::string out =
      absl::StrFormat("%-18s %-12s %10s %10s %-10s %3s %9s %9s\n", "trial", "layers x d", "params",
                      "tokens", "state", "att", "train", "val loss");
  for (const v1::Trial& trial : trials.trials()) {
    const v1::TrialSpec& spec = trial.spec();
    const bool ended = trial.result().tokens() > 0;
    const double val = ended ? trial.result().final_val_loss() : trial.latest_val_loss();
    const double train = ended ? trial.result().final_train_loss() : trial.latest_train_loss();
    absl::StrAppend(
        &out, absl::StrFormat("%-18s %-12s %10.3g %10.3g %-10s %3u %9s %9s%s\n", spec.trial_id(),
                              absl::StrCat(spec.shape().n_layer(), " x ", spec.shape().d_model()),
                              static_cast<double>(spec.params()),
                              static_cast<double>(spec.tokens()), TrialStateName(trial.state()),
                              trial.attempt(), train > 0 ? absl::StrFormat("%.4f", train) : "-",
                              val > 0 ? absl::StrFormat("%.4f", val) : "-", WsdNote(spec)));
  }
  return out;
}

std::string FitResultJson(const v1::FitResult& fit) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(fit, &json, options);
  return json;
}

}  // namespace scalelaw::cli
