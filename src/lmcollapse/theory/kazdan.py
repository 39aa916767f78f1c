"""Kazdan et al.'s discrete-distribution experiment: the mean number of generations to total collapse.

Kazdan et al. (2024, "Collapse or thrive? Perils and promises of synthetic data in a self-generating
world") fit the exact maximum-likelihood categorical model to N samples of K = 10 equally likely outcomes,
replace the data by N samples of the fitted model, and count the generations until a single outcome is
left, for N from 10 to 10,000: the count grows in proportion to N. Here that is an ordinary run of the
unigram with alpha = 0 on single-token documents under `replace`, a Wright-Fisher process
(wright_fisher.py), so the law is known: the expected collapse generation is solved exactly on the
(N+1)-state chain up to N = MAX_N, and beyond it is the diffusion value
-2N sum_v (1 - p_v) ln(1 - p_v) = 1.896 N for K = 10 (exact minus diffusion: -2.5 generations at N = 10,
-4.2 at N = 2,000, growing like 0.33 ln N: 0.1% of the value there, far below any seed count's noise).

No one knows in advance how long a run must be: each run is extended (RunTask.until) until its model has
a single token left, which at N = 10,000 means about 19,000 generations. The collapse generation is the
first generation whose model_entropy is 0 (exactly 0 for a law on one token; a collapsed model stays
collapsed, since it only ever samples that token).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmcollapse.running.rundir import RunDir
from lmcollapse.theory.wright_fisher import MAX_N, WrightFisher, diffusion_collapse_generation

OUTCOMES = 10
SIZES = (10, 30, 100, 300, 1000, 3000, 10_000)  # Kazdan et al.'s range of N
LONGEST_RUN = 1_000_000  # generations: a run still not collapsed by then is reported as a failure


def truth() -> np.ndarray:
    return np.full(OUTCOMES, 1.0 / OUTCOMES)


def config(n: int, seed: int) -> dict:
    """A run of the experiment; it starts at the expected collapse generation and is extended from there."""
    return {"seed": seed, "generations": max(int(predicted_collapse(n)[0]), 2), "metrics": ["model_entropy"],
            "corpus": {"name": "categorical", "probs": truth().tolist(), "doc_length": 1, "n_train": n,
                       "n_eval": 10},
            "model": {"name": "ngram", "order": 1, "smoothing": 0.0},
            "paradigm": {"name": "replace"}}


def predicted_collapse(n: int) -> tuple[float, str]:
    """E[first generation whose model has one outcome left], and how it was computed."""
    if n <= MAX_N:
        return WrightFisher(truth(), n).collapse_generation(), "exact"
    return diffusion_collapse_generation(truth(), n), "diffusion"


def _entropies(run_dir: str) -> list[float]:
    return [row["model_entropy"] for row in RunDir(run_dir).read_metrics_jsonl()]


def collapsed(run_dir: str) -> bool:
    """The stop rule: the last committed model has a single token (entropy exactly 0)."""
    entropies = _entropies(run_dir)
    return bool(entropies) and entropies[-1] == 0.0


def collapse_generation(run_dir: str) -> int:
    """The first generation whose model has a single token (the run must have collapsed)."""
    entropies = np.array(_entropies(run_dir))
    return int(np.flatnonzero(entropies == 0.0)[0])


def first_collapse(run_dir: str) -> tuple[int]:
    """What a battery run reads back (check.simulate_many stacks each part over seeds)."""
    return (collapse_generation(run_dir),)


@dataclass(frozen=True)
class KazdanCase:
    """The experiment at one N, many seeds: each run goes on until it has collapsed."""

    n: int
    collect = staticmethod(first_collapse)
    until = staticmethod(collapsed)
    max_generations = LONGEST_RUN

    @property
    def label(self) -> str:
        return f"kazdan K={OUTCOMES} uniform, exact MLE, replace, N={self.n}"

    @property
    def slug(self) -> str:
        return f"kazdan-N-{self.n}"

    @property
    def generations(self) -> int:
        return config(self.n, 0)["generations"]

    def config(self, seed: int) -> dict:
        return config(self.n, seed)
