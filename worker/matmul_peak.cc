#include "worker/matmul_peak.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace scalelaw::worker {

absl::StatusOr<MatmulPeak> MeasureMatmulPeak(int threads, bool bf16, double seconds) {
  if (threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat("threads: must be >= 1, got ", threads));
  }
  if (!(seconds > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("seconds: must be > 0, got ", seconds));
  }
  using Clock = std::chrono::steady_clock;
  try {
    torch::NoGradGuard no_grad;
    torch::set_num_threads(threads);
    const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat;
    MatmulPeak best;
    for (const int64_t n : {1024, 2048}) {
      const torch::Tensor a = torch::randn({n, n}).to(dtype);
      const torch::Tensor b = torch::randn({n, n}).to(dtype);
      torch::Tensor c = torch::mm(a, b);  // warmup: packing buffers, thread pool
      const auto start = Clock::now();
      const std::clock_t cpu_start = std::clock();  // CPU time of the whole process
      const auto until = start + std::chrono::duration<double>(seconds / 2);
      int64_t products = 0;
      do {
        torch::mm_out(c, a, b);
        ++products;
      } while (Clock::now() < until);
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
