"""The count model's sparse truncated laws equal the dense reshaping they replace, and draws follow them (P20)."""
import numpy as np
import pytest
from scipy import stats

from lmcollapse.config import NGramConfig, SamplerConfig
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.models import truncated
from lmcollapse.models.decoding import Sampler
from lmcollapse.models.ngram import NGramModel
from lmcollapse.models.truncated import TruncatedLaws

# top-p values no ratio of small counts hits exactly (an exact tie is settled by rounding in the dense path; see
# test_top_p_stops_where_the_mass_before_reaches_p for the rule here)
SAMPLERS = [{"temperature": 0.7}, {"temperature": 1.6}, {"top_k": 1}, {"top_k": 3}, {"top_k": 12},
            {"top_p": 0.4937}, {"top_p": 0.9513}, {"temperature": 1.3, "top_k": 5, "top_p": 0.9031},
            {"temperature": 0.5, "top_p": 0.9871}, {"top_k": 40}]  # top_k above the vocabulary: nothing cut


def fitted(order: int, smoothing: float, seed: int = 0) -> NGramModel:
    rng = np.random.default_rng(seed)
    # a skewed law over 30 tokens (29 is the end token): contexts with 1 to 29 seen successors, tied counts
    docs = [rng.choice(29, size=rng.integers(1, 12), p=np.arange(29, 0, -1) / 435).tolist() for _ in range(200)]
    return NGramModel(NGramConfig(order=order, smoothing=smoothing)).fit(
        Corpus.from_documents(docs, vocab_size=30, eos_id=29))


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("smoothing", [0.0, 0.01, 0.5])
@pytest.mark.parametrize("overrides", SAMPLERS)
def test_every_context_law_equals_the_dense_reshaping(order, smoothing, overrides):
    """Token by token to 1e-12, except that top-k may keep other tokens among equally likely ones (the dense
    path's partition picks any; the sparse one the lowest ids): there the sorted laws agree."""
    model, sampler = fitted(order, smoothing), Sampler(SamplerConfig(**overrides))
    laws = TruncatedLaws(model.table_, model.smoothing, sampler)
    compared = 0
    for level, table_level in enumerate(model.table_.levels):
        contexts = np.arange(table_level.n_contexts)
        dense = sampler.transform(model.table_.dense_counts(np.full(len(contexts), level), contexts) + smoothing)
        for c in contexts:
            sparse = laws.law(level, c)
            np.testing.assert_allclose(np.sort(sparse), np.sort(dense[c]), rtol=0, atol=1e-12)
            if not overrides.get("top_k") or overrides["top_k"] >= 30:
                np.testing.assert_allclose(sparse, dense[c], rtol=0, atol=1e-12)
            compared += 1
    assert compared >= 30


def test_top_p_stops_where_the_mass_before_reaches_p():
    """Unigram counts 6, 3, 3, 3, 3, 3 and 21 ones (20 tokens and the end token), 42 in all: the first six
    tokens hold exactly half, so top-p 0.5 keeps them and no more (the dense path's normalised float sum fell
    short of 0.5 and kept a seventh)."""
    model = NGramModel(NGramConfig(order=1, smoothing=0.0)).fit(
        Corpus.from_documents([[0] * 6 + [1, 2, 3, 4, 5] * 3 + list(range(6, 26))], vocab_size=30, eos_id=29))
    law = TruncatedLaws(model.table_, 0.0, Sampler(SamplerConfig(top_p=0.5))).law(0, 0)
    assert (law > 0).sum() == 6
    np.testing.assert_allclose(law[:6], [6 / 21] + [3 / 21] * 5, rtol=1e-12)


@pytest.mark.parametrize("overrides", [{"temperature": 0.7}, {"top_k": 12}, {"top_p": 0.9513},
                                       {"temperature": 1.3, "top_k": 5, "top_p": 0.9}])
def test_draws_follow_each_context_law(overrides):
    """Chi-square goodness of fit of 20,000 draws in each of the 8 contexts with the most successors, at
    family-wise level 1e-4 (Bonferroni): a wrong block or list search shows as a p-value near 0."""
    model, sampler = fitted(2, 0.05), Sampler(SamplerConfig(**overrides))
    laws = TruncatedLaws(model.table_, model.smoothing, sampler)
    level = model.table_.levels[1]
    busiest = np.argsort(-np.diff(level.start))[:8]
    rng = np.random.default_rng(11)
    for c in busiest:
        n = 20000
        tokens = laws.draw(np.full(n, 1), np.full(n, c), rng.random(n))
        law = laws.law(1, c)
        observed = np.bincount(tokens, minlength=30)
        assert observed[law == 0].sum() == 0  # a cut token is never drawn
        used = law > 0
        p = stats.chisquare(observed[used], n * law[used]).pvalue
        assert p > 1e-4 / 32, (c, p)


def test_sampling_through_the_laws_matches_the_dense_path_in_law(monkeypatch):
    """Whole documents: the first tokens' frequencies from the sparse and the dense path agree (two-sample
    chi-square at level 1e-4), while the sparse path is the one the model uses."""
    model, sampler = fitted(2, 0.01), Sampler(SamplerConfig(max_tokens=20, top_p=0.9, temperature=0.8))
    sparse = model.sample(20000, sampler=sampler, seed=3)
    monkeypatch.setattr(truncated, "RESHAPE_PER_DRAW", True)
    dense = model.sample(20000, sampler=sampler, seed=4)
    first = [np.bincount(s.tokens[s.offsets[:-1][s.lengths > 0]], minlength=30) for s in (sparse, dense)]
    table = np.array(first)[:, np.array(first).sum(axis=0) > 0]
    assert stats.chi2_contingency(table).pvalue > 1e-4
