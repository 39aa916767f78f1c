"""Did it collapse? analysis/verdict.py's rule on seed groups and single runs, with numbers whose answer is known."""
import numpy as np
import pytest

from lmcollapse.analysis.verdict import BOUND, judge_run, judge_seeds, state_of


def _seeds(curve, seeds=3, spread=0.02, metric="heldout_ppl"):
    """Each seed's rows: 100 x curve(t) to a power of its own near 1."""
    return [[{"generation": t, metric: 100 * curve(t) ** (1 + spread * (s - 1))} for t in range(10)]
            for s in range(seeds)]


def test_a_seed_group_is_collapsing_levelled_off_or_bounded_by_its_interval():
    rising = judge_seeds("r", _seeds(lambda t: 1.2 ** t))
    assert rising.state == "collapsing" and rising.ratio == pytest.approx(1.2 ** 9, rel=1e-3)
    assert rising.low < rising.ratio < rising.high and rising.low > BOUND
    levelled = judge_seeds("l", _seeds(lambda t: min(1.2 ** t, 2.0)))
    assert levelled.state == "levelled off"
    flat = judge_seeds("f", _seeds(lambda t: 1 + 0.01 * t))
    assert flat.state == "bounded" and flat.high < BOUND
    assert judge_seeds("two", _seeds(lambda t: 1.2 ** t, seeds=2)).state == "too few seeds"
    kl = judge_seeds("k", [rows + [] for rows in _seeds(lambda t: 1.2 ** t, metric="kl_to_truth")])
    assert kl.metric == "kl_to_truth"  # a known truth is judged by the exact divergence
    assert rising.line().startswith("r: collapsing; heldout_ppl 5.16x generation 0 after 9 generations (95% CI")


def test_a_single_run_is_judged_by_its_half_sampling_intervals():
    def rows(curve, half_width):
        return [{"generation": t, "heldout_ppl": 100 * curve(t), "heldout_ppl_lo": 100 * curve(t) * (1 - half_width),
                 "heldout_ppl_hi": 100 * curve(t) * (1 + half_width)} for t in range(8)]

    assert judge_run("a", rows(lambda t: 1.3 ** t, 0.05)).state == "collapsing"
    wide = judge_run("b", rows(lambda t: 1.04 ** t, 0.2))  # 1.3x, but the conservative interval reaches below 1.25
    assert wide.state == "unclear" and wide.low < BOUND < wide.high
    assert judge_run("c", rows(lambda t: 1.0, 0.05)).state == "bounded"
    bare = [{"generation": t, "heldout_ppl": 100.0 * 1.3 ** t} for t in range(8)]  # ci_rounds: 0
    assert judge_run("d", bare).state == "collapsing" and np.isnan(judge_run("d", bare).low)
    assert judge_run("e", [{"generation": 0, "distinct_2": 0.5}]).metric is None


def test_the_rule_reads_the_interval_against_the_bound():
    assert state_of(1.3, 1.5, True) == "collapsing" and state_of(1.3, 1.5, False) == "levelled off"
    assert state_of(1.0, 1.2, True) == "bounded" and state_of(1.1, 1.4, True) == "unclear"
    assert state_of(float("nan"), float("nan"), True, seeds=2) == "too few seeds"
