// Events of the coordinator that monitoring wants to see. TrialScheduler,
// CoordinatorService and Store call an observer, when they are given one,
// after the change it reports has been committed; CoordinatorMetrics turns the
// calls into Prometheus series. Every method has an empty default, so an
// observer overrides only what it needs.
//
// Contract for implementations: calls arrive on gRPC and io_context threads,
// often while the scheduler holds its lock, so a method must be thread-safe,
// quick and must not call back into the scheduler, the service or the store.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::coordinator {

class CoordinatorObserver {
 public:
  virtual ~CoordinatorObserver() = default;

  // A sweep and its trials (all PENDING) were stored.
  virtual void OnSweepSubmitted(const std::string& sweep_id,
                                const std::vector<v1::TrialSpec>& trials) {}
  // A trial's new state was committed; `previous` is its state before.
  virtual void OnTrialWritten(const v1::Trial& trial, v1::TrialState previous) {}
  // A new (not resent) metric point was stored. Not ordered with
  // OnTrialWritten: it may arrive after its attempt has ended.
  virtual void OnMetricStored(const v1::MetricPoint& point) {}
  // A lease passed its deadline; `trial` is the trial after requeueing or
  // failing it (OnTrialWritten follows).
  virtual void OnLeaseExpired(const v1::Trial& trial) {}
  // A worker called the coordinator (register, lease, heartbeat, complete, fail).
  virtual void OnWorkerContact(const std::string& worker_id) {}
  // GetFit fitted a sweep.
  virtual void OnFit(const std::string& sweep_id, const v1::FitResult& fit) {}
  // A sweep's forecast of one target was stored (before the target's first lease).
  virtual void OnForecastStored(const v1::Forecast& forecast) {}
  // A store transaction committed after `duration` (fsync included).
  virtual void OnStoreWrite(std::chrono::nanoseconds duration) {}
};

}  // namespace scalelaw::coordinator
