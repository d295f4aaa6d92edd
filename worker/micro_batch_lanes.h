// Micro-batches side by side on the CPU (fp32). The trainer takes every micro-batch's
// gradient separately (the noise scale needs each one's norm), so they are
// independent work until they are summed. Run one after the other with T
// intra-op threads each, small models scale poorly: at ~1M parameters two
// threads made a step only ~1.4x faster (bench/README.md), because the
// matmuls are too small to split well. Run side by side on T lanes of one
// thread each, they keep every core busy on its own matmuls.
//
// A lane with one intra-op thread computes exactly what a one-thread run
// computes, so a trial trains bitwise alike with 1 thread or with as many
// lanes as micro-batches; only evaluations, which use all threads, may round
// differently (trainer_test checks both).
#pragma once

#include <cstdint>
#include <functional>

namespace scalelaw::worker {

// How many lanes to use for `micro_batches` micro-batches with `threads`
// intra-op threads: min(threads, micro_batches) for fp32 on the CPU, else 1.
// Under bf16 autocast oneDNN's matmuls split well between threads and every
// lane would cast the weights again: with 2 threads at ~1M parameters lanes
// ran at 34-39k tokens/s against 39-40k without (bench/README.md).
uint32_t MicroBatchLanes(uint32_t threads, uint32_t micro_batches, bool cpu_fp32);

// Calls fn(i) for every i in [0, count) on `lanes` threads (lane l takes
// i = l, l + lanes, ...), each lane running libtorch with `threads / lanes`
// intra-op threads, and returns when all are done. With one lane it calls
// fn in order on the calling thread. fn must only write state of its own i.
// The first exception a lane throws is rethrown here after all lanes end.
void ForEachMicroBatch(uint32_t count, uint32_t lanes, uint32_t threads,
                       const std::function<void(uint32_t)>& fn);

}  // namespace scalelaw::worker
