"""Means over seeds: the Student-t interval of every metric per generation, and how many seeds each is over."""
import numpy as np
import pytest

from lmcollapse.analysis.aggregation import aggregate_rows, metric_matrix
from lmcollapse.metrics import MetricsRow
from lmcollapse.analysis.stats import t_half_width


def test_aggregate_is_the_mean_and_a_student_t_interval():
    per_seed = [[{"generation": 0, "m": 1.0}, {"generation": 1, "m": 2.0}],
                [{"generation": 0, "m": 3.0}, {"generation": 1, "m": None}],
                [{"generation": 0, "m": 5.0}]]
    rows = aggregate_rows(per_seed)
    half = 4.302653 * 2.0 / np.sqrt(3)  # t(0.975, 2) * sd / sqrt(n)
    assert rows[0]["m"] == 3.0 and rows[0]["m_n"] == 3
    assert rows[0]["m_lo"] == pytest.approx(3 - half, rel=1e-5) and rows[0]["m_hi"] == pytest.approx(3 + half, rel=1e-5)
    assert rows[1] == {"generation": 1, "m": 2.0, "m_n": 1}  # one seed: no interval


def test_two_seeds_give_a_mean_and_no_interval():
    """With two seeds the 95% t quantile is 12.7: an interval some twenty spreads wide says nothing, so none is
    written, and the count says why."""
    rows = aggregate_rows([[{"generation": 0, "m": 1.0}], [{"generation": 0, "m": 3.0}]])
    assert rows == [{"generation": 0, "m": 2.0, "m_n": 2}]


def test_seeds_with_fewer_generations_leave_the_later_means_to_the_others():
    per_seed = [[{"generation": t, "m": float(t)} for t in range(3)], [{"generation": 0, "m": 2.0}],
                [{"generation": 0, "m": 4.0}, {"generation": 1, "m": 3.0}]]
    rows = [MetricsRow.from_json(r) for r in aggregate_rows(per_seed)]
    assert [r.counts["m"] for r in rows] == [3, 2, 1] and rows[0].values["m"] == 2.0 and rows[1].values["m"] == 2.0
    assert rows[0].interval("m") != (None, None) and rows[1].interval("m") == rows[2].interval("m") == (None, None)
    matrix = metric_matrix(per_seed, "m")
    assert matrix.shape == (3, 3) and np.isnan(matrix[1, 1:]).all() and np.isnan(matrix[2, 2])


def test_the_half_width_is_the_student_t_one_to_the_digits_of_its_table():
    # t(0.975, df) from a printed table: 12.706 (1), 2.776 (4), 2.262 (9)
    for n, quantile in ((2, 12.706), (5, 2.776), (10, 2.262)):
        values = np.arange(n, dtype=float)
        assert t_half_width(values) == pytest.approx(quantile * values.std(ddof=1) / np.sqrt(n), rel=2e-4)


def test_intervals_of_shares_and_accuracies_stay_inside_their_range():
    """Three spread seeds give a wide Student-t interval (t = 4.3); a share's interval is cut at 0 and 1, a
    perplexity's at 1 below and nowhere above."""
    per_seed = [[{"generation": 0, "real_fraction": 0.99, "downstream_acc": 0.02, "heldout_ppl": 5.0}],
                [{"generation": 0, "real_fraction": 0.95, "downstream_acc": 0.10, "heldout_ppl": 9.0}],
                [{"generation": 0, "real_fraction": 0.90, "downstream_acc": 0.04, "heldout_ppl": 1.5}]]
    row = MetricsRow.from_json(aggregate_rows(per_seed)[0])
    assert row.interval("real_fraction")[1] == 1.0 and 0 < row.interval("real_fraction")[0] < 0.95
    assert row.interval("downstream_acc")[0] == 0.0 and row.interval("downstream_acc")[1] < 1
    assert row.interval("heldout_ppl")[0] == 1.0 and row.interval("heldout_ppl")[1] > 9
