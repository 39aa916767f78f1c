"""The count model against brute-force counting, and its sampler against its own probabilities."""
from collections import Counter

import numpy as np
import pytest

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.models.ngram import NGramModel
from lmcollapse.models.decoding import Sampler
from lmcollapse.config import NGramConfig, SamplerConfig

PAD = "pad"


def brute_force_probs(docs, order, alpha, vocab, eos):
    """p(v | context) by literally counting padded n-grams, with the documented back-off rule."""
    counts = [Counter() for _ in range(order)]  # level j: (context tuple, token)
    totals = [Counter() for _ in range(order)]
    for d in docs:
        seq = [PAD] * (order - 1) + list(d) + ([eos] if eos is not None else [])
        for i in range(order - 1, len(seq)):
            for j in range(order):
                ctx = tuple(seq[i - j:i])
                counts[j][(ctx, seq[i])] += 1
                totals[j][ctx] += 1

    def probs(context):
        ctx = tuple([PAD] * (order - 1) + list(context))[len(context):] if order > 1 else ()
        ctx = tuple(ctx[-(order - 1):]) if order > 1 else ()
        for j in range(order - 1, -1, -1):
            sub = ctx[len(ctx) - j:] if j else ()
            if totals[j][sub] > 0:
                return np.array([(counts[j][(sub, v)] + alpha) / (totals[j][sub] + alpha * vocab) for v in range(vocab)])
        raise AssertionError("empty context always seen")

    return probs


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_probabilities_match_brute_force_counting(order, alpha):
    rng = np.random.default_rng(order)
    docs = [rng.integers(0, 5, size=rng.integers(0, 7)).tolist() for _ in range(40)]
    corpus = Corpus.from_documents(docs, vocab_size=6, eos_id=5)
    model = NGramModel(NGramConfig(order=order, smoothing=alpha)).fit(corpus)
    expected = brute_force_probs(docs, order, alpha, 6, 5)
    contexts = [[], [0], [1, 2], [3, 3, 3], [4, 0, 1, 2], [2, 2, 2, 2, 2]]
    for ctx in contexts:
        np.testing.assert_allclose(model.next_token_probs(ctx), expected(ctx), rtol=1e-12, atol=1e-15)
    batch = np.full((len(contexts), 5), -1)
    for i, ctx in enumerate(contexts):
        if ctx:
            batch[i, -len(ctx[-5:]):] = ctx[-5:]
    np.testing.assert_allclose(model.next_token_probs(batch), [expected(c) for c in contexts], rtol=1e-12)


def test_unseen_context_backs_off_to_longest_seen_suffix():
    corpus = Corpus.from_documents([[0, 1, 2], [1, 1]], vocab_size=4, eos_id=3)
    model = NGramModel(NGramConfig(order=3, smoothing=0.0)).fit(corpus)
    # Context (2, 1) never occurred; its suffix (1,) did: successors of 1 are 2, 1, eos.
    np.testing.assert_allclose(model.next_token_probs([2, 1]), [0, 1 / 3, 1 / 3, 1 / 3])
    assert model.next_token_probs([2, 1]).sum() == pytest.approx(1)


def test_log_prob_is_the_chain_of_next_token_probs(toy_corpus):
    model = NGramModel(NGramConfig(order=3, smoothing=0.1)).fit(toy_corpus)
    for i in range(len(toy_corpus)):
        doc = toy_corpus.doc(i).tolist() + [4]
        expected = sum(np.log(model.next_token_probs(doc[:k])[doc[k]]) for k in range(len(doc)))
        assert model.log_prob(toy_corpus)[i] == pytest.approx(expected)


