"""The data policies of the README: replace, mix, accumulate, accumulate-subsample and fresh, and the replay
control (train on R every generation), the ceiling a mitigation is measured against."""
from __future__ import annotations

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.paradigms.base import PARADIGMS, DataState, Paradigm


def _count(fraction: float, n: int, key: str) -> int:
    count = int(round(fraction * n))
    if count < 1:
        raise LmcollapseError(f"{key} x corpus.n_train = {fraction} x {n} rounds to 0 documents; raise one of them")
    return count


@PARADIGMS.register("replace", "train only on the previous model's N documents (fully synthetic after t=0)")
class Replace(Paradigm):
    def n_synthetic(self, n_real: int) -> int:
        return n_real

    def next_state(self, state: DataState, kept: Corpus, real: Corpus, rng, fresh,
                   generation: int) -> DataState:
        return DataState(kept, kept)


@PARADIGMS.register("replay", "control: train on the N real documents every generation (the ceiling no data policy "
                               "that keeps generated text can beat)")
class Replay(Paradigm):
    """Every model still writes N documents (its samples feed the sample metrics and the gates' activity), but
    none of them reaches a training set: what is left of collapse under replay is the learner's own error."""

    def n_synthetic(self, n_real: int) -> int:
        return n_real

    def next_state(self, state, kept, real, rng, fresh, generation) -> DataState:
        return DataState(real, real)


class MixConfig(Section):
    real_fraction: float = Field(0.5, ge=0, lt=1, description="share of real documents in each training set")


@PARADIGMS.register("mix", "(1-paradigm.real_fraction)N generated + real_fraction*N resampled real documents")
class Mix(Paradigm):
    config_class = MixConfig

    def __init__(self, section, pool_weighting=None):
        super().__init__(section, pool_weighting)
        self.real_fraction = section.real_fraction

    def n_synthetic(self, n_real: int) -> int:
        return _count(1 - self.real_fraction, n_real, "1 - paradigm.real_fraction")

    def next_state(self, state, kept, real, rng, fresh, generation) -> DataState:
        n_keep_real = int(round(self.real_fraction * len(real)))
        chosen = np.sort(rng.choice(len(real), size=n_keep_real, replace=False))
        train = Corpus.concat([real.take(chosen), kept])
        return DataState(train, train)


class RateConfig(Section):
    rate: float = Field(1.0, gt=0, description="new generated documents per generation, as a fraction of N")


class _AddsRateN(Paradigm):
    """Paradigms where every model contributes round(rate * N) generated documents."""

    config_class = RateConfig

    def __init__(self, section, pool_weighting=None):
        super().__init__(section, pool_weighting)
        self.rate = section.rate

    def n_synthetic(self, n_real: int) -> int:
        return _count(self.rate, n_real, "paradigm.rate")


@PARADIGMS.register("accumulate", "train on everything so far: D_t+1 = D_t + rate*N new generated documents")
class Accumulate(_AddsRateN):
    def training_documents(self, n_real: int, generation: int) -> int:
        return n_real + generation * self.n_synthetic(n_real)  # every generation's documents are kept

    def next_state(self, state, kept, real, rng, fresh, generation) -> DataState:
        train = Corpus.concat([state.train, kept])
        return DataState(train, train)


@PARADIGMS.register("accumulate-subsample", "pool grows by rate*N generated docs; train on N drawn from the pool")
class AccumulateSubsample(_AddsRateN):
    subsamples_pool = True

    def _new_real(self, fresh, generation, n_real) -> list[Corpus]:
        return []

    def next_state(self, state, kept, real, rng, fresh, generation) -> DataState:
        pool = Corpus.concat([state.pool, kept, *self._new_real(fresh, generation, len(real))])
        p = None if self.pool_weighting is None else self.pool_weighting.weights(pool)
        chosen = np.sort(rng.choice(len(pool), size=len(real), replace=False, p=p))
        return DataState(pool.take(chosen), pool)


class FreshConfig(RateConfig):
    fresh_fraction: float = Field(0.1, gt=0, description="new real documents per generation, as a fraction of N")


@PARADIGMS.register("fresh", "control: accumulate-subsample plus fresh_fraction*N new real docs per generation")
class Fresh(AccumulateSubsample):
    config_class = FreshConfig
    needs_fresh_real = True

    def __init__(self, section, pool_weighting=None):
        super().__init__(section, pool_weighting)
        self.fresh_fraction = section.fresh_fraction

    def check_counts(self, n_real: int) -> None:
        super().check_counts(n_real)
        _count(self.fresh_fraction, n_real, "paradigm.fresh_fraction")

    def _new_real(self, fresh, generation, n_real) -> list[Corpus]:
        if fresh is None:
            raise LmcollapseError("paradigm fresh needs a corpus that can produce new real documents "
                                  "(categorical or markov); a finite text corpus cannot")
        return [fresh(_count(self.fresh_fraction, n_real, "paradigm.fresh_fraction"), generation)]
