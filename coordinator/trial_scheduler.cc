#include "coordinator/trial_scheduler.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/limits.h"
#include "common/status_macros.h"
#include "coordinator/lease_token.h"
#include "sweeps/planner.h"
#include "sweeps/spec_validator.h"

namespace scalelaw::coordinator {
namespace {

absl::Status RequireNonEmpty(const std::string& value, const char* field) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  }
  return absl::OkStatus();
}

bool IsLive(v1::TrialState state) {
  return state == v1::TRIAL_STATE_LEASED || state == v1::TRIAL_STATE_RUNNING;
}

// Whether (worker, attempt) holds the trial's live lease.
bool HoldsLease(const v1::Trial& trial, const std::string& worker_id, uint32_t attempt) {
  return IsLive(trial.state()) && trial.attempt() == attempt && trial.worker_id() == worker_id;
}

// "Quick Start!" -> "quick-start": a sweep id prefix safe for paths and URLs.
std::string SlugOf(std::string_view name) {
  std::string slug;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      slug += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
    if (slug.size() >= 40) break;
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "sweep" : slug;
}

// Closes the open attempt row of `trial` (a no-op row for attempt 0).
std::optional<AttemptRecord> EndAttempt(const v1::Trial& trial, int64_t now_ms, std::string outcome,
                                        std::string reason) {
  if (trial.attempt() == 0) return std::nullopt;
  return AttemptRecord{trial.spec().trial_id(), trial.attempt(),  trial.worker_id(), now_ms, now_ms,
                       std::move(outcome),      std::move(reason),
                       /*lease_token=*/""};  // an update keeps the stored token
}

CoordinatorObserver* NoObserver() {
  static CoordinatorObserver none;
  return &none;
}

}  // namespace

TrialScheduler::TrialScheduler(Store* store, const Clock* clock, SchedulerOptions options,
                               CoordinatorObserver* observer)
    : store_(store),
      clock_(clock),
      options_(options),
      observer_(observer != nullptr ? observer : NoObserver()) {}

int64_t TrialScheduler::DeadlineFromNow() const {
  return clock_->NowMs() + options_.lease_timeout.count();
}

absl::StatusOr<uint32_t> TrialScheduler::MaxAttempts(const std::string& sweep_id) {
  SCALELAW_ASSIGN_OR_RETURN(SweepRecord sweep, store_->GetSweep(sweep_id));
  uint32_t max_attempts = sweep.spec.max_attempts();
  return max_attempts > 0 ? max_attempts : options_.default_max_attempts;
}

absl::StatusOr<std::string> TrialScheduler::RegisterWorker(
    const v1::RegisterWorkerRequest& request) {
  SCALELAW_ASSIGN_OR_RETURN(std::string secret, RandomHex(kWorkerSecretBytes));
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(int64_t n, store_->CountWorkers());
  // The count only grows, so "w-<n + 1>" is new; the secret makes the whole
  // id unguessable (lease_token.h).
  std::string worker_id = absl::StrCat("w-", n + 1, ".", secret);
  SCALELAW_RETURN_IF_ERROR(store_->InsertWorker(worker_id, request, clock_->NowMs()));
  observer_->OnWorkerContact(PublicWorkerId(worker_id));
  return worker_id;
}

absl::Status TrialScheduler::CheckLeaseToken(const std::string& trial_id, uint32_t attempt,
                                             const std::string& token) {
  if (token.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "lease_token: missing; a call about attempt ", attempt, " of trial ",
        limits::Echo(trial_id), " must carry the lease_token its LeaseTrial answer gave"));
  }
  SCALELAW_ASSIGN_OR_RETURN(std::string stored, store_->LeaseToken(trial_id, attempt));
  // Never echo either token: the message goes to whoever sent the wrong one.
  if (stored.empty() || !SameToken(stored, token)) {
    return absl::PermissionDeniedError(absl::StrCat("lease_token: not the token of attempt ",
                                                    attempt, " of trial ",
                                                    limits::Echo(trial_id)));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SubmitSweepResponse> TrialScheduler::SubmitSweep(
    const v1::SubmitSweepRequest& request) {
  if (!request.has_spec()) return absl::InvalidArgumentError("spec: missing");
  absl::Status valid = sweeps::ValidateSweepSpec(request.spec());
  if (valid.ok()) {
    valid = sweeps::ValidateSweepPathRoots(request.spec(), options_.allowed_path_roots);
  }
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid sweep spec: ", valid.message()));
  }
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(int64_t n, store_->CountSweeps());
  std::string sweep_id;
  for (;; ++n) {
    sweep_id = absl::StrCat(SlugOf(request.spec().name()), "-", n + 1);
    if (absl::IsNotFound(store_->GetSweep(sweep_id).status())) break;
  }
  auto trials = sweeps::PlanSweep(request.spec(), sweep_id);
  if (!trials.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot plan sweep spec: ", trials.status().message()));
  }
  if (trials->empty()) return absl::InvalidArgumentError("sweep spec plans no trials");
  for (v1::TrialSpec& trial : *trials) trial.set_sweep_id(sweep_id);

  SweepRecord sweep{sweep_id,        request.spec().name(), request.spec(), request.spec_yaml(),
                    clock_->NowMs(), /*cancelled=*/false};
  SCALELAW_RETURN_IF_ERROR(store_->InsertSweep(sweep, *trials));
  observer_->OnSweepSubmitted(sweep_id, *trials);
  v1::SubmitSweepResponse response;
  response.set_sweep_id(sweep_id);
  response.set_n_trials(static_cast<uint32_t>(trials->size()));
  return response;
}

