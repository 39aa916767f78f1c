"""Quality gates applied to generated documents before they enter the data. Each returns a keep-mask."""
from __future__ import annotations

import numpy as np

from .corpus import Corpus
from .registry import Registry

FILTERS = Registry("filter")


@FILTERS.register("nonempty", "drop generated documents with no tokens")
def nonempty(corpus: Corpus, rng: np.random.Generator) -> np.ndarray:
    return corpus.lengths > 0


@FILTERS.register("exact-dedup", "drop a generated document identical to an earlier one in the same sample")
def exact_dedup(corpus: Corpus, rng: np.random.Generator) -> np.ndarray:
    seen, keep = set(), np.zeros(len(corpus), dtype=bool)
    for i in range(len(corpus)):
        key = corpus.doc(i).tobytes()
        if key not in seen:
            seen.add(key)
            keep[i] = True
    return keep


def apply_filters(names: list[str], corpus: Corpus, rng: np.random.Generator) -> np.ndarray:
    """The combined keep-mask of the named gates, applied in order."""
    keep = np.ones(len(corpus), dtype=bool)
    for name in names:
        idx = np.flatnonzero(keep)
        keep[idx] = FILTERS.get(name)(corpus.take(idx), rng)
    return keep