def test_mle_gives_minus_infinity_to_unseen_tokens():
    model = NGramModel(NGramConfig(order=1, smoothing=0.0)).fit(Corpus.from_documents([[0, 0, 1]], vocab_size=3))
    assert model.log_prob(Corpus.from_documents([[2]], vocab_size=3))[0] == -np.inf


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("sampler", [Sampler(), Sampler(SamplerConfig(temperature=0.7, top_k=3, top_p=0.9))])
def test_sampled_first_two_tokens_follow_the_model(sampler, order):
    """Chi-square goodness of fit of (first, second) token pairs, for both sampling paths; the second
    draw exercises the context carried over from the first (no lookup) in the pure path."""
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 4, size=rng.integers(0, 6)).tolist() for _ in range(30)]
    model = NGramModel(NGramConfig(order=order, smoothing=0.3)).fit(Corpus.from_documents(docs, vocab_size=5, eos_id=4))
    n = 60000
    sample = model.sample(n, sampler=sampler, seed=1)
    lengths = sample.lengths
    first = np.where(lengths > 0, sample.tokens[np.minimum(sample.offsets[:-1], sample.n_tokens - 1)], 4)
    second = np.where(lengths > 1, sample.tokens[np.minimum(sample.offsets[:-1] + 1, sample.n_tokens - 1)], 4)
    second = np.where(lengths > 0, second, -1)  # documents that ended at once have no second symbol
    observed, expected = [], []
    p_first = sampler.transform(model.next_token_probs([])[None, :])[0]
    for a in range(5):
        if a == 4:
            observed.append((first == 4).sum())
            expected.append(n * p_first[4])
            continue
        p_second = sampler.transform(model.next_token_probs([a])[None, :])[0]
        for b in range(5):
            observed.append(((first == a) & (second == b)).sum())
            expected.append(n * p_first[a] * p_second[b])
    observed, expected = np.array(observed, float), np.array(expected)
    assert observed[expected == 0].sum() == 0  # top-k / top-p excluded tokens never appear
    used = expected > 0
    chi2 = (((observed - expected) ** 2)[used] / expected[used]).sum()
    dof = used.sum() - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)  # about 6 standard deviations of chi2(dof)


def test_fixed_length_training_gives_fixed_length_samples():
    corpus = Corpus.from_documents([[0, 1, 2, 0, 1]] * 3 + [[2, 2, 2, 1, 0]], vocab_size=3)
    model = NGramModel(NGramConfig(order=2, smoothing=0.1)).fit(corpus)
    sample = model.sample(500, seed=3)
    assert set(sample.lengths.tolist()) == {5}
    assert sample.origin.tolist() == [1] * 500


def test_documents_of_mixed_lengths_keep_their_own_contexts():
    """The sampler keeps each unfinished document's context beside it and drops finished ones as they end. Two
    deterministic chains (0 -> 1 -> 2 -> 0 and 3 -> 4 -> 5 -> 3, no smoothing), a document picking one at its
    first token: every sampled document must be a prefix of one chain, whichever documents ended before it,
    with lengths drawn from training's (no end token) or ended by the end token."""
    chains = ([0, 1, 2] * 50, [3, 4, 5] * 50)

    def follows_a_chain(sample):
        return all(any(sample.doc(i).tolist() == c[:sample.lengths[i]] for c in chains) for i in range(len(sample)))

    by_length = Corpus.from_documents([c[:k] for c in chains for k in (2, 4, 6, 6)] * 5, vocab_size=6)
    sample = NGramModel(NGramConfig(order=2, smoothing=0.0)).fit(by_length).sample(3000, seed=4)
    assert follows_a_chain(sample)
    shares = np.bincount(sample.lengths, minlength=7)[[2, 4, 6]] / len(sample)
    assert np.allclose(shares, [0.25, 0.25, 0.5], atol=0.04)  # training's lengths (over 4 standard errors)
    # With an end token, a chain may end after a 1 or a 2 (a 4 or a 5) and otherwise goes on.
    ended = Corpus.from_documents([[0, 1], [0, 1, 2, 0, 1, 2], [3, 4, 5], [3, 4, 5, 3, 4]] * 4, vocab_size=7, eos_id=6)
    sample = NGramModel(NGramConfig(order=2, smoothing=0.0)).fit(ended).sample(3000, seed=5)
    assert follows_a_chain(sample)
    assert len(set(sample.lengths.tolist())) >= 6  # documents end at many different steps


def test_max_tokens_caps_end_terminated_samples(toy_corpus):
    model = NGramModel(NGramConfig(order=2, smoothing=1.0)).fit(toy_corpus)  # heavy smoothing: long documents
    sample = model.sample(300, sampler=Sampler(SamplerConfig(max_tokens=4)), seed=0)
    assert sample.lengths.max() <= 4 and sample.lengths.min() >= 0


def test_sampling_is_deterministic_per_seed(toy_corpus):
    model = NGramModel(NGramConfig(order=2, smoothing=0.2)).fit(toy_corpus)
    a, b, c = (model.sample(200, seed=s) for s in (5, 5, 6))
    assert np.array_equal(a.tokens, b.tokens) and not np.array_equal(a.tokens, c.tokens)


