#include "sweeps/accounting.h"

namespace scalelaw::sweeps {

ParamCounts CountParams(const v1::ModelShape& shape) {
  const uint64_t d = shape.d_model();
  const uint64_t per_block = 12 * d * d + 13 * d;
  ParamCounts counts;
  counts.embedding = uint64_t{shape.vocab_size()} * d + uint64_t{shape.n_ctx()} * d;
  counts.non_embedding = uint64_t{shape.n_layer()} * per_block + 2 * d;
  counts.total = counts.embedding + counts.non_embedding;
  return counts;
}

double FlopsPerToken6N(uint64_t params) { return 6.0 * static_cast<double>(params); }

// Kaplan et al. 2020, table 1: forward C = 2N + 2 n_layer n_ctx d_attn per
// token; training is 3x forward.
double FlopsPerToken(const v1::ModelShape& shape, uint64_t params) {
  return FlopsPerToken6N(params) +
         6.0 * shape.n_layer() * static_cast<double>(shape.n_ctx()) * shape.d_model();
}

}  // namespace scalelaw::sweeps
