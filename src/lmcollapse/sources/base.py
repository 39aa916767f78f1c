"""The source contract: a corpus of real documents (or a known-truth distribution standing in for one),
split once by the run seed into the training set R and the held-out set E."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, TYPE_CHECKING

from pydantic import Field

from lmcollapse.config import ProbeConfig, Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.extras import NeedsModules
from lmcollapse.registry import Registry

if TYPE_CHECKING:
    from lmcollapse.tokenizers.base import Tokenizer



class CorpusSection(Section):
    """The keys every corpus has."""

    n_train: int = Field(5000, ge=1, description="real training documents N")
    n_eval: int = Field(1000, ge=1, description="held-out real documents, never trained on")
    doc_length: int | None = Field(None, ge=1, description="known truth: tokens per document; text: cap")


@dataclass
class SourceData:
    train: Corpus  # the finite real corpus R, born at generation 0
    held_out: Corpus  # E, disjoint from R, never trained on
    tokenizer: Any | None = None  # text sources: the tokenizer fitted on R
    truth: Any | None = None  # known-truth sources: exact next-token probabilities
    probe: Any | None = None  # text sources with a probe task: the probe's labelled documents (a ProbeSplit)
    reservoir: Corpus | None = None  # text sources: real documents held back for `fresh`
    # text sources: the documents left over once R, E, the probe and the reservoir are cut (what
    # `lmcollapse pretrain` trains a base model on), tokenized only when asked for
    leftover: Callable[[], Corpus] | None = None


class Source(NeedsModules, abc.ABC):
    """Built from the corpus config section (SOURCES.build), with the run seed its draws derive from and the
    probe section (text sources cut the probe's documents from the corpus)."""

    name: ClassVar[str]
    #: the corpus config section this source is built from
    config_class: ClassVar[type]
    #: can draw new real documents forever (the `fresh` paradigm's supply)
    can_make_fresh: ClassVar[bool] = False
    #: knows the exact probabilities of its documents (exact KL/TV, the verifier gate)
    has_truth: ClassVar[bool] = False
    #: the known truth (a KnownTruth) for sources that have one
    truth: Any | None = None

    def __init__(self, section, seed: int = 0, probe: ProbeConfig | None = None):
        self.section, self.seed = section, seed
        self.probe_config = ProbeConfig() if probe is None else probe

    @abc.abstractmethod
    def load(self, tokenizer: "Tokenizer") -> SourceData:
        """R and E, drawn with the run seed; text sources fit the (unfitted) tokenizer on R's text and
        return it, known-truth sources ignore it."""

    def fresh(self, n: int, generation: int) -> Corpus:
        """n new real documents entering at `generation` (sources that can_make_fresh)."""
        raise LmcollapseError(f"corpus {self.name} is a finite set; it cannot produce new real documents")


SOURCES = Registry("corpus", contract=Source, union_key="corpus")
