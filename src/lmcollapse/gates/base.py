"""Quality gates (the config's `gates`): three kinds of component, each with its written contract.

- Filter: keeps or rejects candidate documents (nonempty, exact-dedup, dedup, perplexity, verifier);
- Producer: makes the candidates instead of free sampling (token-edit);
- PoolWeighting: changes how a subsampling paradigm draws D_t from its pool (reweight); it is handed to
  the paradigm when the run is built and filters nothing;
- Resampler: redraws the training set the learner sees at generations t >= 1 from D_t (and R, where the
  method brings real data back), repeats allowed (detector importance resampling); the data state (D_t, the pool) is left as the paradigm built it, so a policy that
  keeps its training set (accumulate) never compounds the repeats.

All three are listed under the one `gates:` config key, in order, as a name or a mapping
{name: GATE, parameter: value, ...}, each a typed section declared beside the gate's code; every gate is built from its section
(GATES.build), and build_gates sorts them by kind into a GateSet. The runner keeps the contribution fixed
by sampling more and filtering down (gates/sampling.py).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.extras import NeedsModules
from lmcollapse.registry import Registry

if TYPE_CHECKING:
    from lmcollapse.models.base import LanguageModel
    from lmcollapse.models.decoding import Sampler


class ReferenceModel(abc.ABC):
    """Where a gate gets the generation-0 model (trained on real data only) when it needs one."""

    @abc.abstractmethod
    def reference_model(self) -> "LanguageModel":
        ...


@dataclass
class GateContext:
    """What a gate may look at for generation t."""

    generation: int
    model: "LanguageModel"  # M_t, the model that generated the candidates (None for a Resampler: M_t is not yet fit)
    train: Corpus  # D_t
    real: Corpus  # R
    held_out: Corpus  # E
    truth: Any | None  # the known truth, if any
    run: ReferenceModel  # the run's state, for the generation-0 model (loaded on demand)
    earlier: list[Corpus] = field(default_factory=list)  # candidates kept in earlier rounds of this generation
    sampler: "Sampler | None" = None  # the run's decoding, for producers that sample the model themselves

    def reference(self) -> "LanguageModel":
        return self.run.reference_model()


class Gate(NeedsModules, abc.ABC):
    """What every gate declares: its name (set by the registry), the config section listing its parameters
    (none: the empty default) and whether it needs a known-truth corpus."""

    name: ClassVar[str]
    config_class: ClassVar[type] = Section
    needs_truth: ClassVar[bool] = False

    def __init__(self, config=None):
        self.config = self.config_class() if config is None else config

    @classmethod
    def truth_needed(cls, section) -> bool:
        """Whether this gate needs a known-truth corpus with this section (a gate may need it in one setting
        only: self-correct's corrector, bt-curation's reward)."""
        return cls.needs_truth

    @classmethod
    def model_needs(cls, section) -> str | None:
        """The model capability (models/base.py: Capability) this gate needs with this section, if any."""
        return None

    def calibrated(self) -> dict[str, float]:
        """The parameters this gate set from the run's own generation 0 (by a rule its section names), once
        set: they are recorded in every manifest, so the leaderboard shows what each row ran with."""
        return {}


class Filter(Gate):
    @abc.abstractmethod
    def keep(self, corpus: Corpus, ctx: GateContext, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """(keep mask (n,) bool, a score per document (n,) or None) for the candidate documents."""


class Producer(Gate):
    @abc.abstractmethod
    def generate(self, n: int, ctx: GateContext, *, seed: int, generation: int, first_id: int,
                 producer: str) -> tuple[Corpus, np.ndarray]:
        """(n candidate documents with synthetic provenance, a score per document)."""

    def activity(self, produced: Corpus, score: np.ndarray) -> dict[str, float]:
        """How much this producer changed what the learner sees, from the documents it produced in a generation
        and their scores: measures named in running/activity.py (IDLE), at their idle value where it changed
        nothing. The default: none reported."""
        return {}


class PoolWeighting(Gate):
    @abc.abstractmethod
    def weights(self, pool: Corpus) -> np.ndarray:
        """(len(pool),) probabilities with which a subsampling paradigm draws D_t from the pool."""


class Resampler(Gate):
    @abc.abstractmethod
    def resample(self, train: Corpus, ctx: GateContext, rng: np.random.Generator) -> tuple[Corpus, dict[str, float]]:
        """(the training set the learner of generation ctx.generation sees: documents of train or of R, repeats
        allowed; activity measures named in running/activity.py)."""


KINDS = (Filter, Producer, PoolWeighting, Resampler)


def _is_one_kind(component) -> str | None:
    kinds = [k for k in KINDS if issubclass(component, k)]
    if len(kinds) != 1:
        return f"{component.__name__} must be exactly one of {', '.join(k.__name__ for k in KINDS)}"
    return None


GATES = Registry("gate", contract=Gate, check=_is_one_kind, union_key="gates")


@dataclass
class GateSet:
    """The configured gates, by kind; filters in config order."""

    filters: list[Filter] = field(default_factory=list)
    producer: Producer | None = None
    pool_weighting: PoolWeighting | None = None
    resampler: Resampler | None = None

    def __bool__(self) -> bool:
        return (bool(self.filters) or self.producer is not None or self.pool_weighting is not None
                or self.resampler is not None)


def build_gates(sections) -> GateSet:
    """The gates of the config's `gates` list (checked by config.py and experiment.check), sorted by kind."""
    gates = GateSet()
    for section in sections:
        gate = GATES.build(section)
        if isinstance(gate, Filter):
            gates.filters.append(gate)
        elif isinstance(gate, Producer):
            if gates.producer is not None:
                raise LmcollapseError("gates: at most one producing gate (token-edit, detector-resample) per run")
            gates.producer = gate
        elif isinstance(gate, Resampler):
            if gates.resampler is not None:
                raise LmcollapseError("gates: at most one resampling gate (detector-importance) per run")
            gates.resampler = gate
        else:
            gates.pool_weighting = gate
    return gates


@dataclass
class GateOutcome:
    keep: np.ndarray  # (candidates,) bool
    scores: dict[str, np.ndarray]  # gate name -> (candidates,) float, NaN where not scored
    rejected_by: np.ndarray  # (candidates,) object: "" if kept, else the gate that rejected it
    counts: dict[str, list[int]]  # gate name -> [documents seen, documents kept]


def apply_filters(filters: list[Filter], candidates: Corpus, ctx: GateContext, rng: np.random.Generator) -> GateOutcome:
    """Run the filters in order; each sees only what the previous ones kept."""
    n = len(candidates)
    keep = np.ones(n, dtype=bool)
    rejected_by = np.full(n, "", dtype=object)
    scores, counts = {}, {}
    for gate in filters:
        idx = np.flatnonzero(keep)
        mask, score = gate.keep(candidates.take(idx), ctx, rng)
        if score is not None:
            column = np.full(n, np.nan)
            column[idx] = score
            scores[gate.name] = column
        rejected_by[idx[~mask]] = gate.name
        counts[gate.name] = [len(idx), int(mask.sum())]
        keep[idx[~mask]] = False
    return GateOutcome(keep, scores, rejected_by, counts)
