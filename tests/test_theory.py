"""The closed forms: exact identities, an independent brute-force chain, and the simulator battery."""
import itertools

import numpy as np
import pytest

from lmcollapse.errors import LmcollapseError
from lmcollapse.theory import predict
from lmcollapse.studies.theory_check import QUICK_GRID, battery, check_case
from lmcollapse.theory.collapse_time import (forgetting_collapse, forgetting_collapse_asymptotic,
                                             real_share_collapse)
from lmcollapse.theory.wright_fisher import WrightFisher

P = np.array([0.35, 0.25, 0.2, 0.12, 0.08])


def test_replace_mle_is_wright_fisher_impurity():
    pred = predict("replace", P, 0.0, 40, 10)
    np.testing.assert_allclose(pred.impurity, WrightFisher(P, 40).impurity(10), rtol=1e-12)
    assert np.all(pred.c == 1.0)  # exact MLE never drifts in expectation


def test_expected_model_under_each_paradigm():
    lam = 50 / (50 + 1.0 * 5)
    np.testing.assert_allclose(predict("replace", P, 1.0, 50, 6).c, lam ** np.arange(1, 7))
    # Accumulating the whole pool: the expected model never moves (exact identity c_t = lambda_0).
    np.testing.assert_allclose(predict("accumulate", P, 1.0, 50, 200, rate=0.5).c, lam, rtol=1e-12)
    # Accumulate-subsample forgets the truth like (1 + t r)^-(1 - lambda), replace geometrically.
    c = predict("accumulate-subsample", P, 1.0, 50, 2000, rate=0.5).c
    t = np.array([100, 1000, 1999])
    np.testing.assert_allclose(c[t], lam * (1 + 0.5 * t) ** -(1 - lam), rtol=0.05)
    # Mix keeps a fixed point away from the prior: c* = rho lambda / (1 - (1 - rho) lambda).
    c_mix = predict("mix", P, 1.0, 50, 300, real_fraction=0.5).c
    assert c_mix[-1] == pytest.approx(lam * 0.5 / (1 - 0.5 * lam), rel=1e-9)
    # Replay: every model is generation 0's, mean and impurity alike.
    replay = predict("replay", P, 1.0, 50, 20)
    np.testing.assert_allclose(replay.c, lam, rtol=1e-12)
    np.testing.assert_allclose(replay.impurity, replay.impurity[0], rtol=1e-12)


def test_real_shares():
    assert predict("accumulate-subsample", P, 0.0, 40, 5, rate=0.5).pool_real_share.tolist() == \
        pytest.approx([1, 1 / 1.5, 1 / 2, 1 / 2.5, 1 / 3])
    fresh = predict("fresh", P, 0.0, 40, 4, rate=0.5, fresh_fraction=0.25).real_share
    np.testing.assert_allclose(fresh, (1 + 0.25 * np.arange(4)) / (1 + 0.75 * np.arange(4)))
    with pytest.raises(LmcollapseError, match="rounds to 0 documents"):
        predict("accumulate-subsample", P, 0.0, 40, 3, rate=0.001)


def brute_force_collapse_time(p, n):
    """E[first generation with one token] on the full multi-type chain of token counts (small n only)."""
    V = len(p)
    states = [s for s in itertools.product(range(n + 1), repeat=V) if sum(s) == n]
    from math import factorial

    def multinomial(counts, probs):
        coef = factorial(n)
        for c in counts:
            coef //= factorial(c)
        return coef * np.prod([pr**c for pr, c in zip(probs, counts)])

    T = np.array([[multinomial(b, np.array(a) / n) for b in states] for a in states])
    absorbing = np.array([max(s) == n for s in states])
    inner = np.flatnonzero(~absorbing)
    steps = np.zeros(len(states))  # expected steps to absorption from each state
    steps[inner] = np.linalg.solve(np.eye(len(inner)) - T[np.ix_(inner, inner)], np.ones(len(inner)))
    start = np.array([multinomial(s, p) for s in states])  # D_0 = R drawn from the truth
    return float(start @ (steps + 0))  # generation index of D_t equals steps taken after the first draw


def test_wright_fisher_collapse_time_matches_the_full_multitype_chain():
    p = np.array([0.5, 0.3, 0.2])
    for n in (3, 5, 7):
        assert WrightFisher(p, n).collapse_generation() == pytest.approx(brute_force_collapse_time(p, n), rel=1e-9)


def test_wright_fisher_probabilities_are_consistent():
    wf = WrightFisher(P, 30)
    alive = wf.alive_probability(400)
    assert alive[0] == pytest.approx(1 - (1 - P) ** 30)  # a token is absent from R with prob (1-p)^N
    assert np.all(np.diff(alive, axis=0) <= 1e-12) and alive[-1] == pytest.approx(P, abs=1e-6)
    assert wf.collapsed_probability(400)[-1] == pytest.approx(1, abs=1e-4)
    # The diffusion approximations approach the exact values as N grows (they are O(1) generations off).
    big = WrightFisher(P, 400)
    np.testing.assert_allclose(big.loss_generation(), big.loss_generation_diffusion(), rtol=0.03)
    assert big.collapse_generation() == pytest.approx(big.collapse_generation_diffusion(), rel=0.03)


