#!/usr/bin/env python3
"""The Python peer of bench/worker_throughput: scalelaw's training step in PyTorch.

The same model as worker/gpt.cc (GPT-2 / nanoGPT layout: byte embeddings,
learned positions, pre-LayerNorm blocks with causal attention in the worker's
form, or nanoGPT's explicit form with --attention explicit, and a GELU MLP,
final LayerNorm, head tied to the token embedding, GPT-2 init) and
the same step as worker/trainer.cc (AdamW with decayed and non-decayed groups,
micro-batches whose gradients are taken separately so that their squared
norms feed the gradient-noise-scale estimate, grad-norm clipping, warmup +
cosine lr set every step, grads set to None). Written the way one would write
it in Python, on Debian's python3-torch 1.13 (CPU) or, with --device cuda, on a
GPU machine's PyTorch 2.x (bf16 autocast on CUDA, scaled_dot_product_attention
as the worker uses it under libtorch 2.x, AdamW and clipping with PyTorch's
defaults for CUDA tensors).

It trains `--warmup-steps` untimed steps, then times `--steps` steps, and
prints one JSON line:
  {"tokens_per_second": ..., "tokens_per_cpu_second": ..., "params": ...,
   "steps": ..., "seconds": ..., ...}

  /usr/bin/python3 bench/peers/train_loop.py --d-model 128 --n-layer 4 \
      --n-head 4 --n-ctx 128 --batch 32 --micro-batches 2 --threads 2 \
      --precision fp32 --steps 30
"""