def test_save_load_round_trip(tmp_path, toy_corpus):
    model = NGramModel(NGramConfig(order=3, smoothing=0.05)).fit(toy_corpus)
    model.save(tmp_path / "m")
    back = NGramModel.load(tmp_path / "m")
    np.testing.assert_array_equal(back.log_prob(toy_corpus), model.log_prob(toy_corpus))
    assert np.array_equal(back.sample(50, seed=2).tokens, model.sample(50, seed=2).tokens)


def test_context_entropy_matches_definition(toy_corpus):
    model = NGramModel(NGramConfig(order=2, smoothing=0.2)).fit(toy_corpus)
    h = model.context_entropies(toy_corpus)
    doc = toy_corpus.doc(0).tolist() + [4]
    for k in range(len(doc)):
        p = model.next_token_probs(doc[:k])
        assert h[k] == pytest.approx(-(p * np.log(p)).sum())


def test_bad_hyperparameters_and_data():
    from lmcollapse.running.parts import load_config

    with pytest.raises(LmcollapseError, match="model.order: input should be greater than or equal to 1"):
        load_config({"model": {"order": 0}})
    with pytest.raises(LmcollapseError, match="model.smoothing: input should be greater than or equal to 0"):
        load_config({"model": {"smoothing": -1}})
    with pytest.raises(LmcollapseError):
        NGramModel().fit(Corpus.from_documents([], vocab_size=3))


