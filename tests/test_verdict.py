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


def test_seeds_without_a_finite_ratio_are_not_counted_as_seeds_that_could_give_an_interval():
    """0.4.0 wrote "no interval: 3 seeds, 3 or more needed" for a point of 3 seeds of which some had starved
    (stopped before the last generation) or whose metric was infinite."""
    per_seed = _seeds(lambda t: 1.2 ** t, seeds=3)
    per_seed[1] = per_seed[1][:4]  # starved after generation 3: no value at the last generation
    per_seed[2][-1]["heldout_ppl"] = float("inf")
    v = judge_seeds("s", per_seed)
    assert (v.seeds, v.finite_seeds, v.state) == (3, 1, "too few seeds")
    assert v.interval_text() == "no interval: 1 of 3 seeds have a finite ratio, 3 or more needed"
    assert judge_seeds("two", _seeds(lambda t: 1.2 ** t, seeds=2)).interval_text() == \
        "no interval: 2 seeds, 3 or more needed"


def test_an_infinite_watched_metric_says_what_happened_instead_of_claiming_it_is_not_measured():
    """0.4.0 said "no verdict (it measures neither kl_to_truth nor heldout_ppl)" on the Wright-Fisher run, which
    measures both: exact maximum likelihood gives a token it never saw probability 0, so both are infinite."""
    rows = [{"generation": t, "kl_to_truth": None, "heldout_ppl": None, "support_fraction": 1 - 0.1 * t,
             "tv_to_truth": 0.1 + 0.05 * t} for t in range(5)]
    v = judge_run("wf", rows)
    assert (v.metric, v.state) == ("kl_to_truth", "infinite")
    assert v.line() == ("wf: no verdict (kl_to_truth is infinite from generation 0: the model gives probability 0 to "
                        "tokens the truth has, absent from its training data; support_fraction 1 -> 0.6, "
                        "tv_to_truth 0.1 -> 0.3)")
    later = [{"generation": t, "heldout_ppl": 100.0 + t if t < 3 else None} for t in range(6)]
    assert judge_seeds("s", [later, later, later]).line().startswith(
        "s: no verdict (heldout_ppl is infinite from generation 3")  # 0.4.0 judged generations 0-2 only
    assert judge_run("kjv", [{"generation": t, "heldout_ppl": 100.0 * (1 + t)} for t in range(3)]).note is None


def test_the_paragraph_counts_many_verdicts_instead_of_naming_each():
    """0.4.0's 63-point mitigation report opened with a 23-line paragraph naming every point."""
    from lmcollapse.analysis.verdict import NAMED_IN_WORDS, in_words

    many = [judge_seeds(f"point {i}", _seeds(lambda t: 1.2 ** t if i % 3 else 1 + 0.01 * t)) for i in range(30)]
    text = in_words(many)
    assert "collapsing: 20 of 30" in text and "bounded: 10 of 30" in text and "point 7" not in text.split(". ")[0]
    few = in_words(many[:NAMED_IN_WORDS])
    assert "point 1" in few and "point 5" in few
    assert len(text) < 600
