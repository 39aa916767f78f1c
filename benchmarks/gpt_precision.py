"""Training speed of the `gpt` backend on the CPU in float32 and in bfloat16 autocast, by width: where the
CPU's bfloat16 matrix units (AMX, AVX-512 BF16) start to pay, and what `precision: auto` picks.

    python benchmarks/gpt_precision.py [--widths 64,128,192,256,384] [--seeds 3] [--n-train 1000]
    python benchmarks/gpt_precision.py --compile [--widths 256]
    python benchmarks/gpt_precision.py --attention [--widths 256]
    python benchmarks/gpt_precision.py --profile [--widths 256]

For each width (4 layers, width/64 heads, block 128, batch 32, one epoch on KJV verses, BPE 1,000) and
precision: training tokens/s (the fastest of --repeats fits) and the held-out loss over --seeds seeds,
then the bf16/fp32 ratios, beside the bf16/fp32 ratio of one matmul at the MLP's shape, which bounds the
whole step's (the two precisions' fits alternate seed by seed, so the machine's drift falls on both). Also
the CPU and its bfloat16 units, and the machine's matmul rate in each precision (1024 x 1024).

--compile instead times bfloat16 fits of the network wrapped in torch.compile (inductor) against eager ones,
one seed after another in one process, as a run's generations would come: the first compiled fits pay for
compiling (and recompiling for new shapes), so every fit's time is printed.

--attention times one training step of attention alone on bfloat16 q, k, v (forward and backward, batch 32,
block 128, the width's heads) three ways: cast to float32 for the fused float32 kernel (the model's
earlier path under bfloat16 autocast), the fused bfloat16 kernel, and the two bfloat16 matmuls around a
softmax summed in float32 that the model uses now.

--profile runs one bfloat16 fit per width under torch.profiler and prints where its time goes: the share of
matmuls (mm, addmm, bmm) and the largest other operators.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lmcollapse.config import GPTConfig
from lmcollapse.running.parts import load_config, load_source
from lmcollapse.models.gpt import GPTModel
from lmcollapse.models.neural.device import bf16_pays, cpu_description
from lmcollapse.models.neural.transformer import bfloat16_cpu_attention


def matmul_gflops(dtype, m: int = 1024, k: int = 1024, n: int = 1024) -> float:
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        best = min(best, (time.perf_counter() - start) / 10)
    return 2 * m * k * n / best / 1e9


def fit(data, width: int, precision: str, seed: int, args) -> tuple[float, float, int]:
    """(training tokens/s, held-out nats per token, parameters) of one fit."""
    config = GPTConfig(n_layer=args.n_layer, n_head=max(width // 64, 1), n_embd=width, block_size=128, epochs=1,
                       batch_size=32, lr=args.lr, precision=precision, device="cpu")
    model = GPTModel(config)
    start = time.perf_counter()
    model.fit(data.train, seed=seed)
    seconds = time.perf_counter() - start
    tokens = data.train.n_tokens + 2 * len(data.train)  # BOS and end token of every verse
    _, logp = model.token_log_probs(data.held_out)
    return tokens / seconds, float(-logp.mean()), sum(p.numel() for p in model.net_.parameters())


def compiled_fits(data, width: int, args) -> None:
    """Eager and torch.compile'd bfloat16 fits of one width, seed after seed: time, tokens/s and loss each."""
    build = GPTModel._build_net
    tokens = data.train.n_tokens + 2 * len(data.train)
    for label in ("eager", "compiled"):
        GPTModel._build_net = build if label == "eager" else (lambda self: torch.compile(build(self)))
        for seed in range(args.seeds):
            start = time.perf_counter()
            rate, loss, _ = fit(data, width, "bf16", seed, args)
            print(f"width {width} {label:>8} seed {seed}: {time.perf_counter() - start:6.1f}s with scoring, "
                  f"training {rate:8,.0f} tokens/s ({tokens / rate:5.1f}s), held-out loss {loss:.4f}", flush=True)
    GPTModel._build_net = build


