"""DESIGN.md's closed form for exact MLE under replace (a Wright-Fisher process), checked on the real
runner: E[H_t] = (1 - 1/N)^(t+1) * H_truth for the collision impurity H = 1 - sum_v p(v)^2 of
generation t's model (M_0 is already fitted on N draws from the truth)."""
import numpy as np
import pytest

import lmcollapse

from conftest import small_truth_config

PROBS = [0.3, 0.25, 0.15, 0.1, 0.08, 0.06, 0.04, 0.02]
N, GENERATIONS, SEEDS = 30, 6, 300


def impurity(p):
    return 1.0 - float((np.asarray(p) ** 2).sum())


@pytest.mark.slow
def test_mean_collision_impurity_decays_as_wright_fisher(tmp_path):
    h = np.zeros((SEEDS, GENERATIONS))
    for seed in range(SEEDS):
        config = small_truth_config(**{"seed": seed, "generations": GENERATIONS, "corpus.probs": PROBS,
                                       "corpus.n_train": N, "metrics": ["n_train"]})
        r = lmcollapse.run(config, out_dir=tmp_path / f"s{seed}")
        h[seed] = [impurity(r.model(t).next_token_probs(())) for t in range(GENERATIONS)]
    h_truth = impurity(np.array(PROBS) / sum(PROBS))
    for t in range(GENERATIONS):
        expected = (1 - 1 / N) ** (t + 1) * h_truth
        se = h[:, t].std(ddof=1) / np.sqrt(SEEDS)
        z = (h[:, t].mean() - expected) / se
        # |z| < 4: a false alarm has probability ~6e-5 per generation; a wrong exponent (t instead
        # of t+1) would sit about 1/N * H / se ~ 5 standard errors away and fail.
        assert abs(z) < 4, (t, h[:, t].mean(), expected, z)
    # Every model is a distribution on the truth's support, and some tokens are already lost.
    assert (h >= 0).all() and (h[:, -1] < h_truth).mean() > 0.5