def test_collapse_time_is_finite_for_every_rate_and_scales_like_one_over_r():
    times = {r: forgetting_collapse("accumulate-subsample", P, 20.0, 100, r, 0.25) for r in (1, 0.1, 0.01)}
    assert all(t is not None for t in times.values())
    assert times[0.01] * 0.01 == pytest.approx(times[0.1] * 0.1, rel=0.05)  # n* r is about constant
    for r, t in times.items():
        assert abs(t - forgetting_collapse_asymptotic(20.0, 5, 100, r, 0.25)) <= 2
    assert real_share_collapse(0.1, 0.25) == 31  # 1/(1 + 31*0.1) < 0.25 <= 1/(1 + 30*0.1)
    assert forgetting_collapse("accumulate", P, 20.0, 100, 0.1, 0.25, horizon=4096) is None  # never forgets


def test_the_check_has_power_against_a_wrong_closed_form(monkeypatch):
    """Shift the predicted impurity by one generation's decay: the battery must notice."""
    from lmcollapse.studies import theory_check as check

    real_predict = check.predict

    def off_by_one(*args, **kwargs):
        pred = real_predict(*args, **kwargs)
        pred.collision = 1 - (1 - pred.collision) / (1 - 1 / pred.n_real)  # (1-1/N)^t instead of ^(t+1)
        return pred

    monkeypatch.setattr(check, "predict", off_by_one)
    rows = check_case(QUICK_GRID[0], seeds=80, workers=1)
    assert any(not r["ok"] for r in rows if r["quantity"] == "impurity")


@pytest.mark.slow
def test_quick_battery_passes_on_the_real_simulator():
    rows = battery(quick=True, seeds=60, workers=2)
    failed = [r for r in rows if not r["ok"]]
    assert not failed, failed
    quantities = {r["quantity"] for r in rows}
    assert {"impurity", "mean coef", "real share", "collapse generation", "tokens alive",
            "log(perplexity_t / perplexity_0)"} <= {q.split(" (")[0] for q in quantities}


def test_theory_tables_read_in_full_when_piped():
    """0.4.0 cut `theory` tables to 80 columns without a terminal ("alpha=0…", "tempera…")."""
    import subprocess
    import sys
    from pathlib import Path

    config = Path(__file__).parent.parent / "configs" / "markov-contexts.yaml"
    out = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "theory", "predict", str(config), "--set",
                          "sampler.temperature=0.7"], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in __import__("os").environ.items() if k != "COLUMNS"})
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout and max(len(line) for line in out.stdout.splitlines()) > 80


def test_predict_on_wright_fisher_says_tokens_die_and_prints_no_float_noise_for_zero():
    """0.4.0 printed KL(p || E(M)) = 8.95e-18 on the Wright-Fisher config and nothing about tokens dying, and
    with no config answered with an error about per-context forms."""
    import subprocess
    import sys
    from pathlib import Path

    from lmcollapse.theory.wright_fisher import WrightFisher

    config = Path(__file__).parent.parent / "configs" / "wright-fisher.yaml"
    out = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "theory", "predict", str(config)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "e-1" not in out.stdout and "E(tokens alive)" in out.stdout
    rows = [line.split("│")[1:-1] for line in out.stdout.splitlines() if line.startswith("│")]
    assert all(float(r[4]) == 0.0 for r in rows)  # the expected model is the truth: KL 0
    from lmcollapse.theory import prediction_for

    pred = prediction_for(lmcollapse_config(config))  # the truth p the config's Zipf law gives
    alive = WrightFisher(pred.p, pred.n_real).expected_alive(len(rows))
    assert [float(r[6]) for r in rows] == pytest.approx(alive, rel=1e-3)
    assert "loses tokens for good" in out.stdout
    # The built-in demo (the KJV bigram): its expected held-out perplexity (theory/heldout.py) since P22
    bare = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "theory", "predict"], capture_output=True,
                          text=True, timeout=300)
    assert bare.returncode == 0 and "held-out perplexity passes 1.25x generation 0 at generation 1" in bare.stdout
    gpt = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "theory", "predict", "configs/cpu-gpt.yaml"],
                         capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent.parent)
    assert gpt.returncode == 2 and gpt.stderr.startswith("error: theory predict: the closed forms need a "
                                                         "known-truth corpus (categorical or markov), not kjv")


def lmcollapse_config(path):
    from lmcollapse import load_config

    return load_config(path)