def attention_step_ms(width: int, variant: str, repeats: int = 30) -> float:
    """Milliseconds of one causal attention forward + backward at training shapes (fastest of repeats)."""
    heads, T = max(width // 64, 1), 128
    q, k, v = (torch.randn(32, heads, T, width // heads, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))

    def step():
        if variant == "fused float32":
            y = torch.nn.functional.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True)
        elif variant == "fused bfloat16":
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # what models/neural/transformer.py runs under bfloat16 autocast
            y = bfloat16_cpu_attention(q, k, v)
        y.float().sum().backward()

    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def profile_fit(data, width: int, args) -> None:
    """One bfloat16 fit (and its held-out scoring) under torch.profiler: the matmuls' share of the operators' own
    time, then the largest others."""
    from torch.profiler import ProfilerActivity, profile

    fit(data, width, "bf16", 0, args)  # warm up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fit(data, width, "bf16", 0, args)
    ops = sorted(prof.key_averages(), key=lambda op: -op.self_cpu_time_total)
    total = sum(op.self_cpu_time_total for op in ops)
    matmuls = ("aten::mm", "aten::addmm", "aten::bmm")
    matmul = sum(op.self_cpu_time_total for op in ops if op.key in matmuls)
    others = [op for op in ops if op.key not in matmuls][:8]
    print(f"width {width}, one bfloat16 fit: matmuls {100 * matmul / total:.0f}% of the operators' own time; "
          f"then " + ", ".join(f"{op.key} {100 * op.self_cpu_time_total / total:.1f}%" for op in others))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="64,128,192,256,384")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="fits per width and precision timed (fastest kept)")
    parser.add_argument("--lr", type=float, default=0.003)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--compile", action="store_true", help="time torch.compile'd bf16 fits against eager ones")
    mode.add_argument("--attention", action="store_true", help="time the attention kernels alone")
    mode.add_argument("--profile", action="store_true", help="where one bfloat16 fit's time goes")
    args = parser.parse_args()

    torch.set_num_threads(torch.get_num_threads())
    print(cpu_description())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; matmul 1024^3: "
          f"{matmul_gflops(torch.float32):.0f} GFLOP/s float32, {matmul_gflops(torch.bfloat16):.0f} GFLOP/s bfloat16")
    if args.attention:
        for width in (int(w) for w in args.widths.split(",")):
            times = {variant: attention_step_ms(width, variant)
                     for variant in ("fused float32", "fused bfloat16", "bfloat16 matmuls, softmax summed in float32")}
            print(f"width {width}, attention forward + backward: " + ", ".join(
                f"{variant} {ms:.1f} ms" for variant, ms in times.items()))
        return
    data = load_source(load_config({"corpus": {"name": "kjv", "n_train": args.n_train, "n_eval": 300},
                                    "tokenizer": {"name": "bpe", "vocab_size": 1000}}))
    print(f"KJV {len(data.train)} verses, {data.train.n_tokens:,} BPE tokens; {args.n_layer} layers, block 128, "
          f"batch 32, 1 epoch")
    if args.compile or args.profile:
        for width in (int(w) for w in args.widths.split(",")):
            (compiled_fits if args.compile else profile_fit)(data, width, args)
        return
    # The matmul speed-up at the MLP's shape (a batch's 4,096 positions, width -> 4 width) bounds the whole
    # step's: the rest of a step (norms, GELU, softmax, optimizer) is memory-bound in either precision.
    print(f"{'width':>5} {'params':>9} {'fp32 tok/s':>11} {'bf16 tok/s':>11} {'speed-up':>8} {'matmul':>7} "
          f"{'fp32 loss':>10} {'bf16 loss':>10} {'loss diff':>9}  auto")
    for width in (int(w) for w in args.widths.split(",")):
        # The precisions alternate seed by seed: this shared machine's speed drifts by a quarter or more over
        # a minute, and fitting every float32 seed before every bfloat16 one would charge the drift to one side.
        runs = {"fp32": [], "bf16": []}
        for seed in range(max(args.seeds, args.repeats)):
            for precision in runs:
                runs[precision].append(fit(data, width, precision, seed, args))
        rates = {precision: max(r for r, _, _ in found[:args.repeats]) for precision, found in runs.items()}
        losses = {precision: np.mean([loss for _, loss, _ in found[:args.seeds]]) for precision, found in runs.items()}
        params = runs["fp32"][0][2]
        auto = "bf16" if bf16_pays(torch.device("cpu"), width) else "fp32"
        shape = (4096, width, 4 * width)
        matmul = matmul_gflops(torch.bfloat16, *shape) / matmul_gflops(torch.float32, *shape)
        print(f"{width:>5} {params:>9,} {rates['fp32']:>11,.0f} {rates['bf16']:>11,.0f} "
              f"{rates['bf16'] / rates['fp32']:>7.2f}x {matmul:>6.2f}x {losses['fp32']:>10.4f} {losses['bf16']:>10.4f} "
              f"{100 * (losses['bf16'] / losses['fp32'] - 1):>+8.2f}%  {auto}", flush=True)


if __name__ == "__main__":
    main()
