"""Training a neural model (models/neural/training.py): the validation split held back from D_t and early
stopping on it (`model.epochs: auto`)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lmcollapse  # noqa: E402
from lmcollapse.config import GPTConfig  # noqa: E402
from lmcollapse.errors import LmcollapseError  # noqa: E402
from lmcollapse.models.gpt import GPTModel  # noqa: E402
from lmcollapse.models.neural.training import VALIDATION_STREAM  # noqa: E402
from lmcollapse.running.parts import load_config  # noqa: E402

from test_gpt import TINY, learnable_corpus  # noqa: E402


def test_early_stopping_keeps_the_epoch_with_the_lowest_validation_loss_and_is_deterministic():
    """A width-32 GPT on 60 short documents over-fits within a few dozen epochs: validation loss turns up,
    training stops `patience` epochs after the best one, and the weights kept are that epoch's (their loss
    on the split, recomputed, is the recorded minimum). The same seed gives the same record and weights."""
    corpus = learnable_corpus()
    small = corpus.take(np.arange(60))
    config = GPTConfig(**{**TINY, "n_embd": 32, "epochs": "auto", "max_epochs": 40, "patience": 2,
                          "validation": 0.25, "lr": 1e-2})
    model = GPTModel(config).fit(small, seed=0)
    record = model.fit_record_
    assert record.epochs_run == len(record.validation_losses) <= 40
    best = int(np.argmin(record.validation_losses))
    assert record.kept_epoch == best and record.validation_loss == min(record.validation_losses)
    # stopped early (15 of 40 epochs here): exactly `patience` epochs without improvement after the best
    assert record.epochs_run < 40 and record.epochs_run == best + 1 + 2
    _, held = model._split(small, 0)
    assert len(held) == 15 and model._mean_nll(held) == pytest.approx(record.validation_loss, rel=1e-5)
    again = GPTModel(config).fit(small, seed=0)
    assert again.fit_record_ == record
    for a, b in zip(model.net_.parameters(), again.net_.parameters()):
        assert torch.equal(a, b)
    other = GPTModel(config).fit(small, seed=1)
    assert not np.array_equal(other._split(small, 1)[1].doc_id, held.doc_id)  # the split follows the fit seed


def test_the_validation_split_is_held_out_of_training_and_recorded_with_fixed_epochs():
    corpus = learnable_corpus()
    model = GPTModel(GPTConfig(**TINY, validation=0.2)).fit(corpus, seed=3)
    train, held = model._split(corpus, 3)
    assert len(held) == round(0.2 * len(corpus)) and len(train) + len(held) == len(corpus)
    assert not set(train.doc_id.tolist()) & set(held.doc_id.tolist())
    record = model.fit_record_
    assert record.epochs_run == TINY["epochs"] == len(record.validation_losses) and record.kept_epoch is None
    assert record.validation_loss == record.validation_losses[-1]
    plain = GPTModel(GPTConfig(**TINY)).fit(corpus, seed=3).fit_record_  # no split by default
    assert plain.validation_losses == [] and plain.validation_loss is None


def test_a_document_and_all_its_copies_fall_on_one_side_of_the_split():
    """A resampling gate trains on up to a few copies of a document: every copy of a held-back document is
    held back, so the validation loss is on documents the fit never saw. Without copies the split is the
    draw over rows it always was (runs without a resampler keep their numbers)."""
    corpus = learnable_corpus()
    model = GPTModel(GPTConfig(**TINY, validation=0.2))
    rows = np.random.default_rng(5).choice(len(corpus), size=3 * len(corpus))  # copies, as a resample draws
    copied = corpus.take(np.sort(rows))
    for seed in range(20):
        train, held = model._split(copied, seed)
        assert len(train) + len(held) == len(copied) and len(held) > 0
        assert not set(train.doc_id.tolist()) & set(held.doc_id.tolist())
        distinct = len(np.unique(copied.doc_id))
        assert len(np.unique(held.doc_id)) == round(0.2 * distinct)
    _, held = model._split(corpus, 7)
    by_rows = np.random.default_rng([7, VALIDATION_STREAM]).choice(len(corpus), size=round(0.2 * len(corpus)),
                                                                    replace=False)
    assert np.array_equal(held.doc_id, np.sort(corpus.doc_id[by_rows]))


def test_early_stopping_settings_are_checked_in_one_line():
    with pytest.raises(LmcollapseError, match="model.patience applies with model.epochs: auto"):
        load_config(None, ["model.name=gpt", "model.patience=5"])
    with pytest.raises(LmcollapseError, match="set model.validation above 0"):
        load_config(None, ["model.name=gpt", "model.epochs=auto", "model.validation=0"])
    with pytest.raises(LmcollapseError, match="model.epochs"):
        load_config(None, ["model.name=gpt", "model.epochs=0"])
    auto = load_config(None, ["model.name=gpt", "model.epochs=auto"]).model
    assert auto.epochs == "auto" and auto.validation_share == 0.1 and auto.max_epochs == 60


def test_a_run_with_early_stopping_resumes_to_the_same_numbers(tmp_path):
    config = {"generations": 2, "ci_rounds": 0, "corpus": {"n_train": 80, "n_eval": 30},
              "tokenizer": {"name": "char"}, "sampler": {"max_tokens": 31}, "metrics": ["heldout_ppl", "fit"],
              "model": {"name": "gpt", "n_layer": 1, "n_embd": 16, "block_size": 32, "lr": 0.01, "epochs": "auto",
                        "max_epochs": 6, "patience": 1}}
    whole = lmcollapse.run(config, out_dir=tmp_path / "whole", progress=False).metrics
    lmcollapse.run({**config, "generations": 1}, out_dir=tmp_path / "parts", progress=False)
    resumed = lmcollapse.run(config, out_dir=tmp_path / "parts", progress=False).metrics
    assert resumed == whole and all(1 <= row["epochs_run"] <= 6 and row["validation_loss"] > 0 for row in whole)
