"""Peak memory of the paper's configuration (configs/paper-tinystories-1m.yaml: GPT-Neo TinyStories-1M sizes,
a 50,257-entry vocabulary, block 1,024, batch 320) for one training step, scoring and sampling, on the CPU.

At this vocabulary a single window's logits take 200 MB in float32, so a pass over a whole batch would need
tens of gigabytes; the `hf`/`gpt` backends size every pass to `model.batch_memory_gb` instead (micro-batches
with gradient accumulation in training). This script prints each stage's peak resident memory and what one
unsplit pass would have held, for two budgets.

    pip install -e '.[hf]'
    python benchmarks/paper_scale_memory.py [--docs 320] [--budgets 0.5 2]
"""
from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.models.hf import HFModel
from lmcollapse.models.neural.training import TRAINING_COPIES
from lmcollapse.models.decoding import Sampler
from lmcollapse.config import HFConfig, SamplerConfig

VOCAB = 50257


class PeakRss:
    """Highest resident set size seen while the block runs (polled every 5 ms from /proc)."""

    def __enter__(self):
        self.peak, self._stop = _rss(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        self.start = time.perf_counter()
        return self

    def _poll(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self._stop.set()
        self._thread.join()


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def stories(n: int, seed: int) -> Corpus:
    """Documents with TinyStories-like lengths (50..400 tokens) over the whole vocabulary."""
    rng = np.random.default_rng(seed)
    docs = [rng.integers(0, VOCAB - 1, size=rng.integers(50, 400)).tolist() for _ in range(n)]
    return Corpus.from_documents(docs, vocab_size=VOCAB, eos_id=VOCAB - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=320, help="training documents (320 = one paper batch)")
    parser.add_argument("--score-docs", type=int, default=200)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--sample-tokens", type=int, default=200)
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.5, 2.0], help="batch_memory_gb values")
    args = parser.parse_args()
    train, held = stories(args.docs, 0), stories(args.score_docs, 1)
    gib = 2**30
    longest = int(train.lengths.max()) + 2
    print(f"{args.docs} training documents, {train.n_tokens:,} tokens, vocabulary {VOCAB:,}, block 1024")
    print(f"one unsplit training pass would hold {args.docs * longest * (VOCAB + 1) * 4 / gib:.1f} GiB of float32 "
          f"logits (x about {TRAINING_COPIES} with the loss and gradients); scoring 4 batches at once "
          f"{4 * 320 * (int(held.lengths.max()) + 2) * (VOCAB + 1) * 4 / gib:.1f} GiB")
    print(f"baseline resident memory: {_rss() / gib:.2f} GiB")
    print(f"{'budget GiB':>10} {'train peak':>11} {'train s':>8} {'score peak':>11} {'score s':>8} "
          f"{'sample peak':>12} {'sample s':>9}")
    for budget in args.budgets:
        model = HFModel(HFConfig(hf_config="tinystories-1m", block_size=1024, batch_size=320, epochs=1, device="cpu",
                        batch_memory_gb=budget))
        with PeakRss() as fit:
            model.fit(train, seed=0)
        with PeakRss() as score:
            model.log_prob(held)
        with PeakRss() as sample:
            model.sample(args.samples, sampler=Sampler(SamplerConfig(max_tokens=args.sample_tokens)), seed=2)
        print(f"{budget:>10.2f} {fit.peak / gib:>10.2f}G {fit.seconds:>8.1f} {score.peak / gib:>10.2f}G "
              f"{score.seconds:>8.1f} {sample.peak / gib:>11.2f}G {sample.seconds:>9.1f}")
        del model


if __name__ == "__main__":
    main()
