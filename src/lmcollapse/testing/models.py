"""The conformance suite every language-model backend must pass (scikit-learn's estimator_checks idea).

    from lmcollapse.testing import check_language_model
    for check in check_language_model(lambda: MyModel(size=8)):
        check()          # raises AssertionError naming what is wrong

check_language_model yields one named check per property of the LanguageModel contract
(models/base.py), plus the checks of every capability the model declares. The factory must return a
fresh, unfitted model; keep it small, the checks fit it several times on a few hundred tokens. The
project's own tests run the suite over every registered backend (tests/test_conformance.py).
"""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from lmcollapse.config import SamplerConfig
from lmcollapse.corpora.contexts import context_rows, positions
from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.models.base import Capability, LanguageModel
from lmcollapse.models.decoding import Sampler

Factory = Callable[[], LanguageModel]
SUM_TOLERANCE = 1e-9  # every next-token law sums to 1 within this
AGREEMENT = 1e-4  # the same probability asked two ways (float32 networks round differently)


def toy_corpus(seed: int = 0, n_docs: int = 60, vocab: int = 6, longest: int = 8) -> Corpus:
    """Documents of 1..longest tokens over `vocab` ordinary tokens, with an end token (id vocab)."""
    rng = np.random.default_rng(seed)
    docs = [rng.integers(0, vocab, size=rng.integers(1, longest + 1)).tolist() for _ in range(n_docs)]
    return Corpus.from_documents(docs, vocab_size=vocab + 1, eos_id=vocab)


def check_language_model(factory: Factory) -> Iterator[Callable[[], None]]:
    """Every check that applies to the models factory() makes, each a callable named after what it checks."""
    checks = [check_fit_returns_self, check_fit_is_deterministic, check_next_token_probs_are_distributions,
              check_log_prob_adds_up_token_log_probs, check_token_log_probs_agree_with_next_token_probs,
              check_context_entropies_agree_with_next_token_probs, check_position_probs_agree_with_next_token_probs,
              check_samples_carry_provenance_and_are_reproducible, check_first_tokens_follow_the_model,
              check_save_and_load_preserve_the_model]
    declared = factory().capabilities
    if Capability.ENUMERABLE_CONTEXTS in declared:
        checks.append(check_law_depends_only_on_the_context_width)
    if Capability.SUPPORT in declared:
        checks.append(check_support_matches_the_training_data)
    if Capability.WARM_START in declared:
        checks.append(check_warm_start_begins_from_the_given_model)
    for check in checks:
        yield functools.update_wrapper(functools.partial(check, factory), check)


def _fitted(factory: Factory, data: Corpus | None = None) -> tuple[LanguageModel, Corpus]:
    data = data if data is not None else toy_corpus()
    return factory().fit(data, seed=0), data


def check_fit_returns_self(factory: Factory) -> None:
    model = factory()
    data = toy_corpus()
    assert model.fit(data, seed=0) is model, "fit must return the model itself"


def check_fit_is_deterministic(factory: Factory) -> None:
    a, data = _fitted(factory)
    b, _ = _fitted(factory, data)
    np.testing.assert_array_equal(a.log_prob(data), b.log_prob(data), err_msg="the same seed must give the same fit")


def check_next_token_probs_are_distributions(factory: Factory) -> None:
    model, data = _fitted(factory)
    batch = model.next_token_probs(np.array([[-1, -1], [0, 1], [5, 5]]))
    assert batch.shape == (3, data.vocab_size), f"a batch of 3 contexts gave shape {batch.shape}"
    single = model.next_token_probs([0, 1])
    assert single.shape == (data.vocab_size,), f"one context gave shape {single.shape}"
    for probs in (batch, single[None, :]):
        assert (probs >= 0).all(), "negative probability"
        worst = float(np.abs(probs.sum(axis=-1) - 1).max())
        assert worst <= SUM_TOLERANCE, f"a next-token law sums to 1 only within {worst:.2e} (> {SUM_TOLERANCE:g})"


def check_log_prob_adds_up_token_log_probs(factory: Factory) -> None:
    model, data = _fitted(factory)
    doc, logp = model.token_log_probs(data)
    expected_positions = int(data.lengths.sum()) + len(data)  # every token and each end token
    assert len(doc) == len(logp) == expected_positions, f"{len(doc)} predicted positions, expected {expected_positions}"
    assert np.all(np.diff(doc) >= 0), "predicted positions must come in document order"
    per_doc = model.log_prob(data)
    assert per_doc.shape == (len(data),) and np.isfinite(per_doc).all() and (per_doc < 0).all()
    np.testing.assert_allclose(per_doc, np.bincount(doc, weights=logp, minlength=len(data)), rtol=1e-9)


def _prefix_laws(model: LanguageModel, data: Corpus, n_docs: int = 8):
    """The first documents of data with (doc, pos, target) of their positions and each position's law asked
    of next_token_probs with the document's prefix."""
    short = data.take(np.arange(min(n_docs, len(data))))
    doc, pos, target = positions(short)
    laws = np.stack([model.next_token_probs(short.doc(d)[:p]) for d, p in zip(doc, pos)])  # (P, V)
    return short, doc, pos, target, laws


def check_token_log_probs_agree_with_next_token_probs(factory: Factory) -> None:
    model, data = _fitted(factory)
    short, doc, pos, target, laws = _prefix_laws(model, data)
    _, logp = model.token_log_probs(short)
    np.testing.assert_allclose(logp, np.log(laws[np.arange(len(target)), target]), atol=AGREEMENT,
                               err_msg="token_log_probs disagrees with next_token_probs of the prefix")


