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

#ifdef _OPENMP
#include <omp.h>
#endif

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

// A work item is a group of heads of one sequence; its scratch (the group's
// scores in fp32 and bf16, 6 bytes per score) stays under this wherever one
// head's does (T <= 1182), so long contexts do not multiply memory by the
// thread count beyond one head per thread.
constexpr int64_t kScratchBytes = 8 << 20;

// Heads per work item: the most (a divisor of n_head) whose scratch fits and
// that still gives every thread an item. One head when nothing else fits.
int64_t HeadsPerItem(const AttentionDims& a, int64_t threads) {
  int64_t heads = 1;
  for (int64_t g = 2; g <= a.n_head; ++g) {
    const bool fits = 6 * g * a.time * a.time <= kScratchBytes;
    const bool enough = a.batch * (a.n_head / g) >= threads;
    if (a.n_head % g == 0 && fits && enough) heads = g;
  }
  return heads;
}

// The six products of one work item, (G, rows, cols) each over its G heads:
//   a head in qkv:  q, k or v at column offset 0, d or 2 d of the (T, 3 d)
//                   projection: strides (hs, 3 d, 1); its transpose swaps the
//                   last two strides;
//   a head in y:    the (T, d) output and its gradient: strides (hs, d, 1);
//   scores:         (G, T, T) contiguous, fp32 out of the products;
//   probabilities:  (G, T, T) contiguous bf16, or read transposed.
// An item at a time keeps its scores in the core's cache between the
// products and the softmax, and spreads the items over the threads.
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

// Null when oneDNN has no bf16 matmul on this CPU at all (oneDNN 2.x has
// none without AVX-512: building the primitive throws).
std::unique_ptr<Products> MakeProducts(const AttentionDims& a, int64_t heads) try {
  const int64_t g = heads, t = a.time, hs = a.head_size, d = a.d;
  auto layout = [](std::array<int64_t, 3> dims, std::array<int64_t, 3> strides, DataType type) {
    return Desc({dims.begin(), dims.end()}, type, {strides.begin(), strides.end()});
  };
  const Desc head_in_qkv = layout({g, t, hs}, {hs, 3 * d, 1}, DataType::bf16);
  const Desc head_in_qkv_t = layout({g, hs, t}, {hs, 1, 3 * d}, DataType::bf16);
  const Desc head_in_y = layout({g, t, hs}, {hs, d, 1}, DataType::bf16);
  const Desc scores = layout({g, t, t}, {t * t, t, 1}, DataType::f32);
  const Desc probs = layout({g, t, t}, {t * t, t, 1}, DataType::bf16);
  const Desc probs_t = layout({g, t, t}, {t * t, 1, t}, DataType::bf16);
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
} catch (const dnnl::error&) {
  return nullptr;
}

// Building a product costs far more than running it at these sizes, and a
// trial meets few shapes. Null (remembered as such) where oneDNN cannot.
const Products* ProductsFor(const AttentionDims& a, int64_t heads) {
  static std::mutex mutex;
  static std::map<std::array<int64_t, 4>, std::unique_ptr<Products>> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  const std::array<int64_t, 4> key = {a.time, heads, a.head_size, a.d};
  auto found = cache.find(key);
  if (found == cache.end()) found = cache.emplace(key, MakeProducts(a, heads)).first;
  return found->second.get();
}

const Products& RunnableProductsFor(const AttentionDims& a, int64_t heads) {
  const Products* products = ProductsFor(a, heads);
  TORCH_CHECK(products != nullptr,
              "CausalAttentionBf16: this CPU's oneDNN has no bf16 matmul (it needs AVX-512)");
  return *products;
}

const Bf16Bits* Bits(const torch::Tensor& t) {
  return reinterpret_cast<const Bf16Bits*>(t.data_ptr<at::BFloat16>());
}
Bf16Bits* MutableBits(torch::Tensor& t) {
  return reinterpret_cast<Bf16Bits*>(t.data_ptr<at::BFloat16>());
}

// A thread's scratch: one item's (G, T, T) scores in fp32 and in bf16,
// oneDNN's scratchpad, a stream, and each product's arguments, bound anew to
// each item's operands. All made before the parallel region, so that the
// threads do not meet in malloc inside it.
class Scratch {
 public:
  Scratch(size_t scores, const Products& products)
      : scores_(std::make_unique_for_overwrite<float[]>(scores)),
        bf16_(std::make_unique_for_overwrite<Bf16Bits[]>(scores)),
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

