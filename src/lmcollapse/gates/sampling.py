"""Sampling with quality gates at a fixed contribution: sample, gate, and sample more until enough
documents pass (or `oversample_max` times the contribution has been drawn).

Round 0 draws exactly the contribution with the stage seed "sample" (so runs without gates are unchanged);
round k draws with seed "sample-k" about as many more as the acceptance rate so far says are missing.
Accepted documents beyond the contribution are marked "surplus" and left out, in drawing order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import seeding
from ..corpus import Corpus, synthetic_first_id
from ..models.base import LanguageModel, ProgressCallback
from ..sampling import Sampler
from .base import GateContext, GateSet, apply_filters

MIN_ACCEPTANCE = 0.02  # never plan a round as if fewer than 2% would pass


@dataclass
class GatedSamples:
    candidates: Corpus  # every document drawn this generation, in drawing order
    keep: np.ndarray  # (candidates,) bool: part of the contribution
    scores: dict[str, np.ndarray]  # gate -> (candidates,) score, NaN where the gate did not look
    rejected_by: np.ndarray  # (candidates,) "" when kept, a gate's name, or "surplus"
    counts: dict[str, list[int]]  # gate -> [seen, kept] summed over rounds
    rounds: int

    @property
    def acceptance_rate(self) -> float:
        passed = int((self.rejected_by == "").sum() + (self.rejected_by == "surplus").sum())
        return passed / len(self.candidates) if len(self.candidates) else float("nan")


def draw_gated(n_new: int, model: LanguageModel, gates: GateSet, ctx: GateContext, *, root: int, t: int,
               sampler: Sampler, producer: str, oversample_max: float, decode: Callable[[Corpus], Corpus],
               progress: ProgressCallback | None = None) -> GatedSamples:
    """Draw candidates (model samples, or the producer's) and filter them until n_new pass. decode adds the
    text to each batch of candidates (text corpora) before the filters see it."""
    generator = gates.producer
    filtering = bool(gates.filters)  # without a filter, one round is the contribution
    parts, keeps, rejected, score_parts, counts, generated_scores = [], [], [], [], {}, []
    drawn, kept = 0, 0
    budget = int(math.ceil(oversample_max * n_new))
    rounds = 0
    while kept < n_new and drawn < budget:
        stage = "sample" if rounds == 0 else f"sample-{rounds}"
        if rounds == 0:
            want = n_new
        else:
            rate = max(kept / drawn, MIN_ACCEPTANCE)
            want = min(budget - drawn, int(math.ceil((n_new - kept) / rate * 1.1)) + 1)
        seed = seeding.derived_seed(root, t, stage)
        first_id = synthetic_first_id(t + 1) + drawn
        if generator is not None:
            batch, edited = generator.generate(want, ctx, seed=seed, generation=t + 1, first_id=first_id,
                                               producer=producer)
            generated_scores.append(edited)
        else:
            batch = model.sample(want, sampler=sampler, seed=seed, generation=t + 1, first_id=first_id,
                                 producer=producer, progress=progress)
        batch = decode(batch)
        outcome = apply_filters(gates.filters, batch, ctx, seeding.rng(root, t, "filter" if rounds == 0 else f"filter-{rounds}"))
        parts.append(batch)
        keeps.append(outcome.keep)
        rejected.append(outcome.rejected_by)
        score_parts.append(outcome.scores)
        for name, (seen, passed) in outcome.counts.items():
            total = counts.setdefault(name, [0, 0])
            total[0] += seen
            total[1] += passed
        ctx.earlier.append(batch.take(np.flatnonzero(outcome.keep)))
        drawn += len(batch)
        kept += int(outcome.keep.sum())
        rounds += 1
        if not filtering:
            break
    candidates = Corpus.concat(parts) if len(parts) > 1 else parts[0]
    keep = np.concatenate(keeps)
    rejected_by = np.concatenate(rejected)
    surplus = np.flatnonzero(keep)[n_new:]
    keep[surplus] = False
    rejected_by[surplus] = "surplus"
    names = sorted({name for s in score_parts for name in s})
    scores = {name: np.concatenate([s.get(name, np.full(len(p), np.nan)) for s, p in zip(score_parts, parts)])
              for name in names}
    if generator is not None:
        scores[generator.name] = np.concatenate(generated_scores)
    return GatedSamples(candidates, keep, scores, rejected_by, counts, rounds)
