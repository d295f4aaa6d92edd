#include "worker/matmul_peak.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

#include "absl/strings/str_cat.h"

namespace scalelaw::worker {

absl::StatusOr<MatmulPeak> MeasureMatmulPeak(int threads, bool bf16, double seconds, bool cuda) {
  if (threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat("threads: must be >= 1, got ", threads));
  }
  if (!(seconds > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("seconds: must be > 0, got ", seconds));
  }
  if (cuda && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError("cuda: libtorch sees no CUDA device");
  }
  using Clock = std::chrono::steady_clock;
  try {
    torch::NoGradGuard no_grad;
    torch::set_num_threads(threads);
    const auto options = torch::TensorOptions()
                             .dtype(bf16 ? torch::kBFloat16 : torch::kFloat)
                             .device(cuda ? torch::kCUDA : torch::kCPU);
    // The GPU is asynchronous: each timing waits for the queued products.
    auto finish = [cuda] {
      if (cuda) torch::cuda::synchronize();
    };
    MatmulPeak best;
    const std::vector<int64_t> sizes =
        cuda ? std::vector<int64_t>{4096, 8192} : std::vector<int64_t>{1024, 2048};
    for (const int64_t n : sizes) {
      const torch::Tensor a = torch::randn({n, n}).to(options);
      const torch::Tensor b = torch::randn({n, n}).to(options);
      torch::Tensor c = torch::mm(a, b);  // warmup: packing buffers, thread pool, cuBLAS handle
      finish();
      const auto start = Clock::now();
      const std::clock_t cpu_start = std::clock();  // CPU time of the whole process
      const auto until = start + std::chrono::duration<double>(seconds / 2);
      int64_t products = 0;
      do {
        torch::mm_out(c, a, b);
        ++products;
        if (products % 8 == 0) finish();  // bounds the queue, so the clock sees the work
      } while (Clock::now() < until);
      finish();
      const double wall = std::chrono::duration<double>(Clock::now() - start).count();
      const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
      const double flops = 2.0 * static_cast<double>(n * n * n * products);
      best.flops_per_second = std::max(best.flops_per_second, flops / wall);
      best.flops_per_cpu_second = std::max(best.flops_per_cpu_second, flops / std::max(cpu, 1e-9));
    }
    return best;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("libtorch: ", e.what_without_backtrace()));
  }
}

}  // namespace scalelaw::worker
