#include "sweeps/model_shape.h"

#include <cmath>
#include <limits>

#include "sweeps/accounting.h"

namespace scalelaw::sweeps {
namespace {

constexpr uint32_t kMaxLayers = 128;

uint32_t HeadSizeFor(uint32_t d_model) { return d_model < 256 ? 32 : 64; }

v1::ModelShape MakeShape(uint32_t n_layer, uint32_t d_model, uint32_t n_ctx, uint32_t vocab_size) {
  v1::ModelShape shape;
  shape.set_n_layer(n_layer);
  shape.set_d_model(d_model);
  shape.set_n_head(d_model / HeadSizeFor(d_model));
  shape.set_n_ctx(n_ctx);
  shape.set_vocab_size(vocab_size);
  return shape;
}

}  // namespace

v1::ModelShape ShapeForParams(double target_params, uint32_t n_ctx, uint32_t vocab_size,
                              uint32_t aspect_ratio) {
  v1::ModelShape best;
  double best_distance = std::numeric_limits<double>::infinity();
  double best_aspect_distance = std::numeric_limits<double>::infinity();
  for (uint32_t n_layer = 1; n_layer <= kMaxLayers; ++n_layer) {
    const uint32_t lo = std::max<uint32_t>(32, aspect_ratio * n_layer / 2);
    const uint32_t hi = 2 * aspect_ratio * n_layer;
    bool any_below_twice_target = false;
    for (uint32_t d_model = 32; d_model <= hi; d_model += HeadSizeFor(d_model)) {
      if (d_model < lo) continue;
      const v1::ModelShape shape = MakeShape(n_layer, d_model, n_ctx, vocab_size);
      const double params = static_cast<double>(CountParams(shape).total);
      if (params < 2 * target_params) any_below_twice_target = true;
      const double distance = std::abs(std::log(params / target_params));
      const double aspect_distance =
          std::abs(std::log(static_cast<double>(d_model) / (aspect_ratio * n_layer)));
      // Closest count wins; a near tie (within 1%) goes to the shape nearer the aspect ratio.
      const bool better =
          distance < best_distance - 0.01 ||
          (distance < best_distance + 0.01 && aspect_distance < best_aspect_distance);
      if (better) {
        best_distance = std::min(distance, best_distance);
        best_aspect_distance = aspect_distance;
        best = shape;
      }
    }
    if (!any_below_twice_target) break;  // counts only grow with depth from here
  }
  return best;
}

}  // namespace scalelaw::sweeps
