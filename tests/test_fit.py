"""metrics/fit.py: a neural model's fit diagnostics, recorded every generation and shown by `show`."""
import subprocess
import sys

import pytest

import lmcollapse

pytest.importorskip("torch")

GPT = {"generations": 2, "ci_rounds": 0, "save_models": False, "corpus": {"n_train": 120, "n_eval": 40},
       "tokenizer": {"name": "char"}, "sampler": {"max_tokens": 63},
       "model": {"name": "gpt", "n_layer": 1, "n_embd": 32, "block_size": 64, "lr": 0.003}}


def _run(tmp_path, name, epochs, seed=0):
    config = {**GPT, "seed": seed, "model": {**GPT["model"], "epochs": epochs}}
    return lmcollapse.run(config, out_dir=tmp_path / name, progress=False)


def test_training_is_recorded_and_fits_better_with_more_epochs(tmp_path):
    for seed in (0, 1):  # both seeds: more epochs, lower training loss and surer targets at generation 0
        short, long = _run(tmp_path, f"e1-{seed}", 1, seed).metrics[0], _run(tmp_path, f"e6-{seed}", 6, seed).metrics[0]
        assert (short["epochs_run"], long["epochs_run"]) == (1, 6)
        assert long["train_loss"] < short["train_loss"] and long["target_prob_p50"] > short["target_prob_p50"]
        for row in (short, long):
            assert 0 < row["target_prob_p50"] <= row["target_prob_p90"] < 1
            assert row["dispersion_gap"] == pytest.approx(row["model_entropy"] - row["heldout_nll"], abs=1e-9)


def test_a_count_model_has_no_fit_columns_and_show_prints_them_for_a_gpt(tmp_path):
    count = lmcollapse.run({"generations": 2, "corpus": {"n_train": 100, "n_eval": 30}, "ci_rounds": 0},
                           out_dir=tmp_path / "ngram", progress=False).metrics[0]
    assert not {"train_loss", "target_prob_p50", "dispersion_gap"} & set(count)
    run = _run(tmp_path, "gpt", 1)
    shown = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "show", str(run.path)], capture_output=True,
                           text=True, timeout=300)
    assert shown.returncode == 0 and "train loss" in shown.stdout and "p(target)" in shown.stdout
    assert "epochs" in shown.stdout
