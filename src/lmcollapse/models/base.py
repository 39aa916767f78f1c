"""The LanguageModel contract: what the loop, the metrics and the gates may ask of any backend.

A backend is built from its typed config section (`MODELS.build(config.model)`), which pydantic has
already checked, and keeps it as `self.config`; a saved model records that section. Everything learned is
set by fit and ends in an underscore. Capabilities beyond the contract are declared by the class in
`capabilities` and asked for with `model.supports(...)`, never discovered with hasattr.

Conventions shared by every backend:
- token ids are 0..V-1 (V = corpus.vocab_size); the end token, when the corpus has one, is predicted
  after each document's last token and is never part of a document;
- a context is the tokens before a position; -1 (or a context shorter than the model looks at) means
  "before the document starts";
- log-probabilities are natural logs; predicted positions come in document order, end token last.
"""
from __future__ import annotations

import abc
import enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, ClassVar

import numpy as np

from lmcollapse.corpora.contexts import context_rows
from lmcollapse.errors import LmcollapseError
from lmcollapse.extras import NeedsModules
from lmcollapse.registry import Registry

if TYPE_CHECKING:
    from lmcollapse.corpora.corpus import Corpus
    from lmcollapse.models.decoding import Sampler

#: Called as progress(stage, done, total) during long stages ("fit": optimiser steps, "sample": documents).
ProgressCallback = Callable[[str, int, int], None]


class Capability(enum.Enum):
    """What some backends can do beyond the contract."""

    #: The next-token law depends only on the last `context_width` tokens and is cheap to evaluate at every
    #: such context, so distances to a known truth can be computed exactly by enumerating contexts.
    ENUMERABLE_CONTEXTS = "enumerable-contexts"
    #: seen(contexts, tokens) answers exactly which continuations were observed in training.
    SUPPORT = "support"
    #: fit(..., init=previous) continues from another fitted model's parameters.
    WARM_START = "warm-start"
    #: has hidden states for the downstream probe: untrained(), features(), probe_network() (NeuralLM).
    HIDDEN_STATES = "hidden-states"


# A count model fits and samples a KJV verse in about 50 microseconds on one core (the paper grid's bigram:
# 0.1-0.2 s a generation for 1,500 training and 1,500 generated verses): the scale of work_estimate's prior.
COUNT_SECONDS_PER_DOCUMENT = 5e-5


class LanguageModel(NeedsModules, abc.ABC):
    """An auto-regressive model of token documents (see the module docstring for the conventions)."""

    #: The registered name (set by the registry), written with saved models.
    name: ClassVar[str]
    #: The model config section this backend is built from, declared beside it.
    config_class: ClassVar[type]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, config=None):
        self.config = self.config_class() if config is None else config

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    # ---- learning ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def fit(self, corpus: "Corpus", *, seed: int, progress: ProgressCallback | None = None,
            init: "LanguageModel | None" = None) -> "LanguageModel":
        """Learn from corpus and return self. seed drives every random choice of the fit; init (only for
        models that support WARM_START) is a fitted model whose parameters the fit starts from."""

    @property
    @abc.abstractmethod
    def context_width(self) -> int:
        """The most tokens before a position that the fitted model's next-token law can depend on."""

    @classmethod
    def work_estimate(cls, section, documents: int, samples: int) -> float:
        """A rough prior on one generation's core-seconds: fit on `documents` documents and draw `samples`.
        Only for scheduling (a study starts its longest runs first) and for the time left of a kind of model
        not timed yet; measured costs replace it as runs go. Here: a count model's, linear in the data."""
        return COUNT_SECONDS_PER_DOCUMENT * (documents + samples)

    @property
    def longest_sample(self) -> int | None:
        """The most tokens the model can write in one document (a neural model's block), or None."""
        return None

    # ---- probabilities ---------------------------------------------------------------------------
    @abc.abstractmethod
    def next_token_probs(self, context=()) -> np.ndarray:
        """p(. | context): (V,) for one context (a 1-D sequence of tokens), (m, V) for a 2-D batch of
        contexts; every row sums to 1."""

    @abc.abstractmethod
    def token_log_probs(self, corpus: "Corpus") -> tuple[np.ndarray, np.ndarray]:
        """(document index (P,), log-probability (P,)) of every predicted symbol of corpus."""

    @abc.abstractmethod
    def context_entropies(self, corpus: "Corpus") -> np.ndarray:
        """(P,) entropy in nats of the next-token law at every predicted position of corpus."""

    def log_prob(self, corpus: "Corpus") -> np.ndarray:
        """(documents,) log-probability of each document, end token included."""
        doc, logp = self.token_log_probs(corpus)
        return np.bincount(doc, weights=logp, minlength=len(corpus))

    def position_probs(self, corpus: "Corpus", doc: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """(m, V) next-token laws at positions pos of documents doc of corpus, each given its real prefix.
        Here from the last context_width tokens; models that see longer prefixes override it."""
        return np.asarray(self.next_token_probs(context_rows(corpus, doc, pos, max(self.context_width, 0))))

    def seen(self, contexts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """(m,) whether each token followed its context in training (models that support SUPPORT)."""
        raise LmcollapseError(f"model {self.name!r} does not record which continuations it saw in training")

    # ---- generation --------------------------------------------------------------------------------
    @abc.abstractmethod
    def sample(self, n: int, *, sampler: "Sampler | None" = None, seed: int = 0, generation: int = 0,
               first_id: int = 0, producer: str | None = None,
               progress: ProgressCallback | None = None) -> "Corpus":
        """n documents drawn with the stage seed, as a Corpus whose provenance says synthetic, born at
        `generation`, ids from first_id, made by `producer`. The same seed gives the same documents."""

    # ---- persistence -------------------------------------------------------------------------------
    @abc.abstractmethod
    def save(self, directory: str | Path) -> None:
        """Write the fitted model into directory (created if needed)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, directory: str | Path) -> "LanguageModel":
        """The model save wrote into directory."""

    # ---- helpers for implementations ---------------------------------------------------------------
    @classmethod
    def saved_section(cls, params: dict):
        """The config section a saved model's params.json records (models saved before 0.4 wrote its keys
        flat, beside what the fit learned)."""
        if "config" in params:
            return cls.config_class.model_validate(params["config"])
        return cls.config_class.model_validate({k: v for k, v in params.items() if k in cls.config_class.model_fields})

    def _refuse_init(self, init) -> None:
        if init is not None and not self.supports(Capability.WARM_START):
            raise LmcollapseError(f"model {self.name!r} cannot start from another model's parameters (warm start)")


MODELS = Registry("model", contract=LanguageModel, union_key="model")