absl::StatusOr<v1::LeaseTrialResponse> TrialScheduler::LeaseTrial(
    const v1::LeaseTrialRequest& request) {
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(request.worker_id(), "worker_id"));
  std::lock_guard lock(mu_);
  const auto held_store = store_->Hold();
  SCALELAW_ASSIGN_OR_RETURN(bool known, store_->WorkerExists(request.worker_id()));
  if (!known) {
    return absl::NotFoundError(absl::StrCat("unknown worker_id '",
                                            limits::Echo(request.worker_id()),
                                            "'; call RegisterWorker first"));
  }
  if (!request.sweep_id().empty()) {
    SCALELAW_RETURN_IF_ERROR(store_->GetSweep(request.sweep_id()).status());
  }

  observer_->OnWorkerContact(PublicWorkerId(request.worker_id()));
  v1::LeaseTrialResponse response;
  SCALELAW_ASSIGN_OR_RETURN(std::optional<v1::Trial> held,
                            store_->TrialHeldBy(request.worker_id()));
  std::optional<v1::Trial> trial;
  std::optional<AttemptRecord> attempt_row;
  std::string lease_token;
  v1::TrialState previous = v1::TRIAL_STATE_PENDING;
  if (held) {
    // The same attempt, so the same token (its answer may have been lost).
    SCALELAW_ASSIGN_OR_RETURN(lease_token,
                              store_->LeaseToken(held->spec().trial_id(), held->attempt()));
    previous = held->state();
    trial = std::move(held);
    trial->set_lease_deadline_ms(DeadlineFromNow());
  } else {
    SCALELAW_ASSIGN_OR_RETURN(trial, store_->NextPendingTrial(request.sweep_id()));
    if (trial) {
      trial->set_state(v1::TRIAL_STATE_LEASED);
      trial->set_attempt(trial->attempt() + 1);
      trial->set_worker_id(request.worker_id());
      trial->set_lease_deadline_ms(DeadlineFromNow());
      SCALELAW_ASSIGN_OR_RETURN(lease_token, RandomHex(kLeaseTokenBytes));
      attempt_row = AttemptRecord{trial->spec().trial_id(),
                                  trial->attempt(),
                                  request.worker_id(),
                                  clock_->NowMs(),
                                  0,
                                  "",
                                  "",
                                  lease_token};
    }
  }
  if (!trial) {
    SCALELAW_ASSIGN_OR_RETURN(int64_t unended, store_->CountUnendedTrials(request.sweep_id()));
    response.set_granted(false);
    response.set_retry_after_ms(static_cast<uint32_t>(options_.retry_after.count()));
    response.set_no_more_work(unended == 0);
    return response;
  }
  SCALELAW_RETURN_IF_ERROR(store_->CommitTrialWrites({TrialWrite{*trial, attempt_row}}));
  observer_->OnTrialWritten(*trial, previous);
  response.set_granted(true);
  *response.mutable_trial() = trial->spec();
  response.set_attempt(trial->attempt());
  response.set_lease_deadline_ms(trial->lease_deadline_ms());
  response.set_lease_token(lease_token);
  return response;
}

