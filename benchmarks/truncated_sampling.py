"""Truncated sampling for the count model (temperature, top-k, top-p) against pure sampling, old path and new.

    python benchmarks/truncated_sampling.py [--verses 1500] [--order 2] [--smoothing 0.001] [--trials 3]

The mitigation benchmark's bigram: KJV verses, word tokens, N documents of at most 127 tokens. For each
decoding row it times one generation's sampling by the path before P20 (every draw reshapes a dense row of
the vocabulary: truncated.STORE_BUDGET_BYTES = 0) and by today's (each context's law reshaped once per call),
in the same run, best of --trials, and prints both, their ratio, the new path over pure sampling (P20's goal:
at most 2x) and whether the two paths drew the same documents (a hash of the token stream).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import time

import numpy as np

from lmcollapse.config import NGramConfig, SamplerConfig
from lmcollapse.models import truncated
from lmcollapse.models.decoding import Sampler
from lmcollapse.models.ngram import NGramModel
from lmcollapse.running.parts import load_config, load_source

ROWS = {"pure": {}, "temperature 0.7": {"temperature": 0.7}, "top-k 50": {"top_k": 50},
        "top-p 0.9": {"top_p": 0.9}, "top-p 0.9 + temperature 0.7": {"top_p": 0.9, "temperature": 0.7}}


def timed_sample(model: NGramModel, n: int, sampler: Sampler, budget: int, trials: int) -> tuple[float, str]:
    """Best wall seconds over trials of sampling n documents with the store budget, and the draws' hash."""
    saved, truncated.STORE_BUDGET_BYTES = truncated.STORE_BUDGET_BYTES, budget
    try:
        best, digest = float("inf"), None
        for _ in range(trials):
            start = time.perf_counter()
            docs = model.sample(n, sampler=sampler, seed=1, generation=1)
            best = min(best, time.perf_counter() - start)
            digest = hashlib.sha256(docs.tokens.tobytes() + docs.offsets.tobytes()).hexdigest()[:12]
        return best, digest
    finally:
        truncated.STORE_BUDGET_BYTES = saved


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verses", type=int, default=1500, help="training verses (R) and documents sampled (N)")
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--smoothing", type=float, default=0.001)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, numpy {np.__version__}")
    data = load_source(load_config({"corpus": {"name": "kjv", "n_train": args.verses, "n_eval": 500}}))
    model = NGramModel(NGramConfig(order=args.order, smoothing=args.smoothing)).fit(data.train)
    print(f"order {args.order}, smoothing {args.smoothing}, {args.verses} verses, vocabulary "
          f"{data.train.vocab_size:,}; best of {args.trials}; seconds to sample {args.verses} documents")
    pure_s = None
    print(f"{'decoding':30s} {'old s':>8s} {'new s':>8s} {'old/new':>8s} {'new/pure':>9s}  same draws")
    for label, overrides in ROWS.items():
        sampler = Sampler(SamplerConfig(max_tokens=127, **overrides))
        new_s, new_hash = timed_sample(model, args.verses, sampler, truncated.STORE_BUDGET_BYTES, args.trials)
        if sampler.is_pure:
            pure_s = new_s
            print(f"{label:30s} {'':>8s} {new_s:8.3f} {'':>8s} {1.0:9.2f}  (no truncation: one path)")
            continue
        old_s, old_hash = timed_sample(model, args.verses, sampler, 0, max(1, args.trials - 2))
        same = "yes" if old_hash == new_hash else f"NO ({old_hash} vs {new_hash})"
        print(f"{label:30s} {old_s:8.3f} {new_s:8.3f} {old_s / new_s:8.1f} {new_s / pure_s:9.2f}  {same}")


if __name__ == "__main__":
    main()
