"""The tokenizer contract. A run's vocabulary is fixed from generation-0 training text and never grows:
later generations can only lose words, which is what collapse is about. Unknown text maps to <unk>
where a tokenizer has one."""
from __future__ import annotations

import abc
import json
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from lmcollapse.config import Section
from lmcollapse.registry import Registry


class Tokenizer(abc.ABC):
    """Built unfitted from its `tokenizer` config section (TOKENIZERS.build), fitted once on R's text, saved
    with the run and read back by load_tokenizer."""

    #: the registered name (set by the registry)
    name: ClassVar[str]
    #: the section listing its parameters (none: the empty default)
    config_class: ClassVar[type] = Section
    #: the end-of-document token's id (every corpus a tokenizer makes has one)
    eos_id: int

    def __init__(self, config=None):
        self.config = self.config_class() if config is None else config

    @abc.abstractmethod
    def fit(self, texts: Sequence[str]) -> "Tokenizer":
        """Fix the vocabulary from texts; returns self."""

    @property
    @abc.abstractmethod
    def vocab_size(self) -> int:
        ...

    @abc.abstractmethod
    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One int32 array of token ids per text (no end token: corpora add it)."""

    @abc.abstractmethod
    def decode(self, tokens) -> str:
        ...

    @abc.abstractmethod
    def save(self, path: str | Path) -> None:
        """Write the fitted tokenizer as JSON holding its registered name under "name"."""

    @classmethod
    @abc.abstractmethod
    def from_saved(cls, data: dict) -> "Tokenizer":
        """The tokenizer save wrote, from its parsed JSON."""


TOKENIZERS = Registry("tokenizer", contract=Tokenizer, union_key="tokenizer")


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Any saved tokenizer, by the name stored with it."""
    data = json.loads(Path(path).read_text())
    return TOKENIZERS.get(data["name"]).from_saved(data)
