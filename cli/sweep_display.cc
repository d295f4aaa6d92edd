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
  return out;
}

// WSD rows say what they are: a stable run's loss is not a fit point.
static std::string WsdNote(const v1::TrialSpec& spec) {
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
