"""Theory that reaches perplexity (theory/heldout.py): exact at generation 0, against Monte Carlo at the first
generations with stated tolerances, its count laws against exact sums, and its refusals."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.models.decoding import Sampler
from lmcollapse.running.parts import load_config, load_source, new_model
from lmcollapse.theory.heldout import BigramData, _log_count_mean, heldout_for, heldout_path

ALPHA = 1e-3
SMALL = {"corpus": {"name": "kjv", "n_train": 200, "n_eval": 150}, "model": {"name": "ngram", "order": 2,
         "smoothing": ALPHA}, "sampler": {"max_tokens": 40}, "generations": 3, "paradigm": {"name": "replace"}}
REPS = 40  # Monte-Carlo generations per check
# The approximations' stated accuracy on a mean log-loss (module notes 1-3), beside 4 Monte-Carlo s.e.
TOLERANCE = 0.03


@pytest.fixture(scope="module")
def small():
    config = load_config(SMALL)
    source = load_source(config)
    return config, source.train, source.held_out, BigramData.from_corpora(source.train, source.held_out, 40)


def heldout_loss(config, corpus: Corpus, held_out: Corpus) -> float:
    _, logp = new_model(config).fit(corpus).token_log_probs(held_out)
    return float(-logp.mean())


def test_generation_zero_is_the_fitted_models_loss_exactly(small):
    config, real, held_out, data = small
    path = heldout_path(data, ALPHA, "replace", 1)
    assert path.log_loss[0] == pytest.approx(heldout_loss(config, real, held_out), abs=1e-9)
    assert 0 < data.unseen_context_share < 0.2  # the back-off's share: E's out-of-vocabulary words


def monte_carlo(config, real, held_out, paradigm: str, rate: float, generations: int) -> np.ndarray:
    """(REPS, generations) held-out log-loss of the real learner run forward from R, REPS times."""
    sampler = Sampler(config.sampler)
    out = np.zeros((REPS, generations))
    for rep in range(REPS):
        rng = np.random.default_rng(rep)
        model = new_model(config).fit(real)
        pool, train = real, real
        out[rep, 0] = heldout_loss(config, train, held_out)
        for t in range(1, generations):
            new = model.sample(len(real) if paradigm == "replace" else int(round(rate * len(real))), sampler=sampler,
                               seed=rng)
            if paradigm == "replace":
                train = new
            else:
                pool = Corpus.concat([pool, new])
                train = pool if paradigm == "accumulate" else \
                    pool.take(np.sort(rng.choice(len(pool), size=len(real), replace=False)))
            model = new_model(config).fit(train)
            out[rep, t] = heldout_loss(config, train, held_out)
    return out


@pytest.mark.parametrize("paradigm,rate,generations", [("replace", 1.0, 3), ("accumulate", 0.5, 3),
                                                       ("accumulate-subsample", 0.5, 3)])
def test_expected_heldout_loss_against_monte_carlo(small, paradigm, rate, generations):
    """The mean held-out log-loss of REPS runs within 4 s.e. + TOLERANCE of the prediction at every generation,
    and so is its rise from generation 0 (what the crossing reads)."""
    config, real, held_out, data = small
    measured = monte_carlo(config, real, held_out, paradigm, rate, generations)
    path = heldout_path(data, ALPHA, paradigm, generations, rate)
    predicted = path.log_loss
    rise = measured - measured[:, :1]
    for t in range(1, generations):
        se = rise[:, t].std(ddof=1) / np.sqrt(REPS)
        assert abs(rise[:, t].mean() - (predicted[t] - predicted[0])) <= 4 * se + TOLERANCE, (t, rise[:, t].mean(),
                                                                                               predicted[t] - predicted[0])
    assert rise[:, -1].mean() > 0.05  # the effect is there to be predicted
    # and the check has power: the expected model's own loss (bias alone) misses it
    se = rise[:, -1].std(ddof=1) / np.sqrt(REPS)
    assert abs(rise[:, -1].mean() - (path.bias_loss[-1] - path.bias_loss[0])) > 4 * se + TOLERANCE


def test_the_rise_is_spread_not_bias(small):
    """Under replace the expected model's own loss (bias) falls while the expected loss rises: the models'
    spread around their mean (rare pairs lost in some runs) is what collapses perplexity."""
    _, _, _, data = small
    path = heldout_path(data, ALPHA, "replace", 4)
    assert path.bias_loss[-1] < path.bias_loss[0]
    assert path.log_loss[-1] - path.log_loss[0] > 0.5
    assert np.all(path.log_loss >= path.bias_loss - 1e-12)  # Jensen


def test_accumulate_rise_comes_from_pairs_r_never_showed(small):
    _, _, _, data = small
    path = heldout_path(data, ALPHA, "accumulate", 6, rate=0.5)
    c0 = np.asarray(data.counts[data.heldout_context, data.heldout_token]).ravel()
    w = data.heldout_weight
    rise = (path.pair_loss[-1] - path.pair_loss[0]) * w
    assert rise[c0 == 0].sum() > 0.6 * rise.sum() > 0
    # their floor alpha / (n + A) falls as the pool grows: the rise tracks log of the training tokens
    growth = np.log(path.train_visits[-1] / path.train_visits[0])
    assert rise[c0 == 0].sum() / w[c0 == 0].sum() == pytest.approx(growth, rel=0.25)


def exact_log_mean(pmf: np.ndarray, floor: float = 0.0) -> float:
    return float((pmf * np.log(floor + np.arange(len(pmf)) + ALPHA)).sum())


@pytest.mark.parametrize("n,p,ab", [(50, 0.02, np.inf), (50, 0.3, np.inf), (200, 0.01, 3.0), (20, 0.5, 0.7)])
def test_count_law_matches_exact_sums_when_the_law_is_in_its_family(n, p, ab):
    """Given the two moments of a binomial or beta-binomial, E[log(T + alpha)] is that law's exact value."""
    y = np.arange(n + 1)
    law = stats.binom(n, p) if np.isinf(ab) else stats.betabinom(n, p * ab, (1 - p) * ab)
    value = _log_count_mean(np.array([law.mean()]), np.array([law.var()]), np.zeros(1), np.array([float(n)]), ALPHA)
    assert value[0] == pytest.approx(exact_log_mean(law.pmf(y)), abs=1e-9)


