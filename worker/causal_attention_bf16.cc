#include "worker/causal_attention_bf16.h"

#ifdef SCALELAW_HAVE_DNNL
#include <ATen/Parallel.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "worker/attention_dims.h"
#include "worker/attention_rows.h"
#endif

namespace scalelaw::worker {

#ifdef SCALELAW_HAVE_DNNL
namespace {

using Desc = dnnl::memory::desc;
using DataType = dnnl::memory::data_type;

const dnnl::engine& Engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One product dst = src x weights, batched over a sequence's heads, and its
// operands' layouts.
struct Product {
  dnnl::matmul matmul;
  Desc src, weights, dst, scratchpad;
  bool jit = false;  // not oneDNN's reference loops (a CPU without bf16 kernels)
};

Product MakeProduct(const Desc& src, const Desc& weights, const Desc& dst, float scale = 1.0f) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (scale != 1.0f) attr.set_output_scales(/*mask=*/0, {scale});
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), attr, Engine());
  const bool jit = !std::string_view(pd.impl_info_str()).starts_with("ref");
  return {dnnl::matmul(pd), src, weights, dst, pd.scratchpad_desc(), jit};
}

// The six products of one sequence's heads, (H, rows, cols) each:
//   a head in qkv:  q, k or v at column offset 0, d or 2 d of the (T, 3 d)
//                   projection: strides (hs, 3 d, 1); its transpose swaps the
//                   last two strides;
//   a head in y:    the (T, d) output and its gradient: strides (hs, d, 1);
//   scores:         (H, T, T) contiguous, fp32 out of the products;
//   probabilities:  (H, T, T) contiguous bf16, or read transposed.
// A sequence at a time keeps its scores (H T^2 floats: 320 KiB at H = 5,
// T = 128) in the core's cache between the products and the softmax, and
// lets the sequences go to the threads.
struct Products {
  Product scores;      // S = Q K^T / sqrt(hs)  (fp32)
  Product values;      // Y = P V
  Product grad_probs;  // dP = dY V^T  (fp32)
  Product grad_q;      // dQ = dS K
  Product grad_k;      // dK = dS^T Q
  Product grad_v;      // dV = P^T dY
  bool jit = true;
  size_t scratchpad_bytes = 0;  // the most any of them needs

  std::array<const Product*, 6> All() const {
    return {&scores, &values, &grad_probs, &grad_q, &grad_k, &grad_v};
  }
};

std::unique_ptr<Products> MakeProducts(const AttentionDims& a) {
  const int64_t h = a.n_head, t = a.time, hs = a.head_size, d = a.d;
  auto layout = [](std::array<int64_t, 3> dims, std::array<int64_t, 3> strides, DataType type) {
    return Desc({dims.begin(), dims.end()}, type, {strides.begin(), strides.end()});
  };
  const Desc head_in_qkv = layout({h, t, hs}, {hs, 3 * d, 1}, DataType::bf16);
  const Desc head_in_qkv_t = layout({h, hs, t}, {hs, 1, 3 * d}, DataType::bf16);
  const Desc head_in_y = layout({h, t, hs}, {hs, d, 1}, DataType::bf16);
  const Desc scores = layout({h, t, t}, {t * t, t, 1}, DataType::f32);
  const Desc probs = layout({h, t, t}, {t * t, t, 1}, DataType::bf16);
  const Desc probs_t = layout({h, t, t}, {t * t, 1, t}, DataType::bf16);
  auto products = std::make_unique<Products>(Products{
      MakeProduct(head_in_qkv, head_in_qkv_t, scores, a.scale),
      MakeProduct(probs, head_in_qkv, head_in_y),
      MakeProduct(head_in_y, head_in_qkv_t, scores),
      MakeProduct(probs, head_in_qkv, head_in_qkv),
      MakeProduct(probs_t, head_in_qkv, head_in_qkv),
      MakeProduct(probs_t, head_in_y, head_in_qkv),
  });
  for (const Product* product : products->All()) {
    products->jit = products->jit && product->jit;
    products->scratchpad_bytes = std::max(products->scratchpad_bytes, product->scratchpad.get_size());
  }
  return products;
}

