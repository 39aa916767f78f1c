"""Paradigms: sizes and real shares, exact where the policy makes them exact, statistical otherwise."""
import numpy as np
import pytest

import lmcollapse
from lmcollapse.errors import LmcollapseError
from lmcollapse.theory.real_share import expected_real_share

from conftest import small_truth_config

N = 100


def run(paradigm: dict, tmp, generations=5, seed=0, **extra):
    config = small_truth_config(**{"paradigm": paradigm, "generations": generations, "seed": seed,
                                   "corpus.n_train": N, **extra})
    return lmcollapse.run(config, out_dir=tmp / f"{paradigm['name']}-{seed}")


def column(r, key):
    return np.array([row[key] for row in r.metrics])


def test_replace_is_fully_synthetic_after_generation_zero(tmp_path):
    r = run({"name": "replace"}, tmp_path)
    assert column(r, "real_fraction").tolist() == [1, 0, 0, 0, 0]
    assert column(r, "n_train").tolist() == [N] * 5
    d2 = r.corpus(2)
    assert set(d2.generation.tolist()) == {2} and d2.producer[0] == "ngram@gen-1"


def test_replay_trains_on_the_real_documents_every_generation(tmp_path):
    """The ceiling control: every training set is R itself, so a count model is the same law in every
    generation (KL to the truth constant to rounding), while models still write the documents metrics read."""
    r = run({"name": "replay"}, tmp_path)
    assert column(r, "real_fraction").tolist() == [1] * 5 == expected_real_share(r.config, 5).tolist()
    assert r.corpus(3).composition() == {"real": N}
    kl = column(r, "kl_to_truth")
    np.testing.assert_allclose(kl, kl[0], rtol=1e-9)
    replace_kl = column(run({"name": "replace"}, tmp_path), "kl_to_truth")
    assert replace_kl[-1] > 2 * kl[-1]


def test_mix_keeps_exactly_the_real_fraction(tmp_path):
    r = run({"name": "mix", "real_fraction": 0.3}, tmp_path)
    assert column(r, "real_fraction").tolist() == [1, 0.3, 0.3, 0.3, 0.3]
    assert column(r, "n_train").tolist() == [N] * 5


def test_accumulate_trains_on_the_whole_growing_pool(tmp_path):
    r = run({"name": "accumulate", "rate": 0.5}, tmp_path)
    t = np.arange(5)
    assert column(r, "n_train").tolist() == (N + 50 * t).tolist()
    np.testing.assert_allclose(column(r, "real_fraction"), 1 / (1 + 0.5 * t), rtol=1e-12)
    assert r.corpus(3).composition() == {"real": 100, "synthetic@1": 50, "synthetic@2": 50, "synthetic@3": 50}


@pytest.mark.parametrize("rate", [1.0, 0.5, 0.1])
def test_accumulate_subsample_pool_real_share_is_exactly_one_over_one_plus_t_r(rate, tmp_path):
    r = run({"name": "accumulate-subsample", "rate": rate}, tmp_path, generations=6)
    t = np.arange(6)
    np.testing.assert_allclose(column(r, "pool_real_fraction"), 1 / (1 + t * rate), rtol=1e-12)
    assert column(r, "n_train").tolist() == [N] * 6


@pytest.mark.slow
def test_accumulate_subsample_training_share_matches_in_expectation(tmp_path):
    """Over 200 seeds the training set's real share averages 1/(1+t r), within 4 standard errors of the
    exact hypergeometric spread (false alarm rate per generation ~6e-5)."""
    rate, gens, seeds = 0.5, 5, 200
    shares = np.array([column(run({"name": "accumulate-subsample", "rate": rate}, tmp_path, generations=gens, seed=s,
                                  metrics=["real_fraction"], save_models=False), "real_fraction")
                       for s in range(seeds)])
    for t in range(1, gens):
        pool = N + t * int(round(rate * N))
        expected = N / pool
        var = N * N * (pool - N) * (pool - N) / (pool**2 * (pool - 1))  # hypergeometric, N of pool drawn
        se = np.sqrt(var) / N / np.sqrt(seeds)
        z = (shares[:, t].mean() - expected) / se
        assert abs(z) < 4, (t, shares[:, t].mean(), expected, z)


def test_fresh_adds_new_real_documents_each_generation(tmp_path):
    r = run({"name": "fresh", "rate": 0.5, "fresh_fraction": 0.2}, tmp_path)
    t = np.arange(5)
    np.testing.assert_allclose(column(r, "pool_real_fraction"), (1 + 0.2 * t) / (1 + 0.7 * t), rtol=1e-12)
    born = set(r.corpus(4).generation[r.corpus(4).origin == 0].tolist())
    assert born - {0}, "fresh real documents born after generation 0 are sampled into training"


def test_fresh_refuses_a_finite_text_corpus(tmp_path):
    with pytest.raises(LmcollapseError, match="paradigm fresh needs a corpus that can produce new real documents"):
        lmcollapse.run({"corpus": {"n_train": 50, "n_eval": 10}, "paradigm": {"name": "fresh"}, "generations": 1},
                       out_dir=tmp_path / "r")


def test_rate_that_rounds_to_zero_is_an_error(tmp_path):
    with pytest.raises(LmcollapseError, match="rounds to 0 documents"):
        run({"name": "accumulate-subsample", "rate": 0.001}, tmp_path)
