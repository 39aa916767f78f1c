"""Exact KL/TV to the truth against brute-force enumeration of every document."""
import itertools

import numpy as np
import pytest

import lmcollapse
from lmcollapse.config import NGramConfig
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.running.parts import load_config, load_source
from lmcollapse.metrics.divergence import exact_divergence
from lmcollapse.models.ngram import NGramModel
from lmcollapse.sources import SOURCES


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


# ---- neural models on known-truth corpora ----------------------------------------------------------
TINY_NEURAL = {"gpt": {"name": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "epochs": 2,
                       "lr": 0.01},
               "hf": {"name": "hf", "block_size": 16, "epochs": 2, "lr": 0.01}}
TRUTHS = {"markov": {"name": "markov", "vocab_size": 5, "order": 1, "doc_length": 8},
          "categorical": {"name": "categorical", "probs": [0.4, 0.3, 0.2, 0.1], "end_prob": 0.2}}


@pytest.mark.parametrize("model", ["gpt", "hf"])
@pytest.mark.parametrize("truth", ["markov", "categorical"])
def test_neural_models_on_known_truth_corpora_measure_kl_and_tv(model, truth, tmp_path):
    pytest.importorskip("torch" if model == "gpt" else "transformers")
    config = {"corpus": {**TRUTHS[truth], "n_train": 200, "n_eval": 100}, "model": TINY_NEURAL[model],
              "sampler": {"max_tokens": 15}, "generations": 2, "ci_rounds": 20, "save_models": False}
    rows = lmcollapse.run(config, out_dir=tmp_path / "run").metrics
    for row in rows:
        for name in ("kl_to_truth", "tv_to_truth"):
            assert np.isfinite(row[name]) and row[f"{name}_lo"] <= row[name] <= row[f"{name}_hi"], (name, row)
        assert 0 <= row["tv_to_truth"] <= 1


def test_the_held_out_kl_estimate_agrees_with_the_exact_kl():
    """The estimator used for neural models, applied to a count model whose KL is known exactly: over 20
    independent held-out sets it lands within 4 of its own standard errors of the exact value, and its
    95% interval covers the exact value at least 16 times (binomial, p = 0.95: P(< 16) < 0.003)."""
    from lmcollapse.running.parts import load_source
    from lmcollapse.metrics import GenerationView
    from lmcollapse.metrics.model import kl_to_truth
    from lmcollapse.models.ngram import NGramModel

    config = load_config({"corpus": {"name": "markov", "vocab_size": 6, "order": 2, "doc_length": 10,
                                     "n_train": 300, "n_eval": 20}})
    data = load_source(config)
    model = NGramModel(NGramConfig(order=3, smoothing=0.5)).fit(data.train)
    source = SOURCES.build(config.corpus, seed=config.seed)

    class FullPrefix:  # the same laws, but declaring no enumerable contexts: the metric must estimate
        capabilities = frozenset()

        def supports(self, capability):
            return False

        def __getattr__(self, name):
            return getattr(model, name)

    exact = kl_to_truth(GenerationView(0, model, data.train, data.train, data.train, data.train, data.train,
                                       data.held_out, truth=data.truth, doc_length=10))
    covered = 0
    for k in range(20):
        held = source.truth.sample(400, 10, np.random.default_rng(100 + k), first_id=0, generation=0,
                                   producer="truth", seed=k)
        view = GenerationView(0, FullPrefix(), data.train, data.train, data.train, data.train, data.train, held,
                              truth=data.truth, doc_length=10)
        estimate = kl_to_truth(view)
        low, high = estimate.interval(np.random.default_rng(k), 100)
        se = (high - low) / (2 * 1.96)
        assert abs(estimate.value - exact) < 4 * se, (estimate.value, exact, se)
        covered += low <= exact <= high
    assert covered >= 16, covered
