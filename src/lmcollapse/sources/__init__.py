"""Real corpora and known-truth sources, by name. Each gives a seeded, disjoint train/held-out split."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..corpus import Corpus
from ..registry import Registry

SOURCES = Registry("corpus")


@dataclass
class SourceData:
    train: Corpus  # the finite real corpus R, born at generation 0
    held_out: Corpus  # E, disjoint from R, never trained on
    tokenizer: Any | None = None  # text sources: the tokenizer fitted on R
    truth: Any | None = None  # known-truth sources: exact next-token probabilities


from . import text, truth  # noqa: E402,F401  (register the sources)