absl::StatusOr<v1::HeartbeatResponse> TrialScheduler::Heartbeat(
    const v1::HeartbeatRequest& request) {
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(request.worker_id(), "worker_id"));
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(request.trial_id(), "trial_id"));
  std::lock_guard lock(mu_);
  const auto held_store = store_->Hold();
  SCALELAW_ASSIGN_OR_RETURN(v1::Trial trial, store_->GetTrial(request.trial_id()));
  SCALELAW_RETURN_IF_ERROR(
      CheckLeaseToken(request.trial_id(), request.attempt(), request.lease_token()));
  v1::HeartbeatResponse response;
  if (!HoldsLease(trial, request.worker_id(), request.attempt())) {
    response.set_keep_going(false);
    return response;
  }
  // Only a lease holder counts as a connected worker: heartbeats carry an
  // unchecked worker_id, and a metric label must not take arbitrary values.
  observer_->OnWorkerContact(PublicWorkerId(request.worker_id()));
  const v1::TrialState previous = trial.state();
  trial.set_state(v1::TRIAL_STATE_RUNNING);
  trial.set_lease_deadline_ms(DeadlineFromNow());
  trial.set_tokens_done(std::max(trial.tokens_done(), request.tokens_done()));
  SCALELAW_RETURN_IF_ERROR(store_->CommitTrialWrites({TrialWrite{trial, std::nullopt}}));
  observer_->OnTrialWritten(trial, previous);
  response.set_keep_going(true);
  response.set_lease_deadline_ms(trial.lease_deadline_ms());
  return response;
}

absl::Status TrialScheduler::CheckMetric(const v1::MetricPoint& point) {
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(point.trial_id(), "trial_id"));
  if (point.attempt() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial ", limits::Echo(point.trial_id()), ": attempt must be >= 1, got 0"));
  }
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(v1::Trial trial, store_->GetTrial(point.trial_id()));
  SCALELAW_RETURN_IF_ERROR(CheckLeaseToken(point.trial_id(), point.attempt(), point.lease_token()));
  // Only the live attempt's points are stored: not those of a finished trial
  // (they would show in its curve and export), nor of a requeued one (a
  // PENDING trial's attempt number is that of its last, ended attempt). The
  // store checks it again when it writes the point (Store::AppendMetrics).
  if (point.attempt() != trial.attempt() || !IsLive(trial.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", limits::Echo(point.trial_id()), ": attempt ", point.attempt(),
                     " no longer holds the lease (current attempt ", trial.attempt(), ", ",
                     v1::TrialState_Name(trial.state()), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<MetricWrite> TrialScheduler::RecordMetric(const v1::MetricPoint& point) {
  SCALELAW_RETURN_IF_ERROR(CheckMetric(point));
  SCALELAW_ASSIGN_OR_RETURN(AppendedMetrics appended, store_->AppendMetrics({point}));
  SCALELAW_ASSIGN_OR_RETURN(bool inserted, std::move(appended.points.front()));
  if (!inserted) return MetricWrite::kDuplicate;
  ReportStoredMetrics({point}, appended.started);
  return MetricWrite::kStored;
}

void TrialScheduler::ReportStoredMetrics(const std::vector<v1::MetricPoint>& points,
                                         const std::vector<std::string>& started) {
  if (!started.empty()) {
    // Each started trial as it is now, read under the lock: every other
    // change to it is committed and reported under this lock too, so the
    // observer never sees an older state after a newer one. A trial ended
    // since has been reported by whoever ended it.
    std::lock_guard lock(mu_);
    for (const std::string& trial_id : started) {
      absl::StatusOr<v1::Trial> trial = store_->GetTrial(trial_id);
      if (trial.ok() && IsLive(trial->state())) {
        observer_->OnTrialWritten(*trial, v1::TRIAL_STATE_LEASED);
      }
    }
  }
  // Points change no trial's state, so they need neither the lock nor a
  // read: the observer keeps a point only for a live attempt it knows.
  for (const v1::MetricPoint& point : points) observer_->OnMetricStored(point);
}

absl::StatusOr<bool> TrialScheduler::CompleteTrial(const v1::CompleteTrialRequest& request) {
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(request.worker_id(), "worker_id"));
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(request.trial_id(), "trial_id"));
  const v1::TrialResult& result = request.result();
  // A run whose loss is not finite diverged: the worker must say so (and
  // gets DIVERGED with its NaN stored), rather than have it fitted.
  for (const auto& [field, loss] :
       {std::pair{"result.final_val_loss", result.final_val_loss()},
        std::pair{"result.final_train_loss", result.final_train_loss()}}) {
    if (!result.diverged() && !std::isfinite(loss)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": must be finite unless result.diverged is set, got ", loss, " (trial ",
          limits::Echo(request.trial_id()), ")"));
    }
  }
  std::lock_guard lock(mu_);
  const auto held_store = store_->Hold();
  SCALELAW_ASSIGN_OR_RETURN(v1::Trial trial, store_->GetTrial(request.trial_id()));
  SCALELAW_RETURN_IF_ERROR(
      CheckLeaseToken(request.trial_id(), request.attempt(), request.lease_token()));
  const v1::TrialState ended =
      result.diverged() ? v1::TRIAL_STATE_DIVERGED : v1::TRIAL_STATE_SUCCEEDED;
  if (trial.state() == ended && trial.attempt() == request.attempt() &&
      trial.worker_id() == request.worker_id()) {
    return true;  // a resend of a completion already stored
  }
  if (!HoldsLease(trial, request.worker_id(), request.attempt())) return false;
  observer_->OnWorkerContact(PublicWorkerId(request.worker_id()));

  const int64_t now_ms = clock_->NowMs();
  const v1::TrialState previous = trial.state();
  trial.set_state(ended);
  *trial.mutable_result() = result;
  trial.set_reason(result.diverged() ? result.divergence_reason() : "");
  trial.set_lease_deadline_ms(0);
  trial.set_tokens_done(std::max(trial.tokens_done(), result.tokens()));
  if (!result.diverged()) trial.set_latest_val_loss(result.final_val_loss());
  if (result.final_train_loss() != 0) trial.set_latest_train_loss(result.final_train_loss());
  auto attempt_row =
      EndAttempt(trial, now_ms, result.diverged() ? "diverged" : "succeeded", trial.reason());
  SCALELAW_RETURN_IF_ERROR(CommitEnding(TrialWrite{trial, attempt_row}, previous));
  return true;
}

