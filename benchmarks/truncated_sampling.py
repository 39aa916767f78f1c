"""Truncated sampling for the count model (temperature, top-k, top-p) against pure sampling, old path and new.

    python benchmarks/truncated_sampling.py [--verses 1500] [--order 2] [--smoothing 0.001] [--trials 3]

The mitigation benchmark's bigram: KJV verses, word tokens, N documents of at most 127 tokens. For each
decoding row it times one generation's sampling by the path before P20 (every draw reshapes a dense row of
the vocabulary: truncated.RESHAPE_PER_DRAW) and by today's (every context's law built sparse once per call),
in the same run, best of --trials, and prints both, their ratio, and the new path over pure sampling (P20's
goal: at most 2x). The two paths draw different documents from the same law: the script prints the largest
difference between the two laws over every context of the table (rounding and tied tokens aside, zero;
tests/test_truncated.py checks it token by token) and the mean document length each path drew.
"""
from __future__ import annotations

import argparse
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


def timed_sample(model: NGramModel, n: int, sampler: Sampler, dense: bool, trials: int) -> tuple[float, float]:
    """Best wall seconds over trials of sampling n documents by one path, and the mean document length."""
    saved, truncated.RESHAPE_PER_DRAW = truncated.RESHAPE_PER_DRAW, dense
    try:
        best = float("inf")
        for _ in range(trials):
            start = time.perf_counter()
            docs = model.sample(n, sampler=sampler, seed=1, generation=1)
            best = min(best, time.perf_counter() - start)
        return best, float(docs.lengths.mean())
    finally:
        truncated.RESHAPE_PER_DRAW = saved


def largest_law_difference(model: NGramModel, sampler: Sampler) -> float:
    """Max over every context and token of |sparse law - dense reshaping|, tied tokens compared sorted."""
    laws, worst = truncated.TruncatedLaws(model.table_, model.smoothing, sampler), 0.0
    for level, table_level in enumerate(model.table_.levels):
        for first in range(0, table_level.n_contexts, 512):
            contexts = np.arange(first, min(first + 512, table_level.n_contexts))
            dense = sampler.transform(model.table_.dense_counts(np.full(len(contexts), level), contexts)
                                      + model.smoothing)
            for row, c in enumerate(contexts):
                worst = max(worst, float(np.abs(np.sort(laws.law(level, c)) - np.sort(dense[row])).max()))
    return worst


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
    print(f"{'decoding':28s} {'old s':>7s} {'new s':>7s} {'old/new':>8s} {'new/pure':>9s} {'law diff':>9s} "
          f"{'old len':>8s} {'new len':>8s}")
    for label, overrides in ROWS.items():
        sampler = Sampler(SamplerConfig(max_tokens=127, **overrides))
        new_s, new_len = timed_sample(model, args.verses, sampler, False, args.trials)
        if sampler.is_pure:
            pure_s = new_s
            print(f"{label:28s} {'':>7s} {new_s:7.3f} {'':>8s} {1.0:9.2f} {'(one path: no truncation)':>36s}")
            continue
        old_s, old_len = timed_sample(model, args.verses, sampler, True, max(1, args.trials - 2))
        print(f"{label:28s} {old_s:7.3f} {new_s:7.3f} {old_s / new_s:8.1f} {new_s / pure_s:9.2f} "
              f"{largest_law_difference(model, sampler):9.1e} {old_len:8.1f} {new_len:8.1f}")


if __name__ == "__main__":
    main()
