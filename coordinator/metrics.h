// The coordinator's Prometheus metrics: a CoordinatorObserver that keeps one
// prometheus::Registry with every family registered once at construction and
// the label children it has added, so each event only sets or increments a
// kept child (prometheus-cpp's habit).
//
// Naming follows Prometheus practice: one `scalelaw_` prefix, base units
// (seconds, tokens, FLOPs, nats/token), `_total` on counters. Labels are
// bounded: sweep, trial and size (the sweep's planned model sizes), trial
// state, worker, gRPC method and code, fit law, parameter and budget (the
// budgets of a sweep's latest fit, at most kMaxFitBudgets). No label carries
// a free-form value (reasons, hostnames).
//
//   scalelaw_build_info{version}                          gauge, 1
//   scalelaw_sweep_trials{sweep,state}                    gauge, every state
//   scalelaw_sweep_tokens_planned{sweep}                  gauge, tokens
//   scalelaw_sweep_tokens_done{sweep}                     gauge, tokens (at heartbeats, endings)
//   scalelaw_sweep_flops_{planned,done}{sweep}            gauge, FLOPs (sweeps::TrialCost)
//   scalelaw_lease_expirations_total{sweep}               counter
//   scalelaw_trial_retries_total{sweep}                   counter (attempt > 1 leased)
//   scalelaw_trial_divergences_total{sweep}               counter
//   scalelaw_trial_{train_loss,val_loss}{sweep,trial,size}            gauge, nats/token
//   scalelaw_trial_{tokens,flops}{sweep,trial,size}                   gauge, done so far
//   scalelaw_trial_{tokens,flops}_per_second{sweep,trial,size}        gauge, latest
//   scalelaw_trial_gradient_noise_scale{sweep,trial,size}             gauge, sequences
//   scalelaw_trial_learning_rate{sweep,trial,size}                    gauge
//   scalelaw_trial_attempt{sweep,trial,size}                          gauge
//   scalelaw_workers_connected                            gauge
//   scalelaw_worker_heartbeat_age_seconds{worker}         gauge, connected workers
//   scalelaw_grpc_server_handled_total{method,code}       counter
//   scalelaw_grpc_server_handling_seconds{method}         histogram
//   scalelaw_forecast_*{sweep,target}                     coordinator/forecast_metrics.h
//   scalelaw_store_write_duration_seconds                 histogram
//   scalelaw_fit_parameter{sweep,law,parameter}           gauge (E, A, B, alpha, beta)
//   scalelaw_fit_optimal_exponent{sweep,law,quantity}     gauge: N_opt ∝ C^a (params),
//                                                         D_opt ∝ C^b (tokens), Chinchilla only
//   scalelaw_fit_optimal_{loss,params,tokens}{sweep,law,budget}       gauge
//   scalelaw_fit_points{sweep,law}                        gauge
//   scalelaw_fit_timestamp_seconds{sweep,law}             gauge, Unix time of the fit
//
// Cardinality: at most 9 series per trial that has been leased, 14 per
// sweep, 5 + 3·kMaxFitBudgets + 4 per fitted (sweep, law), one per connected
// worker, and a fixed set for gRPC (18 per method plus one per method and
// code seen) and the store (16). Every series labelled with a sweep goes away
// once the sweep has been finished (no trial left PENDING, LEASED or RUNNING)
// for `retention`; workers not heard from for `worker_timeout` drop out.
//
// Time comes from the injected Clock. Refresh() (run before each scrape)
// updates the ages and applies retention.
//
// Thread safety: every method is thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/clock.h"
#include "coordinator/coordinator_observer.h"
#include "coordinator/forecast_metrics.h"
#include "coordinator/store.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace scalelaw::coordinator {

struct MetricsOptions {
  // How long the series of a finished sweep stay after it finished (or after
  // its latest fit, whichever is later).
  std::chrono::milliseconds retention = std::chrono::minutes(15);
  // A worker not heard from for this long no longer counts as connected.
  std::chrono::milliseconds worker_timeout = std::chrono::seconds(30);
  // Reported in scalelaw_build_info.
  std::string version = "unknown";
};

class CoordinatorMetrics final : public CoordinatorObserver {
 public:
  // Budgets of one fit that get series; further budgets are left out.
  static constexpr size_t kMaxFitBudgets = 8;

  // `clock` is not owned and must outlive this object.
  CoordinatorMetrics(const Clock* clock, MetricsOptions options);
  ~CoordinatorMetrics() override;

  // Starts tracking every sweep in `store` that has not finished (after a
  // coordinator restart). Call before serving.
  absl::Status Seed(Store& store);

