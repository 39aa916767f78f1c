"""When to drop finished documents from the `gpt` backend's decoding batch: sampling time by the share of
rows finished that triggers a drop (models/neural/sampling.py DROP_WHEN_FINISHED), and never dropping.

    python benchmarks/gpt_sampling_drop.py [--shares 0.5,0.25,0.125,0.0625] [--samples 4096] [--rounds 2]

Fits one GPT (width 256, 2 layers, block 128, one epoch on 2,000 KJV verses, BPE 1,000: the cpu-large
paper preset's shape) and samples --samples documents with each share, --rounds times alternating, on one
thread (as a sweep worker runs). Prints the fastest time per share, tokens/s, and checks that every
setting draws the same documents (the draws must not depend on the batch's make-up).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lmcollapse.models.gpt import GPTConfig, GPTModel
from lmcollapse.running.parts import load_config, load_source
from lmcollapse.models.neural import sampling

NEVER = "never"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", default="0.5,0.25,0.125,0.0625")
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--never", action="store_true", help="also time decoding without dropping (slow)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_source(load_config({"corpus": {"n_train": 2000, "n_eval": 200},
                                    "tokenizer": {"name": "bpe", "vocab_size": 1000}}))
    model = GPTModel(GPTConfig(n_layer=2, n_head=4, n_embd=256, block_size=128, epochs=1, lr=3e-3, device="cpu"))
    model.fit(data.train, seed=0)
    model.sample(256, seed=5)  # kernel set-up, outside the timings
    settings: list = [float(s) for s in args.shares.split(",")] + ([NEVER] if args.never else [])
    best = {s: float("inf") for s in settings}
    reference, tokens = None, 0
    for _ in range(args.rounds):
        for setting in settings:
            sampling.DROP_FINISHED_ROWS = setting != NEVER
            if setting != NEVER:
                sampling.DROP_WHEN_FINISHED = setting
            start = time.perf_counter()
            samples = model.sample(args.samples, seed=1)
            best[setting] = min(best[setting], time.perf_counter() - start)
            if reference is None:
                reference, tokens = samples, samples.n_tokens
            elif not (np.array_equal(reference.tokens, samples.tokens)
                      and np.array_equal(reference.offsets, samples.offsets)):
                raise SystemExit(f"share {setting}: different documents drawn (a bug: draws must not depend on it)")
    print(f"{args.samples} documents, {tokens:,} tokens, one thread; identical documents under every setting")
    for setting in settings:
        label = "never drop" if setting == NEVER else f"drop at {setting:g} finished"
        print(f"  {label:>24}: {best[setting]:6.2f}s  {tokens / best[setting]:8,.0f} tokens/s")


if __name__ == "__main__":
    main()