// Building a product costs far more than running it at these sizes, and a
// trial meets few shapes.
const Products& ProductsFor(const AttentionDims& a) {
  static std::mutex mutex;
  static std::map<std::array<int64_t, 3>, std::unique_ptr<Products>> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<Products>& entry = cache[{a.time, a.n_head, a.head_size}];
  if (!entry) entry = MakeProducts(a);
  return *entry;
}

const Bf16Bits* Bits(const torch::Tensor& t) {
  return reinterpret_cast<const Bf16Bits*>(t.data_ptr<at::BFloat16>());
}
Bf16Bits* MutableBits(torch::Tensor& t) {
  return reinterpret_cast<Bf16Bits*>(t.data_ptr<at::BFloat16>());
}

// A thread's scratch: one sequence's (H, T, T) scores in fp32 and in bf16,
// oneDNN's scratchpad, a stream, and each product's arguments, bound anew to
// each sequence's operands. All made before the parallel region: inside it
// the threads would take turns at malloc's one arena (TuneMallocForTraining).
class Scratch {
 public:
  Scratch(const AttentionDims& a, const Products& products)
      : size_(static_cast<size_t>(a.n_head * a.time * a.time)),
        scores_(std::make_unique_for_overwrite<float[]>(size_)),
        bf16_(std::make_unique_for_overwrite<Bf16Bits[]>(size_)),
        scratchpad_(std::make_unique_for_overwrite<uint8_t[]>(products.scratchpad_bytes)),
        stream_(Engine()) {
    const dnnl::engine& engine = Engine();
    for (const Product* product : products.All()) {
      args_[product] = {
          {DNNL_ARG_SRC, dnnl::memory(product->src, engine, DNNL_MEMORY_NONE)},
          {DNNL_ARG_WEIGHTS, dnnl::memory(product->weights, engine, DNNL_MEMORY_NONE)},
          {DNNL_ARG_DST, dnnl::memory(product->dst, engine, DNNL_MEMORY_NONE)},
          {DNNL_ARG_SCRATCHPAD, dnnl::memory(product->scratchpad, engine, scratchpad_.get())}};
    }
  }

  float* scores() { return scores_.get(); }
  Bf16Bits* bf16() { return bf16_.get(); }

  // dst = src x weights on the calling thread. The sequences' products run
  // concurrently, and a primitive's library-managed scratchpad is not safe to
  // share unless oneDNN was built for concurrent execution: each thread
  // passes its own.
  void Run(const Product& product, const void* src, const void* weights, void* dst) {
    std::unordered_map<int, dnnl::memory>& args = args_.at(&product);
    args.at(DNNL_ARG_SRC).set_data_handle(const_cast<void*>(src));
    args.at(DNNL_ARG_WEIGHTS).set_data_handle(const_cast<void*>(weights));
    args.at(DNNL_ARG_DST).set_data_handle(dst);
    product.matmul.execute(stream_, args);
    stream_.wait();
  }

 private:
  size_t size_;
  std::unique_ptr<float[]> scores_;
  std::unique_ptr<Bf16Bits[]> bf16_;
  std::unique_ptr<uint8_t[]> scratchpad_;
  dnnl::stream stream_;
  std::map<const Product*, std::unordered_map<int, dnnl::memory>> args_;
};

// Calls fn(b, scratch) for every sequence b, spread over libtorch's intra-op
// threads (oneDNN runs single-threaded inside a parallel region).
template <typename Fn>
void ForEachSequence(const AttentionDims& a, const Products& products, Fn fn) {
  std::vector<Scratch> scratch;
  scratch.reserve(static_cast<size_t>(at::get_num_threads()));
  for (int i = 0; i < at::get_num_threads(); ++i) scratch.emplace_back(a, products);
  at::parallel_for(0, a.batch, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    Scratch& mine = scratch.at(static_cast<size_t>(at::get_thread_num()));
    for (int64_t b = begin; b < end; ++b) fn(b, mine);
  });
}

