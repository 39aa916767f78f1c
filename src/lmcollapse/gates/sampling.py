"""Sampling with quality gates at a fixed contribution: sample, gate, and sample more until enough
documents pass (or `oversample_max` times the contribution has been drawn).

Round 0 draws exactly the contribution with the stage seed "sample" (so runs without gates are unchanged);
round k draws with seed "sample-k" about as many more as the acceptance rate so far says are missing.
Accepted documents beyond the contribution are marked "surplus" and left out, in drawing order.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lmcollapse import seeding
from lmcollapse.corpora.corpus import Corpus, synthetic_first_id
from lmcollapse.models.base import LanguageModel, ProgressCallback
from lmcollapse.models.decoding import Sampler
from lmcollapse.gates.base import GateContext, GateOutcome, GateSet, apply_filters

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


@dataclass
class SamplingRound:
    """One round of drawing: the documents, what the filters decided, and a producer's per-document score."""

    batch: Corpus
    outcome: GateOutcome
    produced_score: np.ndarray | None  # (batch,) the producing gate's score (e.g. edited share), if one drew

    @property
    def n_kept(self) -> int:
        return int(self.outcome.keep.sum())


@dataclass
class GatedDraw:
    """The rounds of one generation's gated sampling so far, and what they add up to."""

    n_new: int  # the contribution: documents wanted
    budget: int  # at most this many drawn (oversample_max x n_new)
    rounds: list[SamplingRound] = field(default_factory=list)

    @property
    def drawn(self) -> int:
        return sum(len(r.batch) for r in self.rounds)

    @property
    def kept(self) -> int:
        return sum(r.n_kept for r in self.rounds)

    def wanted_next(self) -> int:
        """How many to draw in the next round: the contribution first, then as many more as the acceptance
        rate so far says are missing (10% spare), within the budget."""
        if not self.rounds:
            return self.n_new
        rate = max(self.kept / self.drawn, MIN_ACCEPTANCE)
        return min(self.budget - self.drawn, int(math.ceil((self.n_new - self.kept) / rate * 1.1)) + 1)

    def more_needed(self) -> bool:
        return self.kept < self.n_new and self.drawn < self.budget

    def kept_documents(self) -> list[Corpus]:
        """The documents kept in each round so far: what a later round's filters compare against."""
        return [r.batch.take(np.flatnonzero(r.outcome.keep)) for r in self.rounds]

    def result(self, producer_name: str | None) -> GatedSamples:
        """The rounds as one set of candidates; kept documents beyond the contribution marked "surplus"."""
        batches = [r.batch for r in self.rounds]
        candidates = Corpus.concat(batches) if len(batches) > 1 else batches[0]
        keep = np.concatenate([r.outcome.keep for r in self.rounds])
        rejected_by = np.concatenate([r.outcome.rejected_by for r in self.rounds])
        surplus = np.flatnonzero(keep)[self.n_new:]
        keep[surplus] = False
        rejected_by[surplus] = "surplus"
        counts: dict[str, list[int]] = {}
        for r in self.rounds:
            for name, (seen, passed) in r.outcome.counts.items():
                total = counts.setdefault(name, [0, 0])
                total[0] += seen
                total[1] += passed
        names = sorted({name for r in self.rounds for name in r.outcome.scores})
        scores = {name: np.concatenate([r.outcome.scores.get(name, np.full(len(r.batch), np.nan))
                                        for r in self.rounds]) for name in names}
        if producer_name is not None:
            scores[producer_name] = np.concatenate([r.produced_score for r in self.rounds])
        return GatedSamples(candidates, keep, scores, rejected_by, counts, len(self.rounds))


def draw_gated(n_new: int, model: LanguageModel, gates: GateSet, ctx: GateContext, *, root: int, t: int,
               sampler: Sampler, producer: str, oversample_max: float, decode: Callable[[Corpus], Corpus],
               progress: ProgressCallback | None = None) -> GatedSamples:
    """Draw candidates (model samples, or the producer's) and filter them until n_new pass. decode adds the
    text to each batch of candidates (text corpora) before the filters see it. ctx is left as it was: each
    round's filters see the documents kept by the rounds before it in their own context."""
    generator = gates.producer
    draw = GatedDraw(n_new, budget=int(math.ceil(oversample_max * n_new)))
    while draw.more_needed():
        k = len(draw.rounds)
        want = draw.wanted_next()
        seed = seeding.derived_seed(root, t, "sample" if k == 0 else f"sample-{k}")
        first_id = synthetic_first_id(t + 1) + draw.drawn
        produced_score = None
        if generator is not None:
            batch, produced_score = generator.generate(want, ctx, seed=seed, generation=t + 1, first_id=first_id,
                                                       producer=producer)
        else:
            batch = model.sample(want, sampler=sampler, seed=seed, generation=t + 1, first_id=first_id,
                                 producer=producer, progress=progress)
        batch = decode(batch)
        round_ctx = dataclasses.replace(ctx, earlier=draw.kept_documents())
        outcome = apply_filters(gates.filters, batch, round_ctx,
                                seeding.rng(root, t, "filter" if k == 0 else f"filter-{k}"))
        draw.rounds.append(SamplingRound(batch, outcome, produced_score))
        if not gates.filters:  # without a filter, one round is the contribution
            break
    return draw.result(None if generator is None else generator.name)