  // Updates time-dependent series and removes those past retention.
  void Refresh();
  // Refresh(), then the registry in Prometheus' text exposition format 0.0.4.
  std::string Scrape();

  // One finished RPC: `method` is the bare method name ("LeaseTrial"),
  // `code` the status code's name ("OK", "NOT_FOUND").
  void ObserveRpc(const std::string& method, const std::string& code, double seconds);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // CoordinatorObserver
  void OnSweepSubmitted(const std::string& sweep_id,
                        const std::vector<v1::TrialSpec>& trials) override;
  void OnTrialWritten(const v1::Trial& trial, v1::TrialState previous) override;
  void OnMetricStored(const v1::MetricPoint& point) override;
  void OnLeaseExpired(const v1::Trial& trial) override;
  void OnWorkerContact(const std::string& worker_id) override;
  void OnFit(const std::string& sweep_id, const v1::FitResult& fit) override;
  void OnStoreWrite(std::chrono::nanoseconds duration) override;
  void OnForecastStored(const v1::Forecast& forecast) override;

 private:
  struct TrialSeries;
  struct FitSeries;
  struct SweepSeries;

  // The tracked sweep, or null. mu_ held.
  SweepSeries* FindSweep(const std::string& sweep_id);
  // Starts tracking a sweep from its trials' current states. mu_ held.
  SweepSeries& TrackSweep(const std::string& sweep_id, const std::vector<v1::Trial>& trials);
  // The trial's series, added on first use. mu_ held.
  TrialSeries& SeriesOf(SweepSeries& sweep, const v1::TrialSpec& spec);
  prometheus::Gauge& TrialGauge(prometheus::Family<prometheus::Gauge>& family,
                                prometheus::Gauge*& slot, const TrialSeries& trial);
  void UpdateSweepCounts(SweepSeries& sweep);
  void RemoveFit(FitSeries& fit);
  void RemoveSweep(SweepSeries& sweep);
  std::chrono::system_clock::time_point Now() const { return clock_->Now(); }

  const Clock* const clock_;
  const MetricsOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Gauge>& build_info_;
  prometheus::Family<prometheus::Gauge>& sweep_trials_;
  prometheus::Family<prometheus::Gauge>& sweep_tokens_planned_;
  prometheus::Family<prometheus::Gauge>& sweep_tokens_done_;
  prometheus::Family<prometheus::Gauge>& sweep_flops_planned_;
  prometheus::Family<prometheus::Gauge>& sweep_flops_done_;
  prometheus::Family<prometheus::Counter>& lease_expirations_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& divergences_;
  prometheus::Family<prometheus::Gauge>& trial_train_loss_;
  prometheus::Family<prometheus::Gauge>& trial_val_loss_;
  prometheus::Family<prometheus::Gauge>& trial_tokens_;
  prometheus::Family<prometheus::Gauge>& trial_flops_;
  prometheus::Family<prometheus::Gauge>& trial_tokens_per_second_;
  prometheus::Family<prometheus::Gauge>& trial_flops_per_second_;
  prometheus::Family<prometheus::Gauge>& trial_noise_scale_;
  prometheus::Family<prometheus::Gauge>& trial_learning_rate_;
  prometheus::Family<prometheus::Gauge>& trial_attempt_;
  prometheus::Family<prometheus::Gauge>& workers_connected_family_;
  prometheus::Family<prometheus::Gauge>& worker_heartbeat_age_;
  prometheus::Family<prometheus::Counter>& rpc_handled_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Histogram>& store_write_seconds_family_;
  prometheus::Family<prometheus::Gauge>& fit_parameter_;
  prometheus::Family<prometheus::Gauge>& fit_optimal_exponent_;
  prometheus::Family<prometheus::Gauge>& fit_optimal_loss_;
  prometheus::Family<prometheus::Gauge>& fit_optimal_params_;
  prometheus::Family<prometheus::Gauge>& fit_optimal_tokens_;
  prometheus::Family<prometheus::Gauge>& fit_points_;
  prometheus::Family<prometheus::Gauge>& fit_timestamp_;

  ForecastMetrics forecasts_;  // registers on registry_; thread-safe itself
  prometheus::Gauge& workers_connected_;
  prometheus::Histogram& store_write_seconds_;

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<SweepSeries>> sweeps_;
  std::map<std::string, std::string> sweep_of_trial_;  // of the tracked sweeps' trials
  struct WorkerSeries {
    std::chrono::system_clock::time_point last_contact;
    prometheus::Gauge* heartbeat_age = nullptr;
  };
  std::map<std::string, WorkerSeries> workers_;
  std::map<std::string, prometheus::Histogram*> rpc_seconds_by_method_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> rpc_handled_by_code_;
};

}  // namespace scalelaw::coordinator