def test_count_law_moves_smoothly_with_its_moments():
    """No jump where the law switches family (binomial on fewer trials, binomial, beta-binomial) or where the
    number of trials rounds: a small change of the moments is a small change of the value."""
    means = np.linspace(0.5, 3.0, 251)
    for ratio in (0.2, 0.6, 1.0, 1.5):  # variance over the mean
        values = _log_count_mean(means, ratio * means, np.zeros(len(means)), np.full(len(means), 100.0), ALPHA)
        assert np.abs(np.diff(values)).max() < 0.1
    variances = np.linspace(0.01, 3.0, 300)  # through binomial dispersion at mean 1.5
    values = _log_count_mean(np.full(300, 1.5), variances, np.zeros(300), np.full(300, 100.0), ALPHA)
    assert np.abs(np.diff(values)).max() < 0.1
    assert np.all(np.diff(values) < 1e-12)  # more spread, more zeros: the expected log falls


def test_refusals(small):
    _, _, _, data = small
    with pytest.raises(LmcollapseError, match="covers paradigm.name replace, accumulate, accumulate-subsample, not 'mix'"):
        heldout_path(data, ALPHA, "mix", 3)
    with pytest.raises(LmcollapseError, match="smoothing > 0"):
        heldout_path(data, 0.0, "replace", 3)
    with pytest.raises(LmcollapseError, match="order=2"):
        heldout_for(load_config({**SMALL, "model": {"name": "ngram", "order": 3}}))
    with pytest.raises(LmcollapseError, match="pure sampling"):
        heldout_for(load_config({**SMALL, "sampler": {"max_tokens": 40, "temperature": 0.8}}))


def test_battery_rows_pass_a_right_prediction_and_fail_a_shifted_one():
    """theory check's held-out rows: 6 seeds whose measured paths scatter around the predicted one pass; the
    same prediction shifted by 0.2 nats fails the ratio rows, and a crossing 3 generations off fails."""
    from lmcollapse.studies.theory_check_heldout import HeldoutCase, heldout_rows

    rng = np.random.default_rng(0)
    predicted = np.tile(np.linspace(5.0, 5.6, 8), (6, 1))  # (seeds, T): crosses log 1.25 = 0.223 at t = 3
    measured = predicted + rng.normal(0, 0.01, predicted.shape)
    case = HeldoutCase("accumulate", 1e-3, rate=0.1, generations=8)
    assert all(row["ok"] for row in heldout_rows(case, measured, predicted, 4.5))
    shifted = predicted.copy()
    shifted[:, 1:] += 0.2
    rows = heldout_rows(case, measured, shifted, 4.5)
    assert not any(row["ok"] for row in rows if row["quantity"].startswith("log"))
    late = predicted[:, np.maximum(np.arange(8) - 3, 0)]  # the same path 3 generations later: crosses at 6
    crossing_row = heldout_rows(case, measured, late, 4.5)[-1]
    assert crossing_row["quantity"].startswith("first generation") and not crossing_row["ok"]
    assert (crossing_row["predicted"], crossing_row["measured"]) == (6.0, 3.0)