absl::StatusOr<bool> TrialScheduler::FailTrial(const v1::FailTrialRequest& request) {
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(request.worker_id(), "worker_id"));
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(request.trial_id(), "trial_id"));
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(v1::Trial trial, store_->GetTrial(request.trial_id()));
  SCALELAW_RETURN_IF_ERROR(
      CheckLeaseToken(request.trial_id(), request.attempt(), request.lease_token()));
  if (!HoldsLease(trial, request.worker_id(), request.attempt())) return false;
  observer_->OnWorkerContact(PublicWorkerId(request.worker_id()));
  SCALELAW_ASSIGN_OR_RETURN(uint32_t max_attempts, MaxAttempts(trial.spec().sweep_id()));
  const v1::TrialState previous = trial.state();

  const std::string why = request.reason().empty() ? "no reason given" : request.reason();
  auto attempt_row =
      EndAttempt(trial, clock_->NowMs(), request.preempted() ? "preempted" : "failed", why);
  SCALELAW_ASSIGN_OR_RETURN(std::vector<AttemptRecord> attempts,
                            store_->ListAttempts(trial.spec().trial_id()));
  const uint32_t counted = CountedAttempts(attempts, trial.resumed_after_attempt());
  // The earlier preemptions (this attempt's row is not ended yet) and this one.
  const auto preemptions = static_cast<uint32_t>(
      std::count_if(attempts.begin(), attempts.end(),
                    [](const AttemptRecord& a) { return a.outcome == "preempted"; }) +
      (request.preempted() ? 1 : 0));
  const bool retry = request.preempted() ? preemptions <= kMaxPreemptions
                                         : request.retriable() && counted < max_attempts;
  trial.set_state(retry ? v1::TRIAL_STATE_PENDING : v1::TRIAL_STATE_FAILED);
  trial.set_reason(
      retry ? absl::StrCat("attempt ", trial.attempt(), " failed: ", why)
      : request.preempted()
          ? absl::StrCat("attempt ", trial.attempt(), " failed: preempted ", preemptions,
                         " times: ", why)
          : absl::StrCat("attempt ", trial.attempt(), " failed (", counted, " of ", max_attempts,
                         " attempts used): ", why));
  if (retry) trial.clear_worker_id();
  trial.set_lease_deadline_ms(0);
  SCALELAW_RETURN_IF_ERROR(CommitEnding(TrialWrite{trial, attempt_row}, previous));
  return true;
}

