// Micro-batches side by side on the CPU (fp32). The trainer takes every
// micro-batch's gradient separately (the noise scale needs each one's norm),
// so they are independent work until they are summed. Run one after the
// other with T intra-op threads each, small models scale poorly: at ~1M
// parameters two threads made a step only ~1.4x faster than one
// (bench/README.md), because the matmuls are too small to split well. Run
// side by side, one intra-op thread per lane, they keep every core busy on
// its own matmuls.
//
// A lane computes a micro-batch's gradient exactly as a one-thread run does,
// and the trainer sums them in order, so the parameters follow the one-thread
// run bitwise. What the main thread reduces with all threads (the noise
// scale's squared norms, evaluations) may round differently (trainer_test).
//
// Each lane calls at::set_num_threads(1). With OpenMP that sets the lane's own
// thread count, but it also stores libtorch's process-wide default (read by
// threads that have not run parallel work yet): the trainer sets its own
// thread count at the start of every trial and has run parallel work before
// the first lane starts.
#pragma once

#include <cstdint>
#include <functional>

namespace scalelaw::worker {

// How many lanes to use for `micro_batches` micro-batches with `threads`
// intra-op threads: `threads` for fp32 on the CPU when 2 <= threads <=
// micro_batches, so that every lane has one whole core and one thread; else
// 1 (one after the other, as before). More threads than micro-batches were
// never measured with lanes. Under bf16 autocast oneDNN's matmuls split well
// between threads and every lane would cast the weights again: with 2
// threads at ~1M parameters lanes ran at 34-39k tokens/s against 39-40k
// without (bench/README.md).
uint32_t MicroBatchLanes(uint32_t threads, uint32_t micro_batches, bool cpu_fp32);

// Calls fn(i) for every i in [0, count) on `lanes` threads of one intra-op
// thread each (lane l takes i = l, l + lanes, ...), and returns when all are
// done. With one lane it calls fn in order on the calling thread. fn must
// only write state of its own i. If a lane throws, or a lane cannot be
// started, the error of the lowest-numbered failing lane is rethrown after
// every started lane has ended.
void ForEachMicroBatch(uint32_t count, uint32_t lanes, const std::function<void(uint32_t)>& fn);

}  // namespace scalelaw::worker