  // dst = src x weights on the calling thread. The items' products run
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
  std::unique_ptr<float[]> scores_;
  std::unique_ptr<Bf16Bits[]> bf16_;
  std::unique_ptr<uint8_t[]> scratchpad_;
  dnnl::stream stream_;
  std::map<const Product*, std::unordered_map<int, dnnl::memory>> args_;
};

// One work item, G heads of one sequence, as the offsets (in elements) of its
// first head in each layout.
struct Item {
  int64_t qkv;    // into the (B, T, 3 d) projection and its gradient
  int64_t y;      // into the (B, T, d) output and its gradient
  int64_t probs;  // into the (B, H, T, T) probabilities
};

// Threads at::parallel_for may start here: its `#pragma omp parallel` is
// compiled into this file, so the team is this OpenMP runtime's, which with
// a libtorch carrying its own libgomp need not be the one
// torch::set_num_threads set.
int64_t MaxThreads() {
#ifdef _OPENMP
  return std::max<int64_t>(omp_get_max_threads(), at::get_num_threads());
#else
  return at::get_num_threads();
#endif
}

// Calls fn(item, scratch) for every item, spread over libtorch's intra-op
// threads. With several items each thread's products run single-threaded
// (oneDNN inside an OpenMP parallel region); with one, parallel_for runs it
// inline and oneDNN splits the products over the threads itself.
template <typename Fn>
void ForEachItem(const AttentionDims& a, int64_t heads, const Products& products, Fn fn) {
  const int64_t per_sequence = a.n_head / heads, items = a.batch * per_sequence;
  const int64_t threads = std::min(MaxThreads(), items);
  std::vector<Scratch> scratch;
  scratch.reserve(static_cast<size_t>(threads));
  for (int64_t i = 0; i < threads; ++i) {
    scratch.emplace_back(static_cast<size_t>(heads * a.time * a.time), products);
  }
  at::parallel_for(0, items, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    const int thread = at::get_thread_num();
    TORCH_CHECK(thread < threads, "CausalAttentionBf16: thread ", thread, " of ", threads);
    Scratch& mine = scratch[static_cast<size_t>(thread)];
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / per_sequence, h = i % per_sequence * heads;
      fn(Item{b * a.time * 3 * a.d + h * a.head_size, b * a.time * a.d + h * a.head_size,
              (b * a.n_head + h) * a.time * a.time},
         mine);
    }
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
    const int64_t heads = HeadsPerItem(a, at::get_num_threads());
    const Products& products = RunnableProductsFor(a, heads);
    const torch::Tensor packed = qkv.contiguous();
    torch::Tensor probs = torch::empty({a.batch, a.n_head, a.time, a.time}, packed.options());
    torch::Tensor y = torch::empty({a.batch, a.time, a.d}, packed.options());
    const int64_t rows = heads * a.time, width = a.time;
    ForEachItem(a, heads, products, [&](const Item& item, Scratch& scratch) {
      const Bf16Bits* q = Bits(packed) + item.qkv;
      Bf16Bits* p = MutableBits(probs) + item.probs;
      float* s = scratch.scores();
      scratch.Run(products.scores, q, q + a.d, s);
      for (int64_t row = 0; row < rows; ++row) {
        SoftmaxRowToBf16(s + row * width, p + row * width, static_cast<int>(row % width + 1),
                         static_cast<int>(width));
      }
      scratch.Run(products.values, p, q + 2 * a.d, MutableBits(y) + item.y);
    });

    SaveForBackward(ctx, packed, probs, n_head);
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const SavedAttention saved = LoadSaved(ctx, "CausalAttentionBf16");
    const torch::Tensor& packed = saved.packed;
    const torch::Tensor& probs = saved.probs;
    const AttentionDims& a = saved.dims;
    const int64_t heads = HeadsPerItem(a, at::get_num_threads());
    const Products& products = RunnableProductsFor(a, heads);
    const torch::Tensor dy = grads[0].to(torch::kBFloat16).contiguous();
    torch::Tensor dqkv = torch::empty_like(packed);
    const int64_t rows = heads * a.time, width = a.time;
    ForEachItem(a, heads, products, [&](const Item& item, Scratch& scratch) {
      const Bf16Bits* q = Bits(packed) + item.qkv;
      const Bf16Bits* p = Bits(probs) + item.probs;
      const Bf16Bits* dy_rows = Bits(dy) + item.y;
      Bf16Bits* dq = MutableBits(dqkv) + item.qkv;
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
  if (!IsQkv(qkv, n_head)) return false;
  const AttentionDims a = AttentionDimsOf(qkv, n_head, "CausalAttentionBf16");
  const Products* products = ProductsFor(a, HeadsPerItem(a, at::get_num_threads()));
  return products != nullptr && products->jit;
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
