"""Exact KL/TV to the truth against brute-force enumeration of every document."""
import itertools

import numpy as np
import pytest

from lmcollapse.experiment import load_source
from lmcollapse.experiment import load_config
from lmcollapse.corpus import Corpus
from lmcollapse.metrics.divergence import exact_divergence
from lmcollapse.models.ngram import NGramModel
from lmcollapse.config import NGramConfig


def truth_and_model(model_order, **corpus):
    config = load_config({"corpus": {"n_train": 30, "n_eval": 5, **corpus}})
    data = load_source(config)
    model = NGramModel(NGramConfig(order=model_order, smoothing=0.3)).fit(data.train)
    return data.truth, model


def doc_prob(law, doc, eos):
    """Probability of a whole document (tokens, then the end token if eos is set) under a next-token law."""
    seq = list(doc) + ([eos] if eos is not None else [])
    p = 1.0
    for k, tok in enumerate(seq):
        context = np.array([[-1] * 4 + list(doc[:k])])
        p *= law(context)[0][tok]
    return p


def brute_force(truth, model, length=None, max_len=None):
    eos = truth.eos_id
    lengths = [length] if length is not None else range(max_len + 1)
    kl = tv = symbols = 0.0
    for L in lengths:
        for doc in itertools.product(range(truth.n_tokens), repeat=L):
            p = doc_prob(truth.next_token_probs, doc, eos)
            q = doc_prob(model.next_token_probs, doc, eos)
            kl += p * np.log(p / q)
            symbols += p * (L + (1 if eos is not None else 0))
    # Conditional TV averaged over positions: enumerate prefixes weighted by their truth probability.
    for L in range(length if length is not None else max_len + 1):
        for prefix in itertools.product(range(truth.n_tokens), repeat=L):
            alive = doc_prob(truth.next_token_probs, prefix, None)  # the end probability is in the table rows
            ctx = np.array([[-1] * 4 + list(prefix)])
            tv += alive * 0.5 * np.abs(truth.next_token_probs(ctx)[0] - model.next_token_probs(ctx)[0]).sum()
    return kl / symbols, tv / symbols


@pytest.mark.parametrize("model_order", [1, 2, 3])
def test_markov_fixed_length(model_order):
    truth, model = truth_and_model(model_order, name="markov", vocab_size=3, order=1, doc_length=4)
    kl, tv = exact_divergence(truth, model, 4)
    bf_kl, bf_tv = brute_force(truth, model, length=4)
    assert kl == pytest.approx(bf_kl, rel=1e-9) and tv == pytest.approx(bf_tv, rel=1e-9)


def test_categorical_with_end_token():
    truth, model = truth_and_model(2, name="categorical", probs=[0.7, 0.3], end_prob=0.8)
    kl, _ = exact_divergence(truth, model, None)
    bf_kl, _ = brute_force(truth, model, max_len=11)  # mass beyond 11 tokens: 0.2^12 ~ 4e-9
    assert kl == pytest.approx(bf_kl, rel=1e-6)


def test_perfect_model_has_zero_divergence_and_missing_token_infinite():
    truth, _ = truth_and_model(1, name="categorical", probs=[0.5, 0.5], doc_length=3)
    perfect = NGramModel(NGramConfig(order=1)).fit(Corpus.from_documents([[0, 1]], vocab_size=2))
    assert exact_divergence(truth, perfect, 3) == pytest.approx((0.0, 0.0), abs=1e-12)
    lost = NGramModel(NGramConfig(order=1, smoothing=0.0)).fit(Corpus.from_documents([[0, 0]], vocab_size=2))
    kl, tv = exact_divergence(truth, lost, 3)
    assert kl == np.inf and tv == pytest.approx(0.5)


def test_long_fixed_length_uses_stationarity_shortcut():
    truth, model = truth_and_model(2, name="markov", vocab_size=3, order=1, doc_length=4)
    short = exact_divergence(truth, model, 400)
    longer = exact_divergence(truth, model, 100_000)  # would take minutes without the shortcut
    assert abs(short[0] - longer[0]) < 0.01 * short[0]
