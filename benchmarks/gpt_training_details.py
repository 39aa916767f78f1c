"""Two figures behind the `gpt` backend's training speed, on the data of gpt_vs_transformers.py.

    python benchmarks/gpt_training_details.py [--n-train 2000] [--batches 200] [--steps 300]

1. Packing: over random training batches of KJV verses (BPE 1,000, block 64, batch 32), the positions a
   padded batch computes (rows x its longest window) against those of the packed batch (rows x width);
   the share saved is arithmetic not done (attention scales with width squared, so it saves more).
2. The optimiser step: milliseconds per AdamW step of the 2-layer GPT with PyTorch's fused kernel (what
   the backend uses) and with its default (for-each) implementation, gradients held fixed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lmcollapse.running.parts import load_config, load_source
from lmcollapse.models.gpt import GPTModel
from lmcollapse.models.packing import pack_batch
from lmcollapse.config import GPTConfig


def packing_saving(windows: list[np.ndarray], block_size: int, batch_size: int, batches: int) -> tuple[int, int]:
    """(positions computed padded, positions computed packed), summed over random batches."""
    rng = np.random.default_rng(0)
    padded = packed = 0
    for _ in range(batches):
        batch = [windows[i] for i in rng.choice(len(windows), size=batch_size, replace=False)]
        padded += batch_size * max(len(w) - 1 for w in batch)
        x, _, _, _ = pack_batch(batch, block_size)  # x: (rows, width)
        packed += x.shape[0] * x.shape[1]
    return padded, packed


def adamw_step_ms(net: torch.nn.Module, fused: bool, steps: int) -> float:
    """Best-of-three mean milliseconds per optimiser step (gradients random and fixed)."""
    torch.manual_seed(0)
    for p in net.parameters():
        p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1, fused=fused)
    for _ in range(10):  # first steps allocate the optimiser state
        opt.step()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            opt.step()
        best = min(best, (time.perf_counter() - start) / steps)
    return 1000 * best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    config = load_config({"corpus": {"n_train": args.n_train, "n_eval": 200},
                          "tokenizer": {"name": "bpe", "vocab_size": 1000}})
    data = load_source(config)
    model = GPTModel(GPTConfig(n_layer=2, n_head=4, n_embd=64, block_size=args.block_size, epochs=1,
                     batch_size=args.batch_size))
    model.vocab_size_ = data.train.vocab_size
    windows = [w for w, _ in model._windows(model._sequences(data.train), stride=args.block_size)]
    padded, packed = packing_saving(windows, args.block_size, args.batch_size, args.batches)
    print(f"packing, {args.batches} random batches of {args.batch_size} verses: padded batches compute "
          f"{padded:,} positions, packed {packed:,}: {100 * (1 - packed / padded):.0f}% less")
    model.fit(data.train.take(np.arange(64)), seed=0)  # builds the network at its real size
    params = sum(p.numel() for p in model.net_.parameters())
    fused, default = adamw_step_ms(model.net_, True, args.steps), adamw_step_ms(model.net_, False, args.steps)
    print(f"AdamW step, {params:,} parameters, torch {torch.__version__}, {torch.get_num_threads()} threads: "
          f"fused {fused:.2f} ms, default {default:.2f} ms ({default / fused:.1f}x)")


if __name__ == "__main__":
    main()