def test_large_vocabulary_counting_path_builds_the_same_tables(monkeypatch, toy_corpus):
    """Contexts too wide for one int64 (context, token) key are counted in two sorts; same result."""
    from lmcollapse.models import ngram_table

    fast = NGramModel(NGramConfig(order=3, smoothing=0.1)).fit(toy_corpus)
    monkeypatch.setattr(ngram_table, "ONE_SORT_MAX", 0)
    slow = NGramModel(NGramConfig(order=3, smoothing=0.1)).fit(toy_corpus)
    for a, b in zip(fast.table_.levels, slow.table_.levels):
        for name in ("keys", "pair_keys", "counts", "start", "total"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_order_too_high_for_the_vocabulary_is_a_clear_error():
    corpus = Corpus.from_documents([[0, 1]], vocab_size=100_000)
    with pytest.raises(LmcollapseError, match="too high for a vocabulary of 100000"):
        NGramModel(NGramConfig(order=5)).fit(corpus)


def test_counting_in_chunks_gives_the_same_tables(monkeypatch):
    """Counts are merged across chunks of documents; any chunk size must give identical tables."""
    from lmcollapse.models import ngram_table

    rng = np.random.default_rng(4)
    docs = [rng.integers(0, 6, size=rng.integers(0, 9)).tolist() for _ in range(80)]
    corpus = Corpus.from_documents(docs, vocab_size=7, eos_id=6)
    whole = NGramModel(NGramConfig(order=3, smoothing=0.1)).fit(corpus)
    monkeypatch.setattr(ngram_table, "COUNT_CHUNK", 7)
    assert len(ngram_table.document_chunks(corpus.offsets, 7)) > 20
    chunked = NGramModel(NGramConfig(order=3, smoothing=0.1)).fit(corpus)
    for a, b in zip(whole.table_.levels, chunked.table_.levels):
        for name in ("keys", "pair_keys", "counts", "start", "total"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_finding_contexts_by_gather_or_by_hash_gives_the_binary_search_ids_and_the_same_samples(monkeypatch):
    """Levels with few possible keys find contexts in a dense table, the others in a hash table: the ids
    (-1 for contexts never seen, keys beyond every seen one included) must be a binary search's over the
    sorted keys, and so the samples must not depend on which."""
    from lmcollapse.models import ngram_table

    rng = np.random.default_rng(5)
    docs = [rng.integers(0, 9, size=rng.integers(1, 12)).tolist() for _ in range(150)]
    corpus = Corpus.from_documents(docs, vocab_size=10, eos_id=9)
    sampler = Sampler(SamplerConfig(max_tokens=20))
    dense = NGramModel(NGramConfig(order=3, smoothing=0.05)).fit(corpus)
    assert all(level.id_of_key is not None for level in dense.table_.levels)
    monkeypatch.setattr(ngram_table, "DENSE_FIND_MAX", 0)
    hashed = NGramModel(NGramConfig(order=3, smoothing=0.05)).fit(corpus)
    assert all(level.id_of_key is None for level in hashed.table_.levels)
    for a, b in zip(dense.table_.levels, hashed.table_.levels):
        queries = rng.integers(0, 11**2 + 5, 500)  # every key of a 2-token context, and beyond
        position = np.minimum(np.searchsorted(a.keys, queries), len(a.keys) - 1)
        want = np.where(a.keys[position] == queries, position, -1)
        assert (want >= 0).any() and (want < 0).any()
        assert np.array_equal(a.find(queries), want) and np.array_equal(b.find(queries), want)
    one, other = dense.sample(300, sampler=sampler, seed=3), hashed.sample(300, sampler=sampler, seed=3)
    assert np.array_equal(one.tokens, other.tokens) and np.array_equal(one.lengths, other.lengths)


@pytest.mark.parametrize("home", ["spread", "three slots", "one slot"])
def test_hashed_context_lookup_survives_colliding_keys(monkeypatch, home):
    """Linear probing (then a binary search for keys still unresolved after HASH_PROBES slots) must find every
    key and no absent one however the home slots collide (the real hash spreads keys; a degenerate one sends
    them all to a few slots, or one)."""
    from lmcollapse.models import ngram_table

    original = ngram_table.home_slot
    if home != "spread":
        slots = 3 if home == "three slots" else 1
        monkeypatch.setattr(ngram_table, "home_slot", lambda keys, size: (np.asarray(keys) % slots).astype(np.int64))
    rng = np.random.default_rng(len(home))
    keys = np.unique(rng.integers(0, 2**61, 400))
    level = ngram_table.Level(10, keys, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(1, np.int64),
                              np.zeros(0, np.int64))
    assert level.id_of_key is None and (level.id_by_hash >= 0).sum() == len(keys)
    absent = np.setdiff1d(rng.integers(0, 2**61, 400), keys)
    queries = np.concatenate([keys[::-1], absent, keys[:7]])
    assert level.find(queries).tolist() == list(range(len(keys)))[::-1] + [-1] * len(absent) + list(range(7))
    assert original(np.array([0, 1, 2**62]), 2**10).max() < 2**10  # the real hash stays inside the table


@pytest.mark.parametrize("vocab_size", [2, 40, 2**16 - 1, 2**16, 70_000])
def test_counting_by_level_agrees_with_unique(vocab_size):
    """Each level's (context, token) pairs come from the level below by one stable sort on the context's
    oldest token (16-bit symbols by counting, wider ones by a comparison sort): for every level they must
    equal np.unique of that level's pairs packed directly, pads and the largest token included."""
    from lmcollapse.models.ngram_table import counted_by_level
    from lmcollapse.corpora.ngrams import horner, padded_stream

    rng = np.random.default_rng(vocab_size)
    lengths = rng.choice([0, 1, 3, 12], size=80)
    tokens = np.where(rng.random(lengths.sum()) < 0.6, rng.integers(0, 3, lengths.sum()),
                      rng.integers(0, vocab_size, lengths.sum())).astype(np.int32)
    tokens[::17] = vocab_size - 1
    order = 4 if (vocab_size + 1) ** 3 * vocab_size < 2**63 else 3  # as build: pairs within one int64
    stream, targets = padded_stream(tokens, lengths, order, vocab_size, eos_id=None)
    levels = list(counted_by_level(stream, targets, order, vocab_size))
    assert [j for j, _, _ in levels] == list(range(1, order))
    for j, pairs, counts in levels:
        context = horner([stream[targets - i] for i in range(j, 0, -1)], vocab_size + 1)  # most recent lowest
        want = np.unique(context * vocab_size + stream[targets], return_counts=True)
        assert pairs.tolist() == want[0].tolist() and counts.tolist() == want[1].tolist(), j


def test_a_level_with_no_contexts_finds_none():
    """A level that saw no context (no predicted position had that many tokens before it) answers -1."""
    from lmcollapse.models.ngram_table import Level

    empty = np.zeros(0, np.int64)
    level = Level(5, empty, empty, empty, np.zeros(1, np.int64), empty)
    assert level.id_of_key is None and level.find(np.array([0, 3, 2**40])).tolist() == [-1, -1, -1]
