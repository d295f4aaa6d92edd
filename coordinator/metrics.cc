#include "coordinator/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "coordinator/sweep_summary.h"
#include "sweeps/trial_builder.h"
#include "prometheus/text_serializer.h"

namespace scalelaw::coordinator {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// States a trial can be in, with their label values.
constexpr std::array<std::pair<v1::TrialState, const char*>, 7> kStates{{
    {v1::TRIAL_STATE_PENDING, "pending"},
    {v1::TRIAL_STATE_LEASED, "leased"},
    {v1::TRIAL_STATE_RUNNING, "running"},
    {v1::TRIAL_STATE_SUCCEEDED, "succeeded"},
    {v1::TRIAL_STATE_DIVERGED, "diverged"},
    {v1::TRIAL_STATE_FAILED, "failed"},
    {v1::TRIAL_STATE_CANCELLED, "cancelled"},
}};

// Buckets of gRPC handling time: sub-millisecond reads up to metric streams
// that stay open for a whole trial.
const Histogram::BucketBoundaries& RpcBuckets() {
  static const Histogram::BucketBoundaries buckets{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return buckets;
}

// Buckets of a store commit: an fsync on local disk (~0.1–5 ms) to a slow
// network file system.
const Histogram::BucketBoundaries& StoreBuckets() {
  static const Histogram::BucketBoundaries buckets{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  return buckets;
}

template <typename T>
Family<T>& Register(prometheus::Registry& registry, const std::string& name,
                    const std::string& help) {
  return prometheus::detail::Builder<T>().Name(name).Help(help).Register(registry);
}

// kStates' index of `state`, or -1 (TRIAL_STATE_UNSPECIFIED).
int StateIndex(v1::TrialState state) {
  for (size_t i = 0; i < kStates.size(); ++i) {
    if (kStates[i].first == state) return int(i);
  }
  return -1;
}

bool IsUnended(v1::TrialState state) {
  return state == v1::TRIAL_STATE_PENDING || state == v1::TRIAL_STATE_LEASED ||
         state == v1::TRIAL_STATE_RUNNING;
}

// The model size a trial was planned for: the sweep's target parameter count
// when given, else the counted parameters. A sweep has few sizes, so the label
// stays bounded.
std::string SizeLabel(const v1::TrialSpec& spec) {
  const double params = spec.target_params() > 0 ? spec.target_params() : double(spec.params());
  return absl::StrFormat("%.3g", params);
}

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace

struct CoordinatorMetrics::TrialSeries {
  prometheus::Labels labels;
  double flops_per_token = 0;  // planned FLOPs / planned tokens, for FLOP/s
  Gauge* train_loss = nullptr;
  Gauge* val_loss = nullptr;
  Gauge* tokens = nullptr;
  Gauge* flops = nullptr;
  Gauge* tokens_per_second = nullptr;
  Gauge* flops_per_second = nullptr;
  Gauge* noise_scale = nullptr;
  Gauge* learning_rate = nullptr;
  Gauge* attempt = nullptr;
};

struct CoordinatorMetrics::FitSeries {
  std::vector<std::pair<Family<Gauge>*, Gauge*>> gauges;
};

struct CoordinatorMetrics::SweepSeries {
  std::string sweep_id;
  // Every trial of the sweep with its state and tokens done, and their
  // totals, kept up to date incrementally (a heartbeat costs O(log trials)).
  struct TrialInfo {
    v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
    uint32_t attempt = 0;
    uint64_t tokens_done = 0;
    double flops_done = 0;
  };
  std::map<std::string, TrialInfo> trials;
  std::array<int64_t, kStates.size()> state_counts{};
  int64_t unended = 0;
  double tokens_done_total = 0;
  double flops_done_total = 0;

  void SetTrial(const v1::Trial& trial) {
    TrialInfo& info = trials[trial.spec().trial_id()];
    if (int i = StateIndex(info.state); i >= 0) --state_counts[i];
    if (IsUnended(info.state)) --unended;
    tokens_done_total -= double(info.tokens_done);
    flops_done_total -= info.flops_done;
    info = {trial.state(), trial.attempt(), trial.tokens_done(),
            FlopsSpent(trial.spec(), trial.tokens_done())};
    if (int i = StateIndex(info.state); i >= 0) ++state_counts[i];
    if (IsUnended(info.state)) ++unended;
    tokens_done_total += double(info.tokens_done);
    flops_done_total += info.flops_done;
  }
  std::map<std::string, TrialSeries> trial_series;  // trials that have been leased
  std::map<std::string, FitSeries> fits;            // by law
  std::array<Gauge*, kStates.size()> state_gauges{};
  Gauge* tokens_planned = nullptr;
  Gauge* tokens_done = nullptr;
  Gauge* flops_planned = nullptr;
  Gauge* flops_done = nullptr;
  Counter* lease_expirations = nullptr;
  Counter* retries = nullptr;
  Counter* divergences = nullptr;
  // When the last unended trial ended (or the latest fit, if later); unset
  // while the sweep runs.
  std::optional<std::chrono::system_clock::time_point> finished_at;

  // False for a sweep kept only for its fit (it finished before this
  // coordinator started): it has no sweep-level series.
  bool tracks_trials() const { return tokens_planned != nullptr; }
};

CoordinatorMetrics::CoordinatorMetrics(const Clock* clock, MetricsOptions options)
    : clock_(clock),
      options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()),
      build_info_(Register<Gauge>(*registry_, "scalelaw_build_info",
                                  "Always 1; the version label names the coordinator's build.")),
      sweep_trials_(Register<Gauge>(*registry_, "scalelaw_sweep_trials",
                                    "Trials of a sweep in each life-cycle state.")),
      sweep_tokens_planned_(Register<Gauge>(*registry_, "scalelaw_sweep_tokens_planned",
                                            "Training tokens planned over all trials of a sweep.")),
      sweep_tokens_done_(Register<Gauge>(
          *registry_, "scalelaw_sweep_tokens_done",
          "Training tokens done over all trials of a sweep (latest attempt of each).")),
      sweep_flops_planned_(Register<Gauge>(
          *registry_, "scalelaw_sweep_flops_planned",
          "Training FLOPs planned over all trials of a sweep (a WSD cooldown counts its own "
          "share).")),
      sweep_flops_done_(Register<Gauge>(
          *registry_, "scalelaw_sweep_flops_done",
          "Training FLOPs done over all trials of a sweep (latest attempt of each).")),
      lease_expirations_(Register<Counter>(
          *registry_, "scalelaw_lease_expirations_total",
          "Leases that passed their deadline without a heartbeat (trial requeued or failed).")),
      retries_(Register<Counter>(*registry_, "scalelaw_trial_retries_total",
                                 "Trials leased again after a failed or expired attempt.")),
      divergences_(Register<Counter>(*registry_, "scalelaw_trial_divergences_total",
                                     "Trials that ended DIVERGED (NaN/inf or runaway loss).")),
      trial_train_loss_(Register<Gauge>(*registry_, "scalelaw_trial_train_loss",
                                        "Latest smoothed training loss of a trial, nats/token.")),
      trial_val_loss_(Register<Gauge>(*registry_, "scalelaw_trial_val_loss",
                                      "Latest held-out validation loss of a trial, nats/token.")),
      trial_tokens_(Register<Gauge>(*registry_, "scalelaw_trial_tokens",
                                    "Tokens a trial's current attempt has trained on.")),
      trial_flops_(Register<Gauge>(*registry_, "scalelaw_trial_flops",
                                   "Training FLOPs a trial's current attempt has spent.")),
      trial_tokens_per_second_(Register<Gauge>(*registry_, "scalelaw_trial_tokens_per_second",
                                               "Latest training throughput of a trial, tokens/s.")),
      trial_flops_per_second_(Register<Gauge>(
          *registry_, "scalelaw_trial_flops_per_second",
          "Latest achieved training FLOP/s of a trial (tokens/s x planned FLOPs per token).")),
      trial_noise_scale_(Register<Gauge>(
          *registry_, "scalelaw_trial_gradient_noise_scale",
          "Latest gradient noise scale B_simple = tr(Sigma)/|G|^2 of a trial, in sequences.")),
      trial_learning_rate_(Register<Gauge>(*registry_, "scalelaw_trial_learning_rate",
                                           "Latest learning rate of a trial.")),
      trial_attempt_(Register<Gauge>(*registry_, "scalelaw_trial_attempt",
                                     "Current attempt number of a trial (1 for the first lease).")),
      workers_connected_family_(
          Register<Gauge>(*registry_, "scalelaw_workers_connected",
                          "Workers heard from (any worker RPC) within the worker timeout.")),
      worker_heartbeat_age_(Register<Gauge>(
          *registry_, "scalelaw_worker_heartbeat_age_seconds",
          "Seconds since a connected worker's last heartbeat or other worker RPC.")),
      rpc_handled_(Register<Counter>(*registry_, "scalelaw_grpc_server_handled_total",
                                     "Coordinator RPCs finished, by method and status code.")),
      rpc_seconds_(Register<Histogram>(
          *registry_, "scalelaw_grpc_server_handling_seconds",
          "Time from an RPC's arrival to its status (whole stream for StreamMetrics).")),
      store_write_seconds_family_(
          Register<Histogram>(*registry_, "scalelaw_store_write_duration_seconds",
                              "Duration of committed store write transactions, fsync included.")),
      fit_parameter_(
          Register<Gauge>(*registry_, "scalelaw_fit_parameter",
                          "Fitted law parameters of a sweep's latest fit (E, A, B, alpha, beta).")),
      fit_optimal_exponent_(Register<Gauge>(
          *registry_, "scalelaw_fit_optimal_exponent",
          "Compute-optimal scaling exponents of a Chinchilla fit: N_opt ~ C^a (quantity=params, "
          "a = beta/(alpha+beta)), D_opt ~ C^b (quantity=tokens, b = alpha/(alpha+beta)).")),
      fit_optimal_loss_(Register<Gauge>(*registry_, "scalelaw_fit_optimal_loss",
                                        "Predicted compute-optimal loss at a budget, nats/token.")),
      fit_optimal_params_(
          Register<Gauge>(*registry_, "scalelaw_fit_optimal_params",
                          "Predicted compute-optimal parameter count at a budget.")),
      fit_optimal_tokens_(
          Register<Gauge>(*registry_, "scalelaw_fit_optimal_tokens",
                          "Predicted compute-optimal training tokens at a budget.")),
      fit_points_(Register<Gauge>(*registry_, "scalelaw_fit_points",
                                  "Trials used by a sweep's latest fit.")),
      fit_timestamp_(Register<Gauge>(*registry_, "scalelaw_fit_timestamp_seconds",
                                     "Unix time of a sweep's latest fit.")),
      forecasts_(*registry_),
      workers_connected_(workers_connected_family_.Add({})),
      store_write_seconds_(store_write_seconds_family_.Add({}, StoreBuckets())) {
  build_info_.Add({{"version", options_.version}}).Set(1);
}

CoordinatorMetrics::~CoordinatorMetrics() = default;

absl::Status CoordinatorMetrics::Seed(Store& store) {
  SCALELAW_RETURN_IF_ERROR(forecasts_.Seed(store));
  SCALELAW_ASSIGN_OR_RETURN(std::vector<SweepRecord> sweeps, store.ListSweeps());
  for (const SweepRecord& sweep : sweeps) {
    if (sweep.cancelled) continue;
    SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, store.ListTrials(sweep.sweep_id));
    if (std::none_of(trials.begin(), trials.end(),
                     [](const v1::Trial& t) { return IsUnended(t.state()); })) {
      continue;  // finished before this coordinator started
    }
    std::lock_guard lock(mu_);
    SweepSeries& series = TrackSweep(sweep.sweep_id, trials);
    for (const v1::Trial& trial : trials) {
      if (trial.attempt() == 0) continue;
      TrialSeries& t = SeriesOf(series, trial.spec());
      TrialGauge(trial_attempt_, t.attempt, t).Set(trial.attempt());
      TrialGauge(trial_tokens_, t.tokens, t).Set(double(trial.tokens_done()));
      if (trial.latest_train_loss() != 0) {
        TrialGauge(trial_train_loss_, t.train_loss, t).Set(trial.latest_train_loss());
      }
      if (trial.latest_val_loss() != 0) {
        TrialGauge(trial_val_loss_, t.val_loss, t).Set(trial.latest_val_loss());
      }
    }
  }
  return absl::OkStatus();
}

CoordinatorMetrics::SweepSeries* CoordinatorMetrics::FindSweep(const std::string& sweep_id) {
  auto it = sweeps_.find(sweep_id);
  return it == sweeps_.end() ? nullptr : it->second.get();
}

CoordinatorMetrics::SweepSeries& CoordinatorMetrics::TrackSweep(
    const std::string& sweep_id, const std::vector<v1::Trial>& trials) {
  auto [it, inserted] = sweeps_.try_emplace(sweep_id, nullptr);
  if (!inserted) return *it->second;
  it->second = std::make_unique<SweepSeries>();
  SweepSeries& sweep = *it->second;
  sweep.sweep_id = sweep_id;
  const prometheus::Labels labels{{"sweep", sweep_id}};
  for (size_t i = 0; i < kStates.size(); ++i) {
    sweep.state_gauges[i] = &sweep_trials_.Add({{"sweep", sweep_id}, {"state", kStates[i].second}});
  }
  double planned = 0;
  double flops_planned = 0;
  for (const v1::Trial& trial : trials) {
    sweep.SetTrial(trial);
    sweep_of_trial_[trial.spec().trial_id()] = sweep_id;
    planned += double(trial.spec().tokens());
    flops_planned += sweeps::TrialCost(trial.spec());
  }
  sweep.tokens_planned = &sweep_tokens_planned_.Add(labels);
  sweep.tokens_planned->Set(planned);
  sweep.tokens_done = &sweep_tokens_done_.Add(labels);
  sweep.flops_planned = &sweep_flops_planned_.Add(labels);
  sweep.flops_planned->Set(flops_planned);
  sweep.flops_done = &sweep_flops_done_.Add(labels);
  sweep.lease_expirations = &lease_expirations_.Add(labels);
  sweep.retries = &retries_.Add(labels);
  sweep.divergences = &divergences_.Add(labels);
  UpdateSweepCounts(sweep);
  return sweep;
}

CoordinatorMetrics::TrialSeries& CoordinatorMetrics::SeriesOf(SweepSeries& sweep,
                                                              const v1::TrialSpec& spec) {
  auto [it, inserted] = sweep.trial_series.try_emplace(spec.trial_id());
  if (inserted) {
    it->second.labels = {
        {"sweep", sweep.sweep_id}, {"trial", spec.trial_id()}, {"size", SizeLabel(spec)}};
    if (spec.tokens() > 0) it->second.flops_per_token = spec.flops() / double(spec.tokens());
  }
  return it->second;
}

Gauge& CoordinatorMetrics::TrialGauge(Family<Gauge>& family, Gauge*& slot,
                                      const TrialSeries& trial) {
  if (slot == nullptr) slot = &family.Add(trial.labels);
  return *slot;
}

void CoordinatorMetrics::UpdateSweepCounts(SweepSeries& sweep) {
  for (size_t i = 0; i < kStates.size(); ++i) {
    sweep.state_gauges[i]->Set(double(sweep.state_counts[i]));
  }
  sweep.tokens_done->Set(sweep.tokens_done_total);
  sweep.flops_done->Set(sweep.flops_done_total);
  if (sweep.unended > 0) {
    sweep.finished_at.reset();
  } else if (!sweep.finished_at) {
    sweep.finished_at = Now();
  }
}

void CoordinatorMetrics::OnSweepSubmitted(const std::string& sweep_id,
                                          const std::vector<v1::TrialSpec>& specs) {
  std::vector<v1::Trial> trials(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    *trials[i].mutable_spec() = specs[i];
    trials[i].set_state(v1::TRIAL_STATE_PENDING);
  }
  std::lock_guard lock(mu_);
  TrackSweep(sweep_id, trials);
}

void CoordinatorMetrics::OnForecastStored(const v1::Forecast& forecast) {
  forecasts_.OnForecastStored(forecast);
}

void CoordinatorMetrics::OnTrialWritten(const v1::Trial& trial, v1::TrialState previous) {
  forecasts_.OnTargetWritten(trial);
  std::lock_guard lock(mu_);
  SweepSeries* sweep = FindSweep(trial.spec().sweep_id());
  // Not tracked: finished before this coordinator started.
  if (sweep == nullptr || !sweep->tracks_trials()) return;
  sweep->SetTrial(trial);

  if (trial.state() == v1::TRIAL_STATE_LEASED && previous == v1::TRIAL_STATE_PENDING &&
      trial.attempt() > 1) {
    sweep->retries->Increment();
  }
  if (trial.state() == v1::TRIAL_STATE_DIVERGED && previous != v1::TRIAL_STATE_DIVERGED) {
    sweep->divergences->Increment();
  }
  if (trial.attempt() > 0) {
    TrialSeries& t = SeriesOf(*sweep, trial.spec());
    TrialGauge(trial_attempt_, t.attempt, t).Set(trial.attempt());
    TrialGauge(trial_tokens_, t.tokens, t).Set(double(trial.tokens_done()));
    if (trial.latest_train_loss() != 0) {
      TrialGauge(trial_train_loss_, t.train_loss, t).Set(trial.latest_train_loss());
    }
    if (trial.latest_val_loss() != 0) {
      TrialGauge(trial_val_loss_, t.val_loss, t).Set(trial.latest_val_loss());
    }
    if (trial.has_result()) {
      const v1::TrialResult& result = trial.result();
      if (result.flops() > 0) TrialGauge(trial_flops_, t.flops, t).Set(result.flops());
      if (result.tokens_per_second() > 0) {
        TrialGauge(trial_tokens_per_second_, t.tokens_per_second, t)
            .Set(result.tokens_per_second());
      }
      if (result.noise_scale() > 0) {
        TrialGauge(trial_noise_scale_, t.noise_scale, t).Set(result.noise_scale());
      }
    }
  }
  UpdateSweepCounts(*sweep);
}

void CoordinatorMetrics::OnMetricStored(const v1::MetricPoint& point) {
  std::lock_guard lock(mu_);
  const auto of_trial = sweep_of_trial_.find(point.trial_id());
  if (of_trial == sweep_of_trial_.end()) return;
  SweepSeries* sweep = FindSweep(of_trial->second);
  if (sweep == nullptr) return;
  // Only the live attempt's points: one may be reported after its attempt
  // ended (the scheduler does not order points with endings), and must not
  // overwrite the ending's figures.
  const auto info = sweep->trials.find(point.trial_id());
  if (info == sweep->trials.end() || info->second.attempt != point.attempt() ||
      (info->second.state != v1::TRIAL_STATE_LEASED &&
       info->second.state != v1::TRIAL_STATE_RUNNING)) {
    return;
  }
  const auto series = sweep->trial_series.find(point.trial_id());
  if (series == sweep->trial_series.end()) return;  // made when the lease was reported
  TrialSeries& t = series->second;
  TrialGauge(trial_tokens_, t.tokens, t).Set(double(point.tokens()));
  TrialGauge(trial_flops_, t.flops, t).Set(point.flops());
  if (point.has_train_loss() && std::isfinite(point.train_loss())) {
    TrialGauge(trial_train_loss_, t.train_loss, t).Set(point.train_loss());
  }
  if (point.has_val_loss() && std::isfinite(point.val_loss())) {
    TrialGauge(trial_val_loss_, t.val_loss, t).Set(point.val_loss());
  }
  if (point.has_lr()) TrialGauge(trial_learning_rate_, t.learning_rate, t).Set(point.lr());
  if (point.has_tokens_per_second()) {
    TrialGauge(trial_tokens_per_second_, t.tokens_per_second, t).Set(point.tokens_per_second());
    TrialGauge(trial_flops_per_second_, t.flops_per_second, t)
        .Set(point.tokens_per_second() * t.flops_per_token);
  }
  if (point.has_noise_scale() && std::isfinite(point.noise_scale())) {
    TrialGauge(trial_noise_scale_, t.noise_scale, t).Set(point.noise_scale());
  }
}

void CoordinatorMetrics::OnLeaseExpired(const v1::Trial& trial) {
  std::lock_guard lock(mu_);
  SweepSeries* sweep = FindSweep(trial.spec().sweep_id());
  if (sweep != nullptr && sweep->tracks_trials()) sweep->lease_expirations->Increment();
}

void CoordinatorMetrics::OnWorkerContact(const std::string& worker_id) {
  std::lock_guard lock(mu_);
  WorkerSeries& worker = workers_[worker_id];
  worker.last_contact = Now();
  if (worker.heartbeat_age == nullptr) {
    worker.heartbeat_age = &worker_heartbeat_age_.Add({{"worker", worker_id}});
  }
  worker.heartbeat_age->Set(0);
  workers_connected_.Set(double(workers_.size()));
}

void CoordinatorMetrics::OnFit(const std::string& sweep_id, const v1::FitResult& fit) {
  std::lock_guard lock(mu_);
  SweepSeries* sweep = FindSweep(sweep_id);
  if (sweep == nullptr) {
    // A sweep that finished before this coordinator started (or whose series
    // already expired): keep only its fit, which goes away after retention
    // like any finished sweep's series.
    auto fit_only = std::make_unique<SweepSeries>();
    fit_only->sweep_id = sweep_id;
    sweep = sweeps_.emplace(sweep_id, std::move(fit_only)).first->second.get();
  }
  if (sweep->finished_at || !sweep->tracks_trials()) sweep->finished_at = Now();

  const std::string law = fit.law().empty() ? "chinchilla" : fit.law();
  FitSeries& series = sweep->fits[law];
  RemoveFit(series);  // the previous fit's budgets may differ
  auto set = [&](Family<Gauge>& family, prometheus::Labels labels, double value) {
    labels.emplace("sweep", sweep_id);
    labels.emplace("law", law);
    Gauge& gauge = family.Add(labels);
    gauge.Set(value);
    series.gauges.emplace_back(&family, &gauge);
  };
  for (const auto& [name, value] : fit.params()) set(fit_parameter_, {{"parameter", name}}, value);
  const auto alpha = fit.params().find("alpha");
  const auto beta = fit.params().find("beta");
  if (law == "chinchilla" && alpha != fit.params().end() && beta != fit.params().end() &&
      alpha->second + beta->second > 0) {
    const double sum = alpha->second + beta->second;
    set(fit_optimal_exponent_, {{"quantity", "params"}}, beta->second / sum);
    set(fit_optimal_exponent_, {{"quantity", "tokens"}}, alpha->second / sum);
  }
  const size_t n_budgets = std::min<size_t>(fit.optimal_size(), kMaxFitBudgets);
  for (size_t i = 0; i < n_budgets; ++i) {
    const v1::OptimalPoint& point = fit.optimal(int(i));
    const prometheus::Labels budget{{"budget", absl::StrFormat("%.3g", point.compute())}};
    set(fit_optimal_loss_, budget, point.loss());
    if (point.params() > 0) set(fit_optimal_params_, budget, point.params());
    if (point.tokens() > 0) set(fit_optimal_tokens_, budget, point.tokens());
  }
  set(fit_points_, {}, fit.n_points());
  set(fit_timestamp_, {}, UnixSeconds(Now()));
}

void CoordinatorMetrics::OnStoreWrite(std::chrono::nanoseconds duration) {
  store_write_seconds_.Observe(std::chrono::duration<double>(duration).count());
}

void CoordinatorMetrics::ObserveRpc(const std::string& method, const std::string& code,
                                    double seconds) {
  std::lock_guard lock(mu_);
  Histogram*& histogram = rpc_seconds_by_method_[method];
  if (histogram == nullptr) histogram = &rpc_seconds_.Add({{"method", method}}, RpcBuckets());
  histogram->Observe(seconds);
  Counter*& counter = rpc_handled_by_code_[{method, code}];
  if (counter == nullptr) counter = &rpc_handled_.Add({{"method", method}, {"code", code}});
  counter->Increment();
}

void CoordinatorMetrics::RemoveFit(FitSeries& fit) {
  for (auto& [family, gauge] : fit.gauges) family->Remove(gauge);
  fit.gauges.clear();
}

void CoordinatorMetrics::RemoveSweep(SweepSeries& sweep) {
  if (sweep.tracks_trials()) {
    for (Gauge* gauge : sweep.state_gauges) sweep_trials_.Remove(gauge);
    sweep_tokens_planned_.Remove(sweep.tokens_planned);
    sweep_tokens_done_.Remove(sweep.tokens_done);
    sweep_flops_planned_.Remove(sweep.flops_planned);
    sweep_flops_done_.Remove(sweep.flops_done);
    lease_expirations_.Remove(sweep.lease_expirations);
    retries_.Remove(sweep.retries);
    divergences_.Remove(sweep.divergences);
  }
  for (const auto& [id, info] : sweep.trials) sweep_of_trial_.erase(id);
  for (auto& [id, t] : sweep.trial_series) {
    const std::pair<Family<Gauge>*, Gauge*> gauges[] = {
        {&trial_train_loss_, t.train_loss},
        {&trial_val_loss_, t.val_loss},
        {&trial_tokens_, t.tokens},
        {&trial_flops_, t.flops},
        {&trial_tokens_per_second_, t.tokens_per_second},
        {&trial_flops_per_second_, t.flops_per_second},
        {&trial_noise_scale_, t.noise_scale},
        {&trial_learning_rate_, t.learning_rate},
        {&trial_attempt_, t.attempt},
    };
    for (auto [family, gauge] : gauges) {
      if (gauge != nullptr) family->Remove(gauge);
    }
  }
  for (auto& [law, fit] : sweep.fits) RemoveFit(fit);
}

void CoordinatorMetrics::Refresh() {
  std::lock_guard lock(mu_);
  const auto now = Now();
  for (auto it = sweeps_.begin(); it != sweeps_.end();) {
    SweepSeries& sweep = *it->second;
    if (sweep.finished_at && now - *sweep.finished_at >= options_.retention) {
      RemoveSweep(sweep);
      it = sweeps_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = workers_.begin(); it != workers_.end();) {
    const auto age = now - it->second.last_contact;
    if (age > options_.worker_timeout) {
      worker_heartbeat_age_.Remove(it->second.heartbeat_age);
      it = workers_.erase(it);
    } else {
      it->second.heartbeat_age->Set(std::max(0.0, std::chrono::duration<double>(age).count()));
      ++it;
    }
  }
  workers_connected_.Set(double(workers_.size()));
}

std::string CoordinatorMetrics::Scrape() {
  Refresh();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace scalelaw::coordinator
