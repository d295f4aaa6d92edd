// Trains one trial: builds the model of a TrialSpec, trains it on a dataset
// with AdamW and the trial's own cosine schedule, and measures what
// SCIENCE.md asks of a trial (exact parameter counts, FLOPs, smoothed training
// loss, validation loss at log-spaced token counts, gradient noise scale,
// throughput).
//
// This header is free of libtorch; the implementation fences libtorch's
// exceptions (c10::Error) and returns them as absl::Status.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/token_dataset.h"
#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::worker {

struct TrainerHooks {
  // Called on the training thread with every measurement: training points
  // every log_every_steps steps and validation points. trial_id, seq, step,
  // tokens, flops and wall_seconds are set; attempt is left 0 for the caller
  // to fill. seq numbers the trial's points 1, 2, ... across attempts: an
  // attempt that resumes from a checkpoint first replays the checkpoint's
  // points (same seq and values), then continues the numbering, so its
  // points alone hold the whole curve without a gap or a repeated step.
  // Must not block for long: training waits for it.
  std::function<void(const v1::MetricPoint&)> on_metric;
  // Another thread sets *stop (e.g. the lease was lost); training stops at
  // the next step boundary and TrainTrial returns a Cancelled status.
  const std::atomic<bool>* stop = nullptr;
  // When set, receives the tokens trained so far after every step (for
  // heartbeats).
  std::atomic<uint64_t>* tokens_done = nullptr;
  // Intra-op threads; 0 takes spec.training.threads (and 1 when that is 0).
  // torch::set_num_threads is process-wide: run one trial per process.
  uint32_t threads = 0;
};

// Trains `spec` on `corpus` to the end of its token budget. A shape with
// vocab_size 0 takes the dataset's vocabulary; a larger one than the
// dataset's is allowed (unused rows, as nanoGPT pads 50257 to 50304). With
// spec.training.checkpoint_dir set, the state is checkpointed (worker/
// checkpoint.h) every checkpoint_every_steps steps, at the end and when
// stopped, and training resumes from the trial's newest checkpoint; a
// resumed run follows the uninterrupted one step for step (the same model,
// optimiser, data order, noise-scale and smoothed-loss state). A diverged run
// (non-finite loss, or smoothed loss > its running minimum + 2 nats after
// warmup) is a result: result.diverged is set with the reason. Errors:
// InvalidArgument for a spec the worker cannot train (the field is named),
// FailedPrecondition when the spec asks for CUDA and none is present or the
// newest checkpoint belongs to a different trajectory, DataLoss when every
// checkpoint is unreadable, Internal when a checkpoint cannot be written,
// Cancelled when hooks.stop was set, Internal for a libtorch error.
absl::StatusOr<v1::TrialResult> TrainTrial(const v1::TrialSpec& spec,
                                           const data::TokenDataset& corpus,
                                           const TrainerHooks& hooks = {});

// Checks a spec against what the trainer supports, without libtorch. With
// data_vocab_size > 0, a nonzero shape.vocab_size must be at least that.
absl::Status ValidateTrialSpec(const v1::TrialSpec& spec, uint32_t data_vocab_size = 0);

// Steps of a trial: ceil(tokens / (batch_size * n_ctx)).
uint64_t StepsForTokens(uint64_t tokens, uint32_t batch_size, uint32_t n_ctx);

// The step counts (number of optimiser steps done, 1..total_steps) after
// which validation runs: `eval_points` log-spaced token counts from
// max(one step, tokens / 100) to the end, always including total_steps.
std::vector<uint64_t> EvalSteps(uint64_t total_steps, uint64_t tokens_per_step,
                                uint32_t eval_points);

// "cuda" when libtorch sees a CUDA device, else "cpu".
std::string AvailableDevice();

// glibc malloc settings for the backward pass (DESIGN.md, platform facts:
// 9.7k -> 15.1k tokens/s on a ~1M-parameter model): large blocks stay on the
// heap instead of being mmap'ed and unmapped every step. Threads keep glibc's
// per-thread arenas: one shared arena made two threads calling oneDNN at once
// wait on its lock (bf16 at ~1M, 2 threads: 52-54k against 53-58k tokens/s);
// the micro-batch lanes pin their arenas' heaps instead
// (worker/micro_batch_lanes.cc). // Call once at start, before other threads.
void TuneMallocForTraining();

}  // namespace scalelaw::worker
