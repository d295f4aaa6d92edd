#include "cli/sweep_source.h"

#include <chrono>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/coordinator_client.h"
#include "common/status_macros.h"
#include "coordinator/forecaster.h"
#include "coordinator/store.h"

namespace scalelaw::cli {
namespace {

absl::StatusOr<std::string> OnlySweep(coordinator::Store& store, const std::string& db) {
  SCALELAW_ASSIGN_OR_RETURN(std::vector<coordinator::SweepRecord> sweeps, store.ListSweeps());
  if (sweeps.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--db ", db, " holds ", sweeps.size(),
                                                   " sweeps: name one with its sweep id"));
  }
  return sweeps.front().sweep_id;
}

// A store file opened to read, and the sweep asked for in it (the only one
// when `sweep_id` is empty).
struct OpenedSweep {
  std::unique_ptr<coordinator::Store> store;
  std::string sweep_id;
};

absl::StatusOr<OpenedSweep> OpenSweepInStore(const std::string& sweep_id, const std::string& db) {
  // Store::Open creates a missing file; a typo must not read an empty store.
  if (!std::filesystem::exists(db)) {
    return absl::NotFoundError(absl::StrCat("--db: no store at '", db, "'"));
  }
  absl::StatusOr<std::unique_ptr<coordinator::Store>> store = coordinator::Store::OpenForReading(db);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("--db ", db, ": ", store.status().message()));
  }
  OpenedSweep opened{std::move(*store), sweep_id};
  if (sweep_id.empty()) {
    SCALELAW_ASSIGN_OR_RETURN(opened.sweep_id, OnlySweep(*opened.store, db));
  } else if (!opened.store->GetSweep(sweep_id).ok()) {
    return absl::NotFoundError(absl::StrCat("sweep '", sweep_id, "' is not in --db ", db));
  }
  return opened;
}

absl::StatusOr<SweepData> LoadFromStore(const std::string& sweep_id, const std::string& db,
                                        bool with_metrics) {
  SCALELAW_ASSIGN_OR_RETURN(OpenedSweep opened, OpenSweepInStore(sweep_id, db));
  coordinator::Store& store = *opened.store;
  SweepData data;
  data.sweep_id = opened.sweep_id;
  SCALELAW_ASSIGN_OR_RETURN(data.trials, store.ListTrials(data.sweep_id));
  if (with_metrics) {
    for (const v1::Trial& trial : data.trials) {
      if (trial.attempt() == 0) continue;  // never started
      SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::MetricPoint> points,
                                store.ListMetrics(trial.spec().trial_id(), trial.attempt()));
      data.metrics.insert(data.metrics.end(), points.begin(), points.end());
    }
  }
  data.source = absl::StrCat("sweep ", data.sweep_id, " in ", db);
  return data;
}

absl::StatusOr<SweepData> LoadFromCoordinator(const std::string& sweep_id,
                                              const SweepSource& source, bool with_metrics) {
  if (sweep_id.empty()) {
    return absl::InvalidArgumentError("sweep id: required when reading from a coordinator");
  }
  const std::string address =
      source.coordinator.empty() ? DefaultCoordinatorAddress() : source.coordinator;
  CoordinatorClient client(address, source.token_file, source.tls);
  v1::ListTrialsRequest request;
  request.set_sweep_id(sweep_id);
  request.set_include_metrics(with_metrics);
  v1::ListTrialsResponse response;
  SCALELAW_RETURN_IF_ERROR(client.Call(&v1::Coordinator::Stub::ListTrials, request, &response,
                                       std::chrono::seconds(120)));
  SweepData data;
  data.sweep_id = sweep_id;
  data.trials.assign(response.trials().begin(), response.trials().end());
  data.metrics.assign(response.metrics().begin(), response.metrics().end());
  data.source = absl::StrCat("sweep ", sweep_id, " at ", address);
  return data;
}

}  // namespace

SweepSource SourceOf(const std::string& db, const SweepGroupFlags& group) {
  // Both given: LoadSweep refuses the pair rather than ignore one.
  if (!db.empty() && !group.CoordinatorGiven()) return SweepSource{db, "", "", {}};
  return SweepSource{db, group.coordinator, group.token_file, group.tls};
}

absl::StatusOr<SweepData> LoadSweep(const std::string& sweep_id, const SweepSource& source,
                                    bool with_metrics) {
  if (!source.db.empty() && !source.coordinator.empty()) {
    return absl::InvalidArgumentError("--db and --coordinator: give one, not both");
  }
  if (!source.db.empty()) return LoadFromStore(sweep_id, source.db, with_metrics);
  return LoadFromCoordinator(sweep_id, source, with_metrics);
}

absl::StatusOr<std::vector<v1::ForecastOutcome>> LoadForecasts(const std::string& sweep_id,
                                                               const SweepSource& source) {
  if (!source.db.empty()) {
    SCALELAW_ASSIGN_OR_RETURN(OpenedSweep opened, OpenSweepInStore(sweep_id, source.db));
    return coordinator::ForecastOutcomes(*opened.store, opened.sweep_id);
  }
  if (sweep_id.empty()) {
    return absl::InvalidArgumentError("sweep id: required when reading from a coordinator");
  }
  const std::string address =
      source.coordinator.empty() ? DefaultCoordinatorAddress() : source.coordinator;
  CoordinatorClient client(address, source.token_file, source.tls);
  v1::GetForecastsRequest request;
  request.set_sweep_id(sweep_id);
  v1::GetForecastsResponse response;
  SCALELAW_RETURN_IF_ERROR(
      client.Call(&v1::Coordinator::Stub::GetForecasts, request, &response));
  return std::vector<v1::ForecastOutcome>(response.forecasts().begin(), response.forecasts().end());
}

}  // namespace scalelaw::cli
