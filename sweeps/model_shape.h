// Turns a target parameter count into a transformer shape.
//
// Rule (recorded in every sweep): among shapes whose d_model / n_layer lies
// within a factor 2 of aspect_ratio and whose d_model is a multiple of the head
// size (32 below d_model 256, else 64), take the one whose total parameter
// count (sweeps/accounting.h) is closest to the target in log space; a near
// tie (1%) goes to the shape closer to the aspect ratio.
#pragma once

#include <cstdint>

#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::sweeps {

inline constexpr uint32_t kDefaultAspectRatio = 32;

v1::ModelShape ShapeForParams(double target_params, uint32_t n_ctx, uint32_t vocab_size,
                              uint32_t aspect_ratio = kDefaultAspectRatio);

}  // namespace scalelaw::sweeps