import argparse
import contextlib
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, n_head, n_ctx, attention):
        super().__init__()
        self.n_head = n_head
        self.attention = attention
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        mask = torch.ones(n_ctx, n_ctx, dtype=torch.bool).tril()
        self.register_buffer("causal_mask", mask.view(1, 1, n_ctx, n_ctx))

    def forward(self, x):
        B, T, C = x.shape
        H, hs = self.n_head, C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, H, hs).transpose(1, 2) for t in (q, k, v))  # (B, H, T, hs)
        mask = self.causal_mask[:, :, :T, :T]
        if self.attention == "sdpa":
            # worker/gpt.cc's form under libtorch 2.x (flash attention on CUDA).
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif self.attention == "baddbmm":
            # worker/gpt.cc's form: scale and additive -inf mask inside one baddbmm.
            bias = torch.zeros(T, T, dtype=q.dtype, device=q.device).masked_fill_(~mask[0, 0], float("-inf"))
            q, k, v = (t.reshape(B * H, T, hs) for t in (q, k, v))
            att = torch.baddbmm(bias, q, k.transpose(1, 2), alpha=1.0 / math.sqrt(hs))
            y = (F.softmax(att, dim=-1) @ v).view(B, H, T, hs)
        else:
            # nanoGPT's explicit form (its path without scaled_dot_product_attention).
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
            att = att.masked_fill(~mask, float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, d_model, n_head, n_ctx, attention):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head, n_ctx, attention)
        self.ln_2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.fc2(F.gelu(self.fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab_size, d_model, n_layer, n_head, n_ctx, attention="baddbmm"):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, d_model)
        self.wpe = nn.Embedding(n_ctx, d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, n_head, n_ctx, attention) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(d_model)
        # GPT-2 init: N(0, 0.02), biases 0, residual projections / sqrt(2 n_layer).
        self.apply(self._init_weights)
        for block in self.blocks:
            for weight in (block.attn.proj.weight, block.fc2.weight):
                nn.init.normal_(weight, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)

    def forward(self, idx):
        T = idx.size(1)
        pos = torch.arange(T, dtype=torch.long, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.t()  # tied output head


def get_lr(step, peak, min_ratio, warmup_steps, total_steps):
    """Linear warmup, then cosine to peak * min_ratio at the last step."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    floor = peak * min_ratio
    decay_steps = total_steps - 1 - warmup_steps
    if decay_steps == 0:
        return floor
    progress = min(max((step - warmup_steps) / decay_steps, 0.0), 1.0)
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


def load_corpus(directory):
    """Every file under `directory`, in sorted path order, as one byte stream."""
    chunks = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                chunks.append(f.read())
    return torch.frombuffer(bytearray(b"".join(chunks)), dtype=torch.uint8)


def squared_norm(tensors):
    return sum(t.float().square().sum() for t in tensors).item()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-ctx", type=int, default=128)
    p.add_argument("--vocab-size", type=int, default=256)
    p.add_argument("--batch", type=int, default=32, help="sequences per optimiser step")
    p.add_argument("--micro-batches", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--attention", choices=("auto", "sdpa", "baddbmm", "explicit"),
                   default="auto",
                   help="auto: worker/gpt.cc's form for this torch (sdpa from 2.0, else baddbmm); "
                        "explicit: nanoGPT's (the worker's before)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed steps first")
    p.add_argument("--steps", type=int, default=30, help="timed steps")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr-ratio", type=float, default=0.1)
    p.add_argument("--warmup-fraction", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.95)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--corpus", default="", help="text directory; random bytes when empty")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    has_sdpa = hasattr(F, "scaled_dot_product_attention")
    if args.attention == "auto":
        args.attention = "sdpa" if has_sdpa else "baddbmm"
    if args.attention == "sdpa" and not has_sdpa:
        p.error(f"--attention sdpa: torch {torch.__version__} has no scaled_dot_product_attention")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: torch sees no CUDA device")
    device = torch.device(args.device)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = GPT(args.vocab_size, args.d_model, args.n_layer, args.n_head, args.n_ctx,
                args.attention).to(device)
    model.train()
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": args.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=args.lr,
        betas=(args.beta1, args.beta2),
        eps=1e-8,
    )

    if args.corpus:
        data = load_corpus(args.corpus)
    else:
        data = torch.randint(0, args.vocab_size, (1 << 22,), dtype=torch.uint8)
    window = args.n_ctx + 1

    def get_batch():  # sampled on the host and copied over, as the worker does
        ix = torch.randint(len(data) - window + 1, (args.batch,))
        return torch.stack([data[i : i + window] for i in ix]).long().to(device)

    def autocast():
        if args.precision == "bf16":
            return torch.autocast(args.device, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def synchronize():
        if args.device == "cuda":
            torch.cuda.synchronize()

    accumulation = args.micro_batches
    micro = args.batch // accumulation
    total_steps = args.warmup_steps + args.steps
    warmup_lr_steps = min(math.ceil(args.warmup_fraction * total_steps), total_steps - 1)
    smoothed_loss = None  # EMA over ~10 steps, as the trainer's divergence check reads it
    for step in range(total_steps):
        if step == args.warmup_steps:
            synchronize()
            start, cpu_start = time.perf_counter(), time.process_time()
        lr = get_lr(step, args.lr, args.min_lr_ratio, warmup_lr_steps, total_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr

        # Each micro-batch's gradient separately, for its squared norm (the
        # small-batch side of the noise-scale estimate); their mean is the step's.
        windows = get_batch()
        grads, micro_sq_sum, loss_sum = None, 0.0, 0.0
        for x in windows.split(micro):
            with autocast():
                logits = model(x[:, :-1])
                loss = F.cross_entropy(logits.float().flatten(0, 1), x[:, 1:].flatten())
            g = torch.autograd.grad(loss, params)
            if accumulation > 1:
                micro_sq_sum += squared_norm(g)
            grads = g if grads is None else [a.add_(b) for a, b in zip(grads, g)]
            loss_sum += loss.detach()
        for param, grad in zip(params, grads):
            param.grad = grad.div_(accumulation) if accumulation > 1 else grad
        loss = loss_sum.item() / accumulation
        if accumulation > 1:
            big_sq = squared_norm(grads)
            b_small, b_big = micro, args.batch
            g_small_sq = micro_sq_sum / accumulation
            noise = (  # |G|^2 and tr(Sigma), McCandlish et al. 2018, appendix A.1
                (b_big * big_sq - b_small * g_small_sq) / (b_big - b_small),
                (g_small_sq - big_sq) / (1 / b_small - 1 / b_big),
            )

        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, args.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        smoothed_loss = loss if smoothed_loss is None else 0.9 * smoothed_loss + 0.1 * loss
    synchronize()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    tokens = args.steps * args.batch * args.n_ctx

    print(json.dumps({
        "tokens_per_second": tokens / seconds,
        "tokens_per_cpu_second": tokens / cpu_seconds,  # all threads of the process
        "seconds": seconds,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "params": sum(p.numel() for p in params),
        "precision": args.precision,
        "attention": args.attention,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "final_loss": smoothed_loss,  # smoothed, as the worker's TrialResult.final_train_loss
        "noise_estimate": list(noise) if accumulation > 1 else None,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
