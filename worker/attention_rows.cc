#include "worker/attention_rows.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "worker/vector_math.h"

namespace scalelaw::worker {
namespace {

// Lanes the row loops keep apart so that GCC vectorises their reductions
// without reassociating floating-point sums behind the code's back.
constexpr int kLanes = 16;

// p[0..n) = exp(p - max) in place; returns 1 / their sum.
inline float ExpAndInverseSum(float* p, int n) {
  float lane_max[kLanes];
  std::fill(lane_max, lane_max + kLanes, -std::numeric_limits<float>::infinity());
  int j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) lane_max[l] = std::max(lane_max[l], p[j + l]);
  }
  float max = *std::max_element(lane_max, lane_max + kLanes);
  for (; j < n; ++j) max = std::max(max, p[j]);

  float lane_sum[kLanes] = {};
  j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      p[j + l] = ExpNonPositive(p[j + l] - max);
      lane_sum[l] += p[j + l];
    }
  }
  float sum = 0.0f;
  for (int l = 0; l < kLanes; ++l) sum += lane_sum[l];
  for (; j < n; ++j) {
    p[j] = ExpNonPositive(p[j] - max);
    sum += p[j];
  }
  return 1.0f / sum;
}

}  // namespace

SCALELAW_VECTOR_KERNEL void SoftmaxRow(float* p, int n, int width) {
  const float inverse = ExpAndInverseSum(p, n);
  for (int j = 0; j < n; ++j) p[j] *= inverse;
  std::memset(p + n, 0, sizeof(float) * static_cast<size_t>(width - n));
}

SCALELAW_VECTOR_KERNEL void SoftmaxRowToBf16(float* p, Bf16Bits* out, int n, int width) {
  const float inverse = ExpAndInverseSum(p, n);
  for (int j = 0; j < n; ++j) out[j] = RoundToBf16(p[j] * inverse);
  std::memset(out + n, 0, sizeof(Bf16Bits) * static_cast<size_t>(width - n));
}

SCALELAW_VECTOR_KERNEL void SoftmaxBackwardRow(const float* p, float* dp, int n, int width,
                                               float scale) {
  float lane_dot[kLanes] = {};
  int j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) lane_dot[l] += p[j + l] * dp[j + l];
  }
  float dot = 0.0f;
  for (int l = 0; l < kLanes; ++l) dot += lane_dot[l];
  for (; j < n; ++j) dot += p[j] * dp[j];
  for (j = 0; j < n; ++j) dp[j] = scale * p[j] * (dp[j] - dot);
  std::memset(dp + n, 0, sizeof(float) * static_cast<size_t>(width - n));
}

SCALELAW_VECTOR_KERNEL void SoftmaxBackwardRowBf16(const Bf16Bits* p, const float* dp,
                                                   Bf16Bits* ds, int n, int width, float scale) {
  float lane_dot[kLanes] = {};
  int j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) lane_dot[l] += WidenBf16(p[j + l]) * dp[j + l];
  }
  float dot = 0.0f;
  for (int l = 0; l < kLanes; ++l) dot += lane_dot[l];
  for (; j < n; ++j) dot += WidenBf16(p[j]) * dp[j];
  for (j = 0; j < n; ++j) ds[j] = RoundToBf16(scale * WidenBf16(p[j]) * (dp[j] - dot));
  std::memset(ds + n, 0, sizeof(Bf16Bits) * static_cast<size_t>(width - n));
}

}  // namespace scalelaw::worker
