// bfloat16 as its bits, and the two conversions, written as plain integer
// arithmetic so that GCC vectorises the loops that use them. Header-only; no
// libtorch.
#pragma once

#include <bit>
#include <cstdint>

namespace scalelaw::worker {

// bfloat16 as its bits (the upper half of a float), as c10::BFloat16 stores it.
using Bf16Bits = uint16_t;

// x rounded to the nearest bfloat16, ties to even, NaN kept NaN (c10::BFloat16's rounding).
inline Bf16Bits RoundToBf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  // A NaN whose payload sits in the low half would round to infinity.
  const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return static_cast<Bf16Bits>(nan ? 0x7fc0u : rounded);
}

// x as a float (exact).
inline float WidenBf16(Bf16Bits x) { return std::bit_cast<float>(static_cast<uint32_t>(x) << 16); }

}  // namespace scalelaw::worker
