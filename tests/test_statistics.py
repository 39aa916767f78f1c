"""analysis/statistics.py, checked on synthetic studies with known answers (testing/statistics.py): the power
its MDE promises, the family-wise error Holm keeps, equivalence only inside the margin, and the pieces."""
import numpy as np
import pytest

from lmcollapse.analysis import statistics
from lmcollapse.testing.statistics import FOUND, simulate

SD = 0.14  # the GPT's per-seed spread of log final ratios under replace (the audit of 0.4.0)
FAMILY = 12  # rows compared in one study's family


def test_a_planted_effect_at_the_mde_is_found_with_the_promised_power():
    seeds = statistics.seeds_for(1.3, SD, FAMILY)
    assert seeds is not None and statistics.mde(SD, seeds, FAMILY) <= 1.3
    outcome = simulate([1.3] + [1.0] * (FAMILY - 1), SD, seeds, studies=200, seed=1)
    assert outcome.share(0, ("harms",)) >= 0.75  # POWER is 0.8; 200 studies, a tolerance of about 2 s.e.
    # and with the 3 seeds of 0.4.0 nothing can be found: no sign-flip p-value is below 2/8
    assert simulate([2.0] + [1.0] * (FAMILY - 1), SD, 3, studies=50).any_share(FOUND) == 0.0


def test_with_no_effect_anywhere_the_family_wise_rate_of_a_claim_stays_at_alpha():
    seeds = statistics.seeds_for(1.3, SD, FAMILY)
    outcome = simulate([1.0] * FAMILY, SD, seeds, studies=200, seed=2)
    assert outcome.any_share(FOUND) <= statistics.ALPHA + 2 * np.sqrt(0.05 * 0.95 / 200)  # 5% + 2 s.e.


def test_no_effect_is_claimed_only_when_the_effect_lies_inside_the_margin():
    outside = simulate([1.3, 1.12], SD, 12, studies=200, seed=3)  # both beyond +-10%
    assert outside.share(0, ("no effect",)) == 0.0 and outside.share(1, ("no effect",)) <= 0.05
    inside = simulate([1.0], 0.05, 12, studies=200, seed=4)  # a tight null: equivalence shown
    assert inside.share(0, ("no effect",)) >= 0.9
    noisy = simulate([1.0], SD, 3, studies=200, seed=5)  # 3 noisy seeds: absence of evidence, not equivalence
    assert noisy.share(0, ("not detected",)) >= 0.9


def test_sign_flip_p_values_are_exact():
    assert statistics.sign_flip_p(np.array([0.1, 0.2, 0.3])) == pytest.approx(2 / 8)
    assert statistics.sign_flip_p(np.array([0.1, -0.1])) == 1.0
    d = np.array([0.3, 0.1, -0.05, 0.2, 0.25, 0.15])  # 64 patterns; |mean| at least the observed: 2 + those near
    signs = np.array(np.meshgrid(*[[1, -1]] * 6)).reshape(6, -1).T
    assert statistics.sign_flip_p(d) == pytest.approx(np.mean(np.abs(signs @ d) >= abs(d.sum()) - 1e-12))


def test_holm_adjusts_step_down_and_keeps_order():
    assert statistics.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert statistics.holm_factors([0.01, 0.04, 0.03]) == [3, 1, 2]
    adjusted = statistics.holm([0.2, float("nan"), 0.01])
    assert adjusted[0] == pytest.approx(0.2) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_the_mde_is_infinite_where_the_test_cannot_reach_its_level():
    assert statistics.mde(0.1, 3) == float("inf")  # 2/8 > 0.05
    assert statistics.mde(0.0, 3) == float("inf")  # no spread (a row identical to its baseline): still none
    assert statistics.mde(0.1, 6) < statistics.mde(0.1, 6 + 4) * 2  # finite from 6 seeds at 5%
    assert statistics.mde(0.1, 6, factor=12) == float("inf")  # 2/64 > 0.05/12
    assert statistics.mde(0.1, 12) < statistics.mde(0.2, 12) < float("inf")


def test_stability_counts_resamples_that_keep_the_verdict():
    strong = np.full(10, 0.5) + np.linspace(-0.01, 0.01, 10)
    decide = lambda d: statistics.paired_verdict(d, 1, False, False, 0.1)  # noqa: E731
    assert decide(strong) == "harms" and statistics.stability(strong, decide) == 1.0
    borderline = np.array([0.3, -0.25, 0.28, -0.2, 0.31, 0.05, -0.1, 0.27, 0.02, -0.15])
    assert 0.0 < statistics.stability(borderline, decide) < 0.95


def test_a_law_is_fitted_only_with_a_point_to_spare():
    assert statistics.fit_refusal(2, 2) == "no fit: 2 points for 2 parameters (a fit needs 3 or more, to leave a residual)"
    assert statistics.fit_refusal(3, 2) is None
