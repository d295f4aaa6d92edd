#include "worker/causal_attention.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "worker/attention_dims.h"
#include "worker/attention_rows.h"

#ifdef SCALELAW_HAVE_BLAS
// Fortran BLAS, the library libtorch's own CPU matmuls call (OpenBLAS on Debian).
extern "C" void sgemm_(const char* trans_a, const char* trans_b, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
#endif

namespace scalelaw::worker {
namespace {

// Rows of queries (and columns of keys) per block of the causal triangle.
// Smaller blocks skip more of the masked half but give BLAS thinner matrices
// and more calls: at T = 128, hs = 32 on the project's VM 32 and 64 tied and
// 16 and 128 were slower (bench/README.md); 64 makes the fewer calls.
constexpr int kBlock = 64;

// Row-major C (m x n) = alpha op(A) op(B) + beta C, op(X) = X or X^T. A
// row-major matrix is its own transpose to column-major BLAS, so this asks
// BLAS for C^T = op(B)^T op(A)^T: same flags, operands swapped.
void Gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
#ifdef SCALELAW_HAVE_BLAS
  const char flag_a = trans_a ? 'T' : 'N', flag_b = trans_b ? 'T' : 'N';
  sgemm_(&flag_b, &flag_a, &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc);
#else
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda;
  (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
  TORCH_CHECK(false, "scalelaw was built without a BLAS: CausalAttention cannot run");
#endif
}

// One head of one sequence. q, k, v: (T, hs) rows `ld` apart inside qkv;
// p: (T, T) probabilities, written; y: (T, hs) rows `ld_y` apart, written.
struct HeadForward {
  const float *q, *k, *v;
  int ld;
  float* p;
  float* y;
  int ld_y;
};

void AttendHead(const HeadForward& h, int time, int head_size, float scale) {
  for (int r0 = 0; r0 < time; r0 += kBlock) {
    const int r1 = std::min(time, r0 + kBlock), rows = r1 - r0;
    float* p_rows = h.p + static_cast<ptrdiff_t>(r0) * time;
    // Scores of these queries against the keys they may see, 0 .. r1.
    Gemm(false, true, rows, r1, head_size, scale, h.q + static_cast<ptrdiff_t>(r0) * h.ld, h.ld,
         h.k, h.ld, 0.0f, p_rows, time);
    for (int i = r0; i < r1; ++i) SoftmaxRow(h.p + static_cast<ptrdiff_t>(i) * time, i + 1, time);
    Gemm(false, false, rows, head_size, r1, 1.0f, p_rows, time, h.v, h.ld, 0.0f,
         h.y + static_cast<ptrdiff_t>(r0) * h.ld_y, h.ld_y);
  }
}

// The backward of AttendHead. dy: (T, hs) rows `ld_dy` apart; ds: (T, T)
// scratch; dq, dk, dv: (T, hs) rows `ld` apart inside dqkv, written.
struct HeadBackward {
  const float *q, *k, *v;
  int ld;
  const float* p;
  const float* dy;
  int ld_dy;
  float* ds;
  float *dq, *dk, *dv;
};

void AttendHeadBackward(const HeadBackward& h, int time, int head_size, float scale) {
  for (int r0 = 0; r0 < time; r0 += kBlock) {
    const int r1 = std::min(time, r0 + kBlock), rows = r1 - r0;
    float* ds_rows = h.ds + static_cast<ptrdiff_t>(r0) * time;
    // dP = dY V^T on the blocks the forward multiplied, then dS row by row.
    Gemm(false, true, rows, r1, head_size, 1.0f, h.dy + static_cast<ptrdiff_t>(r0) * h.ld_dy,
         h.ld_dy, h.v, h.ld, 0.0f, ds_rows, time);
    for (int i = r0; i < r1; ++i) {
      const ptrdiff_t row = static_cast<ptrdiff_t>(i) * time;
      SoftmaxBackwardRow(h.p + row, h.ds + row, i + 1, time, scale);
    }
    // dQ = dS K.
    Gemm(false, false, rows, head_size, r1, 1.0f, ds_rows, time, h.k, h.ld, 0.0f,
         h.dq + static_cast<ptrdiff_t>(r0) * h.ld, h.ld);
  }
  // Keys c0 .. c1 were seen by queries c0 .. T: dK = dS^T Q and dV = P^T dY.
  for (int c0 = 0; c0 < time; c0 += kBlock) {
    const int cols = std::min(time, c0 + kBlock) - c0, queries = time - c0;
    const ptrdiff_t corner = static_cast<ptrdiff_t>(c0) * time + c0;
    Gemm(true, false, cols, head_size, queries, 1.0f, h.ds + corner, time,
         h.q + static_cast<ptrdiff_t>(c0) * h.ld, h.ld, 0.0f,
         h.dk + static_cast<ptrdiff_t>(c0) * h.ld, h.ld);
    Gemm(true, false, cols, head_size, queries, 1.0f, h.p + corner, time,
         h.dy + static_cast<ptrdiff_t>(c0) * h.ld_dy, h.ld_dy, 0.0f,
         h.dv + static_cast<ptrdiff_t>(c0) * h.ld, h.ld);
  }
}

// Calls fn(b, h) for every head of every sequence, spread over libtorch's
// intra-op threads (each head writes only its own rows and columns).
template <typename Fn>
void ForEachHead(const AttentionDims& dims, Fn fn) {
  at::parallel_for(0, dims.batch * dims.n_head, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i / dims.n_head, i % dims.n_head);
  });
}

class CausalAttentionFunction : public torch::autograd::Function<CausalAttentionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv,
                               int64_t n_head) {
    const AttentionDims dims = AttentionDimsOf(qkv, n_head, "CausalAttention");
    const torch::Tensor packed = qkv.contiguous();
    torch::Tensor y = torch::empty({dims.batch, dims.time, dims.d}, packed.options());
    torch::Tensor p =
        torch::empty({dims.batch, dims.n_head, dims.time, dims.time}, packed.options());
    const float* base = packed.data_ptr<float>();
    float* y_base = y.data_ptr<float>();
    float* p_base = p.data_ptr<float>();
    const int64_t seq = dims.time * 3 * dims.d, hs = dims.head_size, tt = dims.time * dims.time;
    ForEachHead(dims, [&](int64_t b, int64_t h) {
      const float* q = base + b * seq + h * hs;
      AttendHead({q, q + dims.d, q + 2 * dims.d, static_cast<int>(3 * dims.d),
                  p_base + (b * dims.n_head + h) * tt, y_base + b * dims.time * dims.d + h * hs,
                  static_cast<int>(dims.d)},
                 static_cast<int>(dims.time), static_cast<int>(hs), dims.scale);
    });
    SaveForBackward(ctx, packed, p, n_head);
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const SavedAttention saved = LoadSaved(ctx, "CausalAttention");
    const torch::Tensor& packed = saved.packed;
    const torch::Tensor& p = saved.probs;
    const AttentionDims& dims = saved.dims;
    const torch::Tensor dy = grads[0].contiguous();
    torch::Tensor dqkv = torch::empty_like(packed);
    torch::Tensor ds = torch::empty_like(p);
    const float* base = packed.data_ptr<float>();
    const float* p_base = p.data_ptr<float>();
    const float* dy_base = dy.data_ptr<float>();
    float* ds_base = ds.data_ptr<float>();
    float* dqkv_base = dqkv.data_ptr<float>();
    const int64_t seq = dims.time * 3 * dims.d, hs = dims.head_size, tt = dims.time * dims.time;
    ForEachHead(dims, [&](int64_t b, int64_t h) {
      const int64_t offset = b * seq + h * hs, head = (b * dims.n_head + h) * tt;
      const float* q = base + offset;
      float* dq = dqkv_base + offset;
      AttendHeadBackward(
          {q, q + dims.d, q + 2 * dims.d, static_cast<int>(3 * dims.d), p_base + head,
           dy_base + b * dims.time * dims.d + h * hs, static_cast<int>(dims.d), ds_base + head, dq,
           dq + dims.d, dq + 2 * dims.d},
          static_cast<int>(dims.time), static_cast<int>(hs), dims.scale);
    });
    return {dqkv, torch::Tensor()};
  }
};

}  // namespace

bool CausalAttentionRuns(const torch::Tensor& qkv) {
#ifdef SCALELAW_HAVE_BLAS
  return qkv.device().is_cpu() && qkv.scalar_type() == torch::kFloat;
#else
  (void)qkv;
  return false;
#endif
}

torch::Tensor CausalAttention(const torch::Tensor& qkv, int64_t n_head) {
  return CausalAttentionFunction::apply(qkv, n_head);
}

}  // namespace scalelaw::worker
