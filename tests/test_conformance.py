"""Every registered component of every kind passes its kind's conformance suite (lmcollapse.testing)."""
import os
from pathlib import Path

import pytest

from lmcollapse.config import applicable, section_classes, section_of
from lmcollapse.gates import GATES
from lmcollapse.models import MODELS
from lmcollapse.paradigms import PARADIGMS
from lmcollapse.sources import SOURCES
from lmcollapse.sweep import EXECUTORS, make_executor
from lmcollapse.trackers import TRACKERS
from lmcollapse.testing import (check_executor, check_gate, check_tracker, check_language_model, check_paradigm, check_source,
                                check_tokenizer)
from lmcollapse.tokenizers import TOKENIZERS

# ---- language models --------------------------------------------------------------------------------------
SMALL = {"ngram": {"order": 2, "smoothing": 0.1},
         "gpt": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "epochs": 2},
         "hf": {"hf_config": "tinystories-1m", "block_size": 16, "epochs": 2}}
NEEDS = {"gpt": "torch", "hf": "transformers"}


def model_factory(name, **settings):
    return lambda: MODELS.build(section_classes("model")[name](**{**SMALL.get(name, {}), **settings}))


MODEL_CASES = [(name, check) for name in MODELS.names() for check in check_language_model(model_factory(name))]


def test_every_registered_backend_has_small_settings_here():
    assert set(MODELS.names()) <= set(SMALL), "add small settings for the new backend to SMALL"


@pytest.mark.parametrize("name, check", MODEL_CASES, ids=[f"{n}-{c.__name__}" for n, c in MODEL_CASES])
def test_backend_keeps_the_contract(name, check):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    check()


def test_the_unigram_and_exact_mle_count_models_keep_it_too():
    for settings in ({"order": 1, "smoothing": 0.0}, {"order": 4, "smoothing": 0.0}):
        for check in check_language_model(model_factory("ngram", **settings)):
            check()


# ---- paradigms ------------------------------------------------------------------------------------------------
def paradigm_at_half_rate(name: str):
    """The paradigm with rate 0.5 where it has a rate (a contribution below N), else at its defaults."""
    return PARADIGMS.build(section_of("paradigm", name)(**applicable("paradigm", {"name": name, "rate": 0.5})))


PARADIGM_CASES = [(name, check) for name in PARADIGMS.names()
                  for check in check_paradigm(lambda name=name: paradigm_at_half_rate(name))]


@pytest.mark.parametrize("name, check", PARADIGM_CASES, ids=[f"{n}-{c.__name__}" for n, c in PARADIGM_CASES])
def test_paradigm_keeps_the_contract(name, check):
    check()


def test_a_paradigm_weighted_by_reweight_keeps_it_too():
    weighting = GATES.build(section_classes("gates")["reweight"]())
    for check in check_paradigm(lambda: PARADIGMS.build(section_of("paradigm", "accumulate-subsample")(),
                                                        pool_weighting=weighting)):
        check()


# ---- sources ----------------------------------------------------------------------------------------------------
def _text_file(tmp: Path, stories: bool) -> str:
    lines = [f"Document {i} tells of the {['sea', 'hill', 'city', 'field'][i % 4]} and {i * 7 % 13} birds." for i in range(120)]
    path = tmp / ("stories.txt" if stories else "lines.txt")
    path.write_text("<|endoftext|>".join(lines) if stories else "\n".join(lines))
    return str(path)


SOURCE_SETTINGS = {"kjv": lambda tmp: {"n_train": 80, "n_eval": 30},
                   "files": lambda tmp: {"n_train": 60, "n_eval": 30, "path": _text_file(tmp, False)},
                   "tinystories": lambda tmp: {"n_train": 60, "n_eval": 30, "path": _text_file(tmp, True)},
                   "categorical": lambda tmp: {"probs": [0.4, 0.3, 0.2, 0.1], "doc_length": 5, "n_train": 60, "n_eval": 30},
                   "markov": lambda tmp: {"vocab_size": 5, "doc_length": 6, "n_train": 60, "n_eval": 30}}


def test_every_registered_source_has_small_settings_here():
    assert set(SOURCES.names()) <= set(SOURCE_SETTINGS), "add small settings for the new source"


