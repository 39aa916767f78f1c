"""The gate suite (gates/base.py), by kind: a Filter returns a mask (and scores) per candidate and the same
decisions for the same generator, a Producer makes n synthetic candidates with their provenance, a
PoolWeighting gives a probability per pool document, a Resampler indices into the training set it is shown,
the same for the same generator. No gate changes the documents it is shown.

The factory returns a fresh gate; checks run it on a known-truth Markov corpus with a bigram model."""
from __future__ import annotations

import functools
from typing import Callable, Iterator

import numpy as np

from lmcollapse.config import section_of
from lmcollapse.corpora.corpus import SYNTHETIC, Corpus, synthetic_first_id
from lmcollapse.gates import Filter, GateContext, PoolWeighting, Producer, ReferenceModel, Resampler
from lmcollapse.models import MODELS
from lmcollapse.sources import SOURCES
from lmcollapse.testing._suite import bound

Factory = Callable[[], object]


class _Reference(ReferenceModel):
    def __init__(self, model):
        self.model = model

    def reference_model(self):
        return self.model


@functools.lru_cache(maxsize=1)
def _world():
    """(context, candidates): generation 1 of a run on a small Markov chain, the same for every check."""
    source = SOURCES.build(section_of("corpus", "markov")(vocab_size=6, doc_length=8, n_train=200, n_eval=100), seed=0)
    data = source.load()
    model = MODELS.build(section_of("model", "ngram")(order=2, smoothing=0.1)).fit(data.train, seed=0)
    candidates = model.sample(120, seed=1, generation=1, first_id=synthetic_first_id(1), producer="ngram@gen-0")
    context = GateContext(1, model, data.train, data.train, data.held_out, source.truth, run=_Reference(model))
    return context, candidates


def check_gate(factory: Factory) -> Iterator[Callable[[], None]]:
    gate = factory()
    kind = {Filter: [check_a_filter_decides_every_candidate_and_reproducibly],
            Producer: [check_a_producer_makes_n_synthetic_candidates],
            PoolWeighting: [check_a_pool_weighting_is_a_distribution_over_the_pool],
            Resampler: [check_a_resampler_draws_from_the_training_set_reproducibly]}
    checks = next(c for k, c in kind.items() if isinstance(gate, k))
    return bound(checks + [check_the_gate_is_built_from_its_section], factory)


def check_the_gate_is_built_from_its_section(factory: Factory) -> None:
    gate = factory()
    assert isinstance(gate.config, type(gate).config_class), "a gate keeps the section it was built from"


def check_a_filter_decides_every_candidate_and_reproducibly(factory: Factory) -> None:
    context, candidates = _world()
    tokens = candidates.tokens.copy()
    mask, scores = factory().keep(candidates, context, np.random.default_rng(0))
    again, _ = factory().keep(candidates, context, np.random.default_rng(0))
    assert mask.shape == (len(candidates),) and mask.dtype == bool, "keep returns one bool per candidate"
    assert scores is None or np.asarray(scores).shape == (len(candidates),), "one score per candidate, or None"
    np.testing.assert_array_equal(mask, again, err_msg="the same generator gave other decisions")
    np.testing.assert_array_equal(candidates.tokens, tokens, err_msg="the filter changed the candidates")


def check_a_producer_makes_n_synthetic_candidates(factory: Factory) -> None:
    context, _ = _world()
    first = synthetic_first_id(2)
    made, scores = factory().generate(30, context, seed=4, generation=2, first_id=first, producer="ngram@gen-1")
    assert isinstance(made, Corpus) and len(made) == 30 and np.asarray(scores).shape == (30,)
    assert (made.origin == SYNTHETIC).all() and (made.generation == 2).all(), "candidates are synthetic, born at 2"
    assert made.doc_id[0] == first and len(set(made.doc_id)) == 30, "ids from first_id, each once"
    again, _ = factory().generate(30, context, seed=4, generation=2, first_id=first, producer="ngram@gen-1")
    np.testing.assert_array_equal(made.tokens, again.tokens, err_msg="the same seed gave other candidates")


def check_a_pool_weighting_is_a_distribution_over_the_pool(factory: Factory) -> None:
    context, candidates = _world()
    pool = Corpus.concat([context.real, candidates])
    weights = factory().weights(pool)
    assert weights.shape == (len(pool),) and (weights >= 0).all(), "a non-negative weight per pool document"
    assert abs(weights.sum() - 1) < 1e-9, "weights are probabilities"


def check_a_resampler_draws_from_the_training_set_reproducibly(factory: Factory) -> None:
    context, candidates = _world()
    train = Corpus.concat([context.real.take(np.arange(50)), candidates])  # a training set of both kinds
    tokens = train.tokens.copy()
    learner_set, activity = factory().resample(train, context, np.random.default_rng(0))
    again, _ = factory().resample(train, context, np.random.default_rng(0))
    assert isinstance(learner_set, Corpus) and len(learner_set) > 0, "a resample is a corpus with documents"
    assert np.isin(learner_set.doc_id, np.r_[train.doc_id, context.real.doc_id]).all(), \
        "a resample holds documents of the training set or of R, under their own ids"
    assert isinstance(activity, dict) and all(isinstance(v, float) for v in activity.values()), "activity: floats"
    np.testing.assert_array_equal(learner_set.doc_id, again.doc_id, err_msg="the same generator gave another resample")
    np.testing.assert_array_equal(train.tokens, tokens, err_msg="the resampler changed the training set")
