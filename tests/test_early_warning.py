"""Early warning: the false-alarm rate the docs promise, and the power to see a real departure."""
import numpy as np
import pytest

from lmcollapse.analysis.early_warning import ALPHA, Z_CI, paired_t_departure, warnings_for_run, z_departure
from lmcollapse.analysis.stats import t_quantile, t_sf

TRIALS = 2000
# Binomial standard error of a 5% rate over 2,000 trials is 0.49 points: 4 s.e. above 5% is 7%.
MAX_FALSE_ALARMS = ALPHA + 4 * np.sqrt(ALPHA * (1 - ALPHA) / TRIALS)


def test_student_t_tails_and_quantiles():
    # Known values: t(1) is Cauchy; t(2) has P(T > t) = (1 - t / sqrt(t^2 + 2)) / 2.
    assert t_sf(1.0, 1) == pytest.approx(0.25, abs=1e-4)
    for t in (0.3, 1.0, 2.5, 6.0):
        assert t_sf(t, 2) == pytest.approx((1 - t / np.sqrt(t * t + 2)) / 2, abs=1e-9)
    assert t_quantile(0.975, 9) == pytest.approx(2.262157, abs=1e-5)
    assert t_quantile(0.975, 10_000) == pytest.approx(1.959964, abs=1e-3)


def test_paired_t_test_false_alarm_rate_is_at_most_alpha_when_nothing_changes():
    rng = np.random.default_rng(0)
    alarms = 0
    for _ in range(TRIALS):
        seed_offsets = rng.normal(0, 3, size=(10, 1))  # seeds differ a lot, generations do not
        alarms += paired_t_departure(seed_offsets + rng.normal(0, 1, size=(10, 8))) is not None
    assert alarms / TRIALS <= MAX_FALSE_ALARMS
    assert alarms / TRIALS >= 0.01  # Bonferroni is conservative, but not blind


def test_paired_t_test_finds_a_shift_at_the_generation_it_starts():
    rng = np.random.default_rng(1)
    found = []
    for _ in range(500):
        values = rng.normal(0, 1, size=(10, 8))
        values[:, 3:] += 3.0  # the law moves at generation 3
        found.append(paired_t_departure(values))
    generations = np.array([f[0] if f else -1 for f in found])
    assert np.mean(generations == 3) > 0.9
    assert np.mean((generations >= 1) & (generations < 3)) <= MAX_FALSE_ALARMS
    assert all(f[2] == "up" for f in found if f and f[0] == 3)


def test_z_test_on_interval_half_widths_keeps_its_false_alarm_rate():
    rng = np.random.default_rng(2)
    se = np.linspace(0.5, 2.0, 10)
    alarms = sum(z_departure(5 + se * rng.normal(size=10), Z_CI * se) is not None for _ in range(TRIALS))
    assert alarms / TRIALS <= MAX_FALSE_ALARMS


def test_warnings_for_run_reads_intervals_from_metrics_rows():
    rows = [{"generation": t, "m": 1.0 + (0.5 if t >= 2 else 0.0), "m_lo": 0.9 + (0.5 if t >= 2 else 0.0),
             "m_hi": 1.1 + (0.5 if t >= 2 else 0.0), "n_train": 5.0} for t in range(5)]
    (warning,) = warnings_for_run(rows)
    assert (warning.metric, warning.generation, warning.direction) == ("m", 2, "up")


def test_a_cut_interval_keeps_its_uncut_width_for_the_z_test():
    """A share near 0: its interval is cut at 0, but the z-test reads the half-width from the uncut side, so
    the same rows with and without the cut give the same flags."""
    from lmcollapse.analysis.early_warning import warnings_for_run

    uncut = [{"generation": t, "support_loss": v, "support_loss_lo": v - 0.03, "support_loss_hi": v + 0.03}
             for t, v in enumerate([0.01, 0.012, 0.02, 0.09])]
    cut = [{**r, "support_loss_lo": max(r["support_loss_lo"], 0.0)} for r in uncut]
    assert [(d.metric, d.generation) for d in warnings_for_run(cut)] == \
        [(d.metric, d.generation) for d in warnings_for_run(uncut)] == [("support_loss", 3)]