absl::StatusOr<uint32_t> TrialScheduler::CancelSweep(const std::string& sweep_id) {
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(sweep_id, "sweep_id"));
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(SweepRecord sweep, store_->GetSweep(sweep_id));
  if (sweep.cancelled) return 0u;
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, store_->ListTrials(sweep_id));
  const int64_t now_ms = clock_->NowMs();
  std::vector<TrialWrite> writes;
  std::vector<v1::TrialState> previous;
  for (v1::Trial& trial : trials) {
    if (IsEnded(trial.state())) continue;
    previous.push_back(trial.state());
    std::optional<AttemptRecord> attempt_row;
    if (IsLive(trial.state()))
      attempt_row = EndAttempt(trial, now_ms, "cancelled", "sweep cancelled");
    trial.set_state(v1::TRIAL_STATE_CANCELLED);
    trial.set_reason("sweep cancelled");
    trial.set_lease_deadline_ms(0);
    writes.push_back(TrialWrite{std::move(trial), std::move(attempt_row)});
  }
  if (writes.empty()) return 0u;  // every trial had ended: the sweep is DONE
  SCALELAW_RETURN_IF_ERROR(store_->CancelSweep(sweep_id, writes));
  for (size_t i = 0; i < writes.size(); ++i) {
    observer_->OnTrialWritten(writes[i].trial, previous[i]);
  }
  return static_cast<uint32_t>(writes.size());
}

absl::StatusOr<ResumedSweep> TrialScheduler::ResumeSweep(const std::string& sweep_id) {
  SCALELAW_RETURN_IF_ERROR(RequireNonEmpty(sweep_id, "sweep_id"));
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(SweepRecord sweep, store_->GetSweep(sweep_id));
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> trials, store_->ListTrials(sweep_id));
  std::map<std::string, v1::TrialState> states;
  for (const v1::Trial& trial : trials) states[trial.spec().trial_id()] = trial.state();
  // Workers are needed when there will be PENDING trials and no live lease:
  // whatever workers the sweep had are gone (their jobs ended, died, or a
  // launch failed), as a live one would have leased a PENDING trial.
  bool live = false;
  ResumedSweep resumed;
  std::vector<TrialWrite> writes;
  std::vector<v1::TrialState> previous;
  SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Forecast> forecasts, store_->ListForecasts(sweep_id));
  const bool has_forecasts = !forecasts.empty();
  for (v1::Trial& trial : trials) {
    if (IsLive(trial.state())) live = true;
    if (trial.state() == v1::TRIAL_STATE_PENDING) resumed.needs_workers = true;
    if (trial.state() != v1::TRIAL_STATE_FAILED && trial.state() != v1::TRIAL_STATE_CANCELLED)
      continue;
    // A cooldown branch of a diverged stable run has nothing to start from.
    const std::string& stable = trial.spec().wsd().stable_trial_id();
    if (!stable.empty() && states[stable] == v1::TRIAL_STATE_DIVERGED) continue;
    // Nor has a compute target its forecast could not size: it stays FAILED
    // (before the forecast it is only waiting, and is resumed).
    if (!trial.spec().forecast_target().empty() && trial.spec().tokens() == 0 && has_forecasts) {
      continue;
    }
    previous.push_back(trial.state());
    trial.set_reason(absl::StrCat("resumed after attempt ", trial.attempt(), " (was ",
                                  v1::TrialState_Name(trial.state()), ": ", trial.reason(), ")"));
    trial.set_state(v1::TRIAL_STATE_PENDING);
    trial.set_resumed_after_attempt(trial.attempt());
    trial.clear_worker_id();
    trial.clear_result();
    trial.set_lease_deadline_ms(0);
    // The next attempt reports its own progress (from its checkpoint, if any).
    trial.set_tokens_done(0);
    writes.push_back(TrialWrite{std::move(trial), std::nullopt});
    resumed.needs_workers = true;
  }
  resumed.needs_workers = resumed.needs_workers && !live;
  if (writes.empty() && !sweep.cancelled) return resumed;
  SCALELAW_RETURN_IF_ERROR(store_->ResumeSweep(sweep_id, writes));
  for (size_t i = 0; i < writes.size(); ++i) {
    observer_->OnTrialWritten(writes[i].trial, previous[i]);
  }
  resumed.requeued = static_cast<uint32_t>(writes.size());
  return resumed;
}

