"""The source suite (sources/base.py): R and E are disjoint, a load is the same for the same seed, and a
source that makes fresh real documents makes new ones, with their provenance.

The factory takes a run seed and returns a fresh source; text sources fit the tokenizer they are handed."""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from lmcollapse.config import section_of
from lmcollapse.corpora.corpus import REAL
from lmcollapse.sources import Source, SourceData
from lmcollapse.tokenizers import TOKENIZERS
from lmcollapse.testing._suite import bound

Factory = Callable[[int], Source]


def check_source(factory: Factory) -> Iterator[Callable[[], None]]:
    checks = [check_training_and_held_out_documents_are_disjoint, check_a_load_is_the_same_for_the_same_seed,
              check_documents_are_real_and_fit_the_vocabulary]
    if factory(0).can_make_fresh:
        checks.append(check_fresh_documents_are_new_real_documents)
    return bound(checks, factory)


def _load(factory: Factory, seed: int) -> SourceData:
    return factory(seed).load(TOKENIZERS.build(section_of("tokenizer", "word")()))


def _texts(corpus) -> list[str]:
    return list(corpus.text) if corpus.text is not None else [corpus.doc(i).tobytes() for i in range(len(corpus))]


def check_training_and_held_out_documents_are_disjoint(factory: Factory) -> None:
    data = _load(factory, 0)
    assert not set(data.train.doc_id) & set(data.held_out.doc_id), "a document id is in both R and E"
    if data.train.text is not None:  # a finite set of distinct texts: no held-out text is trained on
        assert not set(data.train.text) & set(data.held_out.text), "a held-out text is also a training text"


def check_a_load_is_the_same_for_the_same_seed(factory: Factory) -> None:
    a, b = _load(factory, 3), _load(factory, 3)
    for part in ("train", "held_out"):
        x, y = getattr(a, part), getattr(b, part)
        np.testing.assert_array_equal(x.tokens, y.tokens, err_msg=f"{part}: the same seed gave other tokens")
        np.testing.assert_array_equal(x.doc_id, y.doc_id, err_msg=f"{part}: the same seed gave other ids")
    assert _texts(_load(factory, 4).train) != _texts(a.train), "another seed gave the very same training documents"


def check_documents_are_real_and_fit_the_vocabulary(factory: Factory) -> None:
    data = _load(factory, 0)
    for part in (data.train, data.held_out):
        assert (part.origin == REAL).all() and (part.generation == 0).all(), "R and E are real, born at 0"
        assert len(part) and (part.tokens < part.vocab_size).all() and (part.tokens >= 0).all()
        if part.eos_id is not None:
            assert not (part.tokens == part.eos_id).any(), "the end token is never part of a document"


def check_fresh_documents_are_new_real_documents(factory: Factory) -> None:
    source, data = factory(0), _load(factory, 0)
    fresh = source.fresh(10, 3)
    assert len(fresh) == 10 and (fresh.origin == REAL).all() and (fresh.generation == 3).all()
    assert not set(fresh.doc_id) & (set(data.train.doc_id) | set(data.held_out.doc_id)), "fresh ids reuse old ones"
    np.testing.assert_array_equal(fresh.tokens, factory(0).fresh(10, 3).tokens, err_msg="fresh is not reproducible")