def check_context_entropies_agree_with_next_token_probs(factory: Factory) -> None:
    model, data = _fitted(factory)
    short, _, _, _, laws = _prefix_laws(model, data)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = -np.where(laws > 0, laws * np.log(laws), 0.0).sum(axis=1)
    np.testing.assert_allclose(model.context_entropies(short), expected, atol=AGREEMENT,
                               err_msg="context_entropies disagrees with the entropy of next_token_probs")


def check_position_probs_agree_with_next_token_probs(factory: Factory) -> None:
    model, data = _fitted(factory)
    short, doc, pos, _, laws = _prefix_laws(model, data)
    np.testing.assert_allclose(model.position_probs(short, doc, pos), laws, atol=AGREEMENT,
                               err_msg="position_probs disagrees with next_token_probs of the prefix")


def check_samples_carry_provenance_and_are_reproducible(factory: Factory) -> None:
    model, data = _fitted(factory)
    sampler = Sampler(SamplerConfig(max_tokens=12))
    a = model.sample(40, sampler=sampler, seed=3, generation=5, first_id=1000, producer="check")
    b = model.sample(40, sampler=sampler, seed=3, generation=5, first_id=1000, producer="check")
    assert len(a) == 40 and np.array_equal(a.tokens, b.tokens) and np.array_equal(a.lengths, b.lengths), \
        "the same seed must give the same documents"
    assert (a.origin == SYNTHETIC).all() and (a.generation == 5).all() and a.doc_id[0] == 1000
    assert (a.producer == "check").all()
    assert a.lengths.max() <= 12, "sampler.max_tokens caps documents"
    assert (a.tokens != data.eos_id).all(), "the end token never appears inside a document"
    reported = []
    model.sample(5, sampler=sampler, seed=1, progress=lambda stage, done, total: reported.append(stage))
    assert set(reported) <= {"sample"}, f"sample reported stages {set(reported)}"


def check_first_tokens_follow_the_model(factory: Factory) -> None:
    """The first token of 4,000 samples is distributed as next_token_probs(()) says, each token's count
    within 4.5 standard errors (a false alarm about once in 10^4 runs of this check)."""
    model, data = _fitted(factory)
    n = 4000
    first = model.sample(n, sampler=Sampler(SamplerConfig(max_tokens=1)), seed=11)
    counts = np.bincount(first.tokens[first.offsets[:-1][first.lengths > 0]], minlength=data.vocab_size)
    ended = int((first.lengths == 0).sum())  # documents whose first symbol was the end token
    counts[data.eos_id] += ended
    p = model.next_token_probs(())
    z = (counts - n * p) / np.sqrt(np.maximum(n * p * (1 - p), 1e-12))
    assert np.abs(z).max() < 4.5, f"first-token counts {counts.tolist()} vs probabilities {np.round(p, 3).tolist()}"


def check_save_and_load_preserve_the_model(factory: Factory) -> None:
    model, data = _fitted(factory)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "m")
        back = type(model).load(Path(tmp) / "m")
    np.testing.assert_allclose(back.log_prob(data), model.log_prob(data), rtol=1e-6)
    assert np.array_equal(back.sample(20, seed=2).tokens, model.sample(20, seed=2).tokens)


def check_law_depends_only_on_the_context_width(factory: Factory) -> None:
    model, data = _fitted(factory)
    width = model.context_width
    rng = np.random.default_rng(5)
    tail = rng.integers(0, data.vocab_size - 1, size=width)
    contexts = np.stack([np.concatenate([rng.integers(0, data.vocab_size - 1, size=3), tail]) for _ in range(4)])
    laws = model.next_token_probs(contexts)
    np.testing.assert_array_equal(laws, np.repeat(laws[:1], len(laws), axis=0),
                                  err_msg=f"contexts sharing their last {width} tokens got different laws")


def check_support_matches_the_training_data(factory: Factory) -> None:
    toy = toy_corpus()
    unused = toy.vocab_size - 2  # the last ordinary token: mapped away below, so never seen in training
    data = Corpus.from_documents([np.minimum(toy.doc(i), unused - 1) for i in range(len(toy))],
                                 vocab_size=toy.vocab_size, eos_id=toy.eos_id)
    model, _ = _fitted(factory, data)
    doc, pos, target = positions(data)
    contexts = context_rows(data, doc, pos, model.context_width)  # (P, width): contexts seen in training
    assert model.seen(contexts, target).all(), "every training continuation must count as seen"
    assert not model.seen(contexts, np.full(len(target), unused)).any(), "a token never trained on counts as seen"
    trained = {(tuple(c), t) for c, t in zip(contexts.tolist(), target.tolist())}
    other = (target + 1) % unused  # another ordinary continuation of the same context
    never = np.array([(tuple(c), t) not in trained for c, t in zip(contexts.tolist(), other.tolist())])
    assert not model.seen(contexts[never], other[never]).any(), "a continuation never trained on counts as seen"


def check_warm_start_begins_from_the_given_model(factory: Factory) -> None:
    first, data = _fitted(factory)
    other = toy_corpus(seed=1)
    warm = factory().fit(other, seed=0, init=first)
    cold = factory().fit(other, seed=0)
    assert not np.allclose(warm.log_prob(data), cold.log_prob(data)), \
        "a warm start from another model's parameters ended where a fresh start does"