@pytest.mark.parametrize("name", sorted(SOURCE_SETTINGS))
def test_source_keeps_the_contract(name, tmp_path):
    section = section_classes("corpus")[name](**SOURCE_SETTINGS[name](tmp_path))
    for check in check_source(lambda seed: SOURCES.build(section, seed=seed)):
        check()


# ---- gates ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GATES.names())
def test_gate_keeps_the_contract(name):
    for check in check_gate(lambda: GATES.build(section_classes("gates")[name]())):
        check()


# ---- tokenizers ----------------------------------------------------------------------------------------------
def _pretrained_file(tmp: Path) -> str:
    """A tokenizer.json as a Hugging Face checkpoint ships one (here: byte-level BPE with an end token)."""
    bpe = TOKENIZERS.build(section_of("tokenizer", "bpe")(vocab_size=300)).fit(["some text to learn merges from"] * 10)
    bpe.hf_.add_special_tokens(["</s>"])
    bpe.hf_.save(str(tmp / "tokenizer.json"))
    return str(tmp)


@pytest.mark.parametrize("name", TOKENIZERS.names())
def test_tokenizer_keeps_the_contract(name, tmp_path):
    settings = {"bpe": {"vocab_size": 400}, "pretrained": {"path": _pretrained_file(tmp_path)}}.get(name, {})
    for check in check_tokenizer(lambda: TOKENIZERS.build(section_of("tokenizer", name)(**settings))):
        check()
    for check in check_tokenizer(lambda: TOKENIZERS.build(section_of("tokenizer", name)(lowercase=True, **settings)),
                                 lossless=False):
        check()


# ---- executors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXECUTORS.names())
def test_executor_keeps_the_contract(name):
    if name == "ray":
        pytest.importorskip("ray")
        if not os.environ.get("LMCOLLAPSE_RAY_CONFORMANCE"):
            pytest.skip("a local Ray cluster takes ~20 s to start: tests/test_ray_cluster.py covers Ray; set "
                        "LMCOLLAPSE_RAY_CONFORMANCE=1 to run this suite on it too")
    options = {"local": {"workers": 2}, "ray": {}}[name]
    for check in check_executor(lambda out: make_executor(name, storage=out, **options) if name == "ray"
                                else make_executor(name, **options)):
        check()


# ---- trackers --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TRACKERS.names())
def test_tracker_keeps_the_contract(name, tmp_path, monkeypatch):
    pytest.importorskip(TRACKERS.get(name).module)
    monkeypatch.chdir(tmp_path)  # MLflow's local store
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    for check in check_tracker(lambda: TRACKERS.get(name)()):
        check()


# ---- the suites catch what they claim to --------------------------------------------------------------------
def _failures(checks) -> list[str]:
    failed = []
    for check in checks:
        try:
            check()
        except AssertionError:
            failed.append(check.__name__)
    return failed


def test_the_suites_catch_broken_components():
    import numpy as np

    from lmcollapse.paradigms import DataState
    from lmcollapse.paradigms.policies import Replace

    class GlobalRandom(Replace):  # draws from numpy's global generator, not the one it is given
        def next_state(self, state, kept, real, rng, fresh, generation):
            chosen = np.sort(np.random.choice(len(kept), size=len(kept) // 2, replace=False))
            return DataState(kept.take(chosen), kept.take(chosen))

    assert "check_draws_only_from_the_generator_it_is_given" in _failures(
        check_paradigm(lambda: GlobalRandom(section_of("paradigm", "replace")())))

    markov = section_classes("corpus")["markov"](vocab_size=5, doc_length=6, n_train=60, n_eval=30)

    class Leaky(type(SOURCES.build(markov))):  # E is a copy of part of R
        def load(self, tokenizer=None):
            data = super().load(tokenizer)
            data.held_out = data.train.take(np.arange(10))
            return data

    assert "check_training_and_held_out_documents_are_disjoint" in _failures(check_source(lambda s: Leaky(markov, s)))

    class Sloppy(type(GATES.build(section_classes("gates")["nonempty"]()))):  # one decision for all candidates
        def keep(self, corpus, ctx, rng):
            return np.array([True]), None

    assert _failures(check_gate(lambda: Sloppy())) == ["check_a_filter_decides_every_candidate_and_reproducibly"]