class CausalAttentionBf16Function
    : public torch::autograd::Function<CausalAttentionBf16Function> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv,
                               int64_t n_head) {
    TORCH_CHECK(qkv.device().is_cpu() && qkv.scalar_type() == torch::kBFloat16,
                "CausalAttentionBf16: qkv must be a CPU bfloat16 tensor, not ", qkv.options());
    const AttentionDims a = AttentionDimsOf(qkv, n_head, "CausalAttentionBf16");
    const Products& products = ProductsFor(a);
    const torch::Tensor packed = qkv.contiguous();
    torch::Tensor probs = torch::empty({a.batch, a.n_head, a.time, a.time}, packed.options());
    torch::Tensor y = torch::empty({a.batch, a.time, a.d}, packed.options());
    const int64_t rows = a.n_head * a.time, width = a.time;
    ForEachSequence(a, products, [&](int64_t b, Scratch& scratch) {
      const Bf16Bits* q = Bits(packed) + b * a.time * 3 * a.d;
      Bf16Bits* p = MutableBits(probs) + b * rows * width;
      float* s = scratch.scores();
      scratch.Run(products.scores, q, q + a.d, s);
      for (int64_t row = 0; row < rows; ++row) {
        SoftmaxRowToBf16(s + row * width, p + row * width, static_cast<int>(row % width + 1),
                         static_cast<int>(width));
      }
      scratch.Run(products.values, p, q + 2 * a.d, MutableBits(y) + b * a.time * a.d);
    });

    ctx->save_for_backward({packed, probs});
    ctx->saved_data["n_head"] = n_head;
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& packed = saved[0];
    const torch::Tensor& probs = saved[1];
    const AttentionDims a =
        AttentionDimsOf(packed, ctx->saved_data["n_head"].toInt(), "CausalAttentionBf16");
    const Products& products = ProductsFor(a);
    const torch::Tensor dy = grads[0].to(torch::kBFloat16).contiguous();
    torch::Tensor dqkv = torch::empty_like(packed);
    const int64_t rows = a.n_head * a.time, width = a.time;
    ForEachSequence(a, products, [&](int64_t b, Scratch& scratch) {
      const Bf16Bits* q = Bits(packed) + b * a.time * 3 * a.d;
      const Bf16Bits* p = Bits(probs) + b * rows * width;
      const Bf16Bits* dy_rows = Bits(dy) + b * a.time * a.d;
      Bf16Bits* dq = MutableBits(dqkv) + b * a.time * 3 * a.d;
      float* dp = scratch.scores();
      scratch.Run(products.grad_probs, dy_rows, q + 2 * a.d, dp);
      Bf16Bits* ds = scratch.bf16();
      for (int64_t row = 0; row < rows; ++row) {
        SoftmaxBackwardRowBf16(p + row * width, dp + row * width, ds + row * width,
                               static_cast<int>(row % width + 1), static_cast<int>(width),
                               a.scale);
      }
      scratch.Run(products.grad_q, ds, q + a.d, dq);
      scratch.Run(products.grad_k, ds, q, dq + a.d);
      scratch.Run(products.grad_v, p, dy_rows, dq + 2 * a.d);
    });
    return {dqkv, torch::Tensor()};
  }
};

bool IsQkv(const torch::Tensor& qkv, int64_t n_head) {
  return qkv.device().is_cpu() && qkv.scalar_type() == torch::kBFloat16 && n_head > 0 &&
         qkv.dim() == 3 && qkv.size(2) % (3 * n_head) == 0;
}

}  // namespace

bool CausalAttentionBf16Built() { return true; }

bool CausalAttentionBf16Runs(const torch::Tensor& qkv, int64_t n_head) {
  return IsQkv(qkv, n_head) &&
         ProductsFor(AttentionDimsOf(qkv, n_head, "CausalAttentionBf16")).jit;
}

torch::Tensor CausalAttentionBf16(const torch::Tensor& qkv, int64_t n_head) {
  return CausalAttentionBf16Function::apply(qkv, n_head);
}

#else  // built without oneDNN: the worker keeps the composite form

bool CausalAttentionBf16Built() { return false; }

bool CausalAttentionBf16Runs(const torch::Tensor&, int64_t) { return false; }

torch::Tensor CausalAttentionBf16(const torch::Tensor&, int64_t) {
  TORCH_CHECK(false, "scalelaw was built without oneDNN: CausalAttentionBf16 cannot run");
}

#endif

}  // namespace scalelaw::worker
