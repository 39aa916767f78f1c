"""The contract every registered language-model backend must keep (scikit-learn's check_estimator idea)."""
import numpy as np
import pytest

from lmcollapse.corpus import SYNTHETIC, Corpus
from lmcollapse.models import MODELS
from lmcollapse.sampling import Sampler

SMALL_HYPERPARAMETERS = {"ngram": {"order": 2, "smoothing": 0.1},
                         "gpt": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "epochs": 2},
                         "hf": {"hf_config": "tinystories-1m", "block_size": 16, "epochs": 2}}
NEEDS = {"gpt": "torch", "hf": "transformers"}


@pytest.fixture(params=MODELS.names())
def backend(request):
    if request.param in NEEDS:
        pytest.importorskip(NEEDS[request.param])
    return request.param, SMALL_HYPERPARAMETERS.get(request.param, {})


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 6, size=rng.integers(1, 9)).tolist() for _ in range(60)]
    return Corpus.from_documents(docs, vocab_size=7, eos_id=6)


def test_fit_returns_self_and_probabilities_are_distributions(backend, data):
    name, params = backend
    model = MODELS.get(name)(**params)
    assert model.fit(data, seed=0) is model
    probs = model.next_token_probs(np.array([[-1, -1], [0, 1], [5, 5]]))
    assert probs.shape == (3, 7) and (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_log_prob_is_finite_negative_and_per_document(backend, data):
    name, params = backend
    model = MODELS.get(name)(**params).fit(data, seed=0)
    logp = model.log_prob(data)
    assert logp.shape == (len(data),) and np.isfinite(logp).all() and (logp < 0).all()


def test_samples_carry_provenance_and_are_reproducible(backend, data):
    name, params = backend
    model = MODELS.get(name)(**params).fit(data, seed=0)
    a = model.sample(40, sampler=Sampler(max_tokens=12), seed=3, generation=5, first_id=1000)
    b = model.sample(40, sampler=Sampler(max_tokens=12), seed=3, generation=5, first_id=1000)
    assert len(a) == 40 and np.array_equal(a.tokens, b.tokens)
    assert (a.origin == SYNTHETIC).all() and (a.generation == 5).all() and a.doc_id[0] == 1000
    assert a.lengths.max() <= 12 and (a.tokens < 6).all()  # the end token never appears inside a document


def test_save_and_load_preserve_the_model(backend, data, tmp_path):
    name, params = backend
    model = MODELS.get(name)(**params).fit(data, seed=0)
    model.save(tmp_path / "m")
    back = MODELS.get(name).load(tmp_path / "m")
    np.testing.assert_allclose(back.log_prob(data), model.log_prob(data))
