"""Every registered language-model backend passes lmcollapse.testing.check_language_model."""
import pytest

from lmcollapse.config import section_classes
from lmcollapse.models import MODELS
from lmcollapse.testing import check_language_model

SMALL = {"ngram": {"order": 2, "smoothing": 0.1},
         "gpt": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "epochs": 2},
         "hf": {"hf_config": "tinystories-1m", "block_size": 16, "epochs": 2}}
NEEDS = {"gpt": "torch", "hf": "transformers"}


def factory_of(name):
    return lambda: MODELS.build(section_classes("model")[name](**SMALL.get(name, {})))


CASES = [(name, check.__name__, check) for name in MODELS.names() for check in check_language_model(factory_of(name))]


def test_every_registered_backend_has_small_settings_here():
    assert set(MODELS.names()) <= set(SMALL), "add small settings for the new backend to SMALL"


@pytest.mark.parametrize("name, check_name, check", CASES, ids=[f"{n}-{c}" for n, c, _ in CASES])
def test_backend_keeps_the_contract(name, check_name, check):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    check()


def test_the_unigram_and_exact_mle_count_models_keep_it_too():
    for params in ({"order": 1, "smoothing": 0.0}, {"order": 4, "smoothing": 0.0}):
        for check in check_language_model(lambda: MODELS.build(section_classes("model")["ngram"](**params))):
            check()
