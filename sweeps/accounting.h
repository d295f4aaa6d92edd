// Parameter and FLOP accounting for scalelaw's decoder-only transformer
// (SCIENCE.md, "Counting parameters and compute").
//
// The architecture counted here is the worker's exactly (worker/ checks its
// built model against CountParams in a test):
//   token embedding  vocab_size x d_model (tied with the output head: counted once)
//   position embedding n_ctx x d_model (learned)
//   per block: LayerNorm (2d) + qkv Linear(d, 3d, bias) + proj Linear(d, d, bias)
//              + LayerNorm (2d) + fc Linear(d, 4d, bias) + proj Linear(4d, d, bias)
//              = 12 d^2 + 13 d
//   final LayerNorm (2d)
#pragma once

#include <cstdint>

#include "scalelaw/v1/coordinator.pb.h"

namespace scalelaw::sweeps {

struct ParamCounts {
  uint64_t total = 0;          // every trainable parameter, tied head once
  uint64_t non_embedding = 0;  // total minus token and position embeddings
  uint64_t embedding = 0;      // token + position embeddings
};

ParamCounts CountParams(const v1::ModelShape& shape);

// Training FLOPs per token, 6 N (Kaplan et al. 2020, Chinchilla): forward 2N,
// backward 4N. N is the total count.
double FlopsPerToken6N(uint64_t params);

// Training FLOPs per token with the attention-score term (Kaplan et al. 2020,
// table 1): 6 N + 6 n_layer n_ctx d_model.
double FlopsPerToken(const v1::ModelShape& shape, uint64_t params);

}  // namespace scalelaw::sweeps