absl::StatusOr<int> TrialScheduler::ExpireLeases() {
  std::lock_guard lock(mu_);
  const int64_t now_ms = clock_->NowMs();
  SCALELAW_ASSIGN_OR_RETURN(
      std::vector<v1::Trial> live,
      store_->ListTrialsInStates({v1::TRIAL_STATE_LEASED, v1::TRIAL_STATE_RUNNING}));
  int expired = 0;
  for (v1::Trial& trial : live) {
    if (now_ms <= trial.lease_deadline_ms()) continue;
    SCALELAW_ASSIGN_OR_RETURN(uint32_t max_attempts, MaxAttempts(trial.spec().sweep_id()));
    SCALELAW_ASSIGN_OR_RETURN(std::vector<AttemptRecord> attempts,
                              store_->ListAttempts(trial.spec().trial_id()));
    const auto earlier_expiries =
        std::count_if(attempts.begin(), attempts.end(), [&](const AttemptRecord& a) {
          return a.outcome == "lease_expired" && a.attempt != trial.attempt();
        });
    const int64_t expiries = earlier_expiries + 1;
    auto attempt_row = EndAttempt(trial, now_ms, "lease_expired",
                                  absl::StrCat("no heartbeat from ",
                                               PublicWorkerId(trial.worker_id())));
    const v1::TrialState previous = trial.state();
    if (CountedAttempts(attempts, trial.resumed_after_attempt()) >= max_attempts) {
      trial.set_state(v1::TRIAL_STATE_FAILED);
      trial.set_reason(absl::StrCat("lease expired ", expiries, expiries == 1 ? " time" : " times",
                                    " (", CountedAttempts(attempts, trial.resumed_after_attempt()),
                                    " of ", max_attempts, " attempts used)"));
    } else {
      trial.set_state(v1::TRIAL_STATE_PENDING);
      trial.set_reason(
          absl::StrCat("attempt ", trial.attempt(), ": lease of ",
                       PublicWorkerId(trial.worker_id()), " expired"));
      trial.clear_worker_id();
    }
    trial.set_lease_deadline_ms(0);
    SCALELAW_RETURN_IF_ERROR(CommitEnding(TrialWrite{trial, attempt_row}, previous));
    observer_->OnLeaseExpired(trial);
    ++expired;
  }
  return expired;
}

uint32_t TrialScheduler::CountedAttempts(const std::vector<AttemptRecord>& attempts,
                                         uint32_t resumed_after_attempt) {
  uint32_t counted = 0;
  for (const AttemptRecord& a : attempts) {
    if (a.outcome != "preempted" && a.attempt > resumed_after_attempt) ++counted;
  }
  return counted;
}

absl::Status TrialScheduler::CommitEnding(const TrialWrite& ended, v1::TrialState previous) {
  std::vector<TrialWrite> writes = {ended};
  const v1::TrialState state = ended.trial.state();
  if (state == v1::TRIAL_STATE_FAILED || state == v1::TRIAL_STATE_DIVERGED) {
    SCALELAW_ASSIGN_OR_RETURN(std::vector<v1::Trial> waiting,
                              store_->ListPendingDependents(ended.trial.spec().trial_id()));
    for (v1::Trial& branch : waiting) {
      branch.set_state(v1::TRIAL_STATE_FAILED);
      branch.set_reason(absl::StrCat("stable run ", ended.trial.spec().trial_id(), " ended ",
                                     v1::TrialState_Name(state), ": ", ended.trial.reason()));
      writes.push_back(TrialWrite{std::move(branch), std::nullopt});
    }
  }
  SCALELAW_RETURN_IF_ERROR(store_->CommitTrialWrites(writes));
  observer_->OnTrialWritten(writes.front().trial, previous);
  for (size_t i = 1; i < writes.size(); ++i) {
    observer_->OnTrialWritten(writes[i].trial, v1::TRIAL_STATE_PENDING);
  }
  return absl::OkStatus();
}

absl::Status TrialScheduler::RenewLiveLeases() {
  std::lock_guard lock(mu_);
  SCALELAW_ASSIGN_OR_RETURN(
      std::vector<v1::Trial> live,
      store_->ListTrialsInStates({v1::TRIAL_STATE_LEASED, v1::TRIAL_STATE_RUNNING}));
  std::vector<TrialWrite> writes;
  const int64_t deadline = DeadlineFromNow();
  for (v1::Trial& trial : live) {
    if (trial.lease_deadline_ms() >= deadline) continue;
    trial.set_lease_deadline_ms(deadline);
    writes.push_back(TrialWrite{std::move(trial), std::nullopt});
  }
  if (writes.empty()) return absl::OkStatus();
  return store_->CommitTrialWrites(writes);
}

}  // namespace scalelaw::coordinator
