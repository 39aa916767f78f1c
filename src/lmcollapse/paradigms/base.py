"""The data-policy contract: which documents generation t+1 trains on (the README's paradigm table, N = |R|).

A paradigm maps the current DataState (the training set and the pool it is drawn from), the generated
documents that passed the gates and the real corpus R to the next DataState. It never changes a corpus
in place, and draws only from the rng it is given (the stage "paradigm" of the generation).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus, FreshSupply
from lmcollapse.registry import Registry

if TYPE_CHECKING:
    from lmcollapse.gates.base import PoolWeighting



@dataclass(frozen=True)
class DataState:
    train: Corpus
    pool: Corpus  # what the paradigm draws from; the training set itself for replace, mix, accumulate


class Paradigm(abc.ABC):
    """Built from its `paradigm` config section; a pool weighting (the `reweight` gate) only for paradigms
    that subsample their pool."""

    #: the registered name (set by the registry)
    name: ClassVar[str]
    #: the section listing its parameters (none: the empty default)
    config_class: ClassVar[type] = Section

    #: needs a source of new real documents (experiment.check refuses a finite corpus)
    needs_fresh_real: ClassVar[bool] = False
    #: draws D_t from a larger pool, so a PoolWeighting applies
    subsamples_pool: ClassVar[bool] = False

    def __init__(self, section, pool_weighting: "PoolWeighting | None" = None):
        self.section = section
        self.pool_weighting = pool_weighting

    @abc.abstractmethod
    def n_synthetic(self, n_real: int) -> int:
        """How many generated documents each model contributes, for a real corpus of n_real documents."""

    def training_documents(self, n_real: int, generation: int) -> int:
        """About how many documents generation `generation` trains on (a prior for scheduling runs; the
        training set stays the size of R unless a paradigm says otherwise)."""
        return n_real

    def check_counts(self, n_real: int) -> None:
        """Refuse, before anything runs, settings whose document counts round to nothing for a real corpus of
        n_real documents (a run would start, then stop at its first generation)."""
        self.n_synthetic(n_real)

    @abc.abstractmethod
    def next_state(self, state: DataState, kept: Corpus, real: Corpus, rng: np.random.Generator,
                   fresh: FreshSupply | None, generation: int) -> DataState:
        """The data generation `generation` trains on."""


PARADIGMS = Registry("paradigm", contract=Paradigm, union_key="paradigm")


def initial_state(real: Corpus) -> DataState:
    return DataState(real, real)
