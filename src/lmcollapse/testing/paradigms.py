"""The paradigm suite (paradigms/base.py): next_state never changes its inputs, draws only from the
generator it is given, and builds its training set from documents it was handed."""
from __future__ import annotations

import random
from typing import Callable, Iterator

import numpy as np

from lmcollapse.corpora.corpus import REAL, SYNTHETIC, Corpus, real_first_id, synthetic_first_id
from lmcollapse.paradigms import DataState, Paradigm, initial_state
from lmcollapse.testing._suite import bound
from lmcollapse.testing.models import toy_corpus

Factory = Callable[[], Paradigm]


def check_paradigm(factory: Factory) -> Iterator[Callable[[], None]]:
    return bound([check_contribution_is_at_least_one_document, check_next_state_never_changes_its_inputs,
                  check_draws_only_from_the_generator_it_is_given, check_trains_only_on_documents_it_was_handed],
                 factory)


def _fresh(n: int, generation: int) -> Corpus:
    """A supply of new real documents, as a known truth or a reservoir gives them."""
    base = toy_corpus(seed=100 + generation, n_docs=n)
    return Corpus.from_flat(base.tokens, base.lengths, vocab_size=base.vocab_size, eos_id=base.eos_id, origin=REAL,
                            generation=generation, producer="fresh", seed=generation,
                            first_id=real_first_id(generation))


def _step(paradigm: Paradigm, seed: int = 0) -> tuple[DataState, DataState, Corpus, Corpus]:
    """(state before, state after, kept, real) of two generations of the paradigm on toy data."""
    real = toy_corpus(seed=1, n_docs=40)
    state = initial_state(real)
    for t in range(2):
        n = paradigm.n_synthetic(len(real))
        kept = toy_corpus(seed=10 + t, n_docs=n)
        kept = Corpus.from_flat(kept.tokens, kept.lengths, vocab_size=kept.vocab_size, eos_id=kept.eos_id,
                                origin=SYNTHETIC, generation=t + 1, producer=f"toy@gen-{t}", seed=t,
                                first_id=synthetic_first_id(t + 1))
        before = state
        state = paradigm.next_state(state, kept, real, np.random.default_rng([seed, t]), _fresh, t + 1)
    return before, state, kept, real


def _snapshot(*corpora: Corpus) -> list:
    return [(c.tokens.copy(), c.offsets.copy(), c.doc_id.copy(), c.origin.copy(), c.generation.copy(),
             list(c.producer)) for c in corpora]


def check_contribution_is_at_least_one_document(factory: Factory) -> None:
    assert factory().n_synthetic(40) >= 1, "every model must contribute at least one document"


def check_next_state_never_changes_its_inputs(factory: Factory) -> None:
    paradigm = factory()
    real = toy_corpus(seed=1, n_docs=40)
    state = initial_state(real)
    kept = toy_corpus(seed=2, n_docs=paradigm.n_synthetic(len(real)))
    before = _snapshot(state.train, state.pool, kept, real)
    paradigm.next_state(state, kept, real, np.random.default_rng(0), _fresh, 1)
    after = _snapshot(state.train, state.pool, kept, real)
    for a, b in zip(before, after):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y, err_msg="next_state changed a corpus it was given")


def check_draws_only_from_the_generator_it_is_given(factory: Factory) -> None:
    numpy_state, python_state = np.random.get_state()[1].copy(), random.getstate()
    a = _step(factory(), seed=5)[1]
    b = _step(factory(), seed=5)[1]
    np.testing.assert_array_equal(a.train.doc_id, b.train.doc_id, err_msg="the same generator gave other documents")
    np.testing.assert_array_equal(a.pool.doc_id, b.pool.doc_id, err_msg="the same generator gave another pool")
    assert (np.random.get_state()[1] == numpy_state).all(), "next_state drew from numpy's global generator"
    assert random.getstate() == python_state, "next_state drew from Python's global generator"


def check_trains_only_on_documents_it_was_handed(factory: Factory) -> None:
    before, after, kept, real = _step(factory())
    handed = set(before.pool.doc_id) | set(before.train.doc_id) | set(kept.doc_id) | set(real.doc_id)
    fresh = {int(i) for i in _fresh(len(real), 2).doc_id}
    unknown = set(after.train.doc_id) - handed - fresh
    assert not unknown, f"the training set holds {len(unknown)} documents nobody handed the paradigm"
    assert set(after.train.doc_id) <= set(after.pool.doc_id), "the training set is not drawn from the pool"
    assert len(after.train) > 0, "an empty training set"
