"""The count model's store of reshaped laws draws exactly what reshaping a dense row per draw did (P20)."""
import numpy as np
import pytest

from lmcollapse.config import NGramConfig, SamplerConfig
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.models import truncated
from lmcollapse.models.decoding import Sampler
from lmcollapse.models.ngram import NGramModel

SAMPLERS = [{"temperature": 0.7}, {"top_k": 3}, {"top_p": 0.8}, {"temperature": 1.3, "top_k": 5, "top_p": 0.9},
            {"top_k": 40}]  # top_k above the vocabulary: every token kept


def fitted(order: int, smoothing: float, seed: int = 0) -> NGramModel:
    rng = np.random.default_rng(seed)
    # a skewed law over 30 tokens (29 is the end token), so contexts differ in how many successors they have
    docs = [rng.choice(29, size=rng.integers(1, 12), p=np.arange(29, 0, -1) / 435).tolist() for _ in range(200)]
    return NGramModel(NGramConfig(order=order, smoothing=smoothing)).fit(
        Corpus.from_documents(docs, vocab_size=30, eos_id=29))


def sampled(model: NGramModel, sampler: Sampler, budget: int, monkeypatch) -> Corpus:
    monkeypatch.setattr(truncated, "STORE_BUDGET_BYTES", budget)
    return model.sample(700, sampler=sampler, seed=3, generation=1)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("smoothing", [0.0, 0.01])
@pytest.mark.parametrize("overrides", SAMPLERS)
def test_the_store_draws_the_dense_path_documents_exactly(order, smoothing, overrides, monkeypatch):
    model, sampler = fitted(order, smoothing), Sampler(SamplerConfig(max_tokens=20, **overrides))
    dense = sampled(model, sampler, 0, monkeypatch)  # 0: no store, a dense row reshaped per draw
    stored = sampled(model, sampler, truncated.STORE_BUDGET_BYTES, monkeypatch)
    assert dense.n_tokens > 1000  # enough draws to meet most contexts more than once
    np.testing.assert_array_equal(stored.tokens, dense.tokens)
    np.testing.assert_array_equal(stored.offsets, dense.offsets)


def test_a_store_over_its_budget_starts_again_and_draws_the_same(monkeypatch):
    """A budget of one entry empties the store at every step that finds it non-empty; the draws do not change."""
    model, sampler = fitted(3, 0.01), Sampler(SamplerConfig(max_tokens=20, top_p=0.9))
    dense = sampled(model, sampler, 0, monkeypatch)
    laws = truncated.TruncatedLaws(model.table_, model.smoothing, sampler, budget_bytes=truncated.ENTRY_BYTES)
    from lmcollapse.models import ngram
    monkeypatch.setattr(ngram, "TruncatedLaws", lambda *args: laws)
    tight = model.sample(700, sampler=sampler, seed=3, generation=1)
    assert laws.resets >= 10  # emptied at nearly every step that met a new context
    np.testing.assert_array_equal(tight.tokens, dense.tokens)


def test_each_context_is_reshaped_once_per_call(monkeypatch):
    model, sampler = fitted(2, 0.01), Sampler(SamplerConfig(max_tokens=20, top_k=3))
    reshaped = []
    real_transform = Sampler.transform
    monkeypatch.setattr(Sampler, "transform", lambda self, probs: reshaped.append(len(probs)) or
                        real_transform(self, probs))
    model.sample(700, sampler=sampler, seed=3)
    assert sum(reshaped) <= model.table_.levels[-1].n_contexts + model.table_.levels[0].n_contexts
