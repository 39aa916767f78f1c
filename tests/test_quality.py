"""The quality-vs-quantity study's gate comparisons (studies/quality.py): each gated variant against the
ungated rate 1 of its setting, paired by seed through the statistics layer."""
import numpy as np

from lmcollapse.studies.quality import Variant, compare_gates


def _curves(growth: float, seeds: int, spread: float = 0.02) -> list[list[dict]]:
    """Per seed, four generations of a watched metric growing by `growth` per generation (seed-dependent a
    little, so that paired differences have a spread)."""
    return [[{"generation": t, "kl": 1.0 * (growth + spread * s) ** t} for t in range(4)] for s in range(seeds)]


def test_a_gate_that_holds_a_collapsing_baseline_below_the_bound_prevents_and_one_that_does_not_delays():
    """0.4.0's paired rewrite passed bounded=False for every gate, so no gate could ever "prevent". With 8
    seeds (two-sided sign-flip p = 2/256, Holm over 2 gates): the gate bounded where the baseline collapses prevents,
    the one lower than the baseline but still above the bound delays."""
    spec = {"settings": {"markov": {"watch": "kl"}}}
    chosen = [Variant("markov", "rate 1", 1.0, None, {}), Variant("markov", "rate 1 + verifier", 1.0, "verifier", {}),
              Variant("markov", "rate 1 + dedup", 1.0, "dedup", {})]
    groups = {("markov", "rate 1"): _curves(1.5, 8), ("markov", "rate 1 + verifier"): _curves(1.0, 8, 0.005),
              ("markov", "rate 1 + dedup"): _curves(1.3, 8)}
    states = {("markov", "rate 1"): "collapsing", ("markov", "rate 1 + verifier"): "bounded",
              ("markov", "rate 1 + dedup"): "collapsing"}
    compare_gates(spec, chosen, groups, states)
    verifier, dedup = chosen[1].comparison, chosen[2].comparison
    assert verifier["verdict"] == "prevents" and dedup["verdict"] == "delays"
    assert verifier["p"] == 2 / 256 and verifier["p_adjusted"] == 4 / 256  # two-sided, then Holm x 2
    assert np.exp(np.log(1.0 / 1.5) * 3) * 0.9 < verifier["effect"] < 1.0
    states[("markov", "rate 1")] = "bounded"  # a baseline already bounded: a lower gate only delays
    compare_gates(spec, chosen, groups, states)
    assert chosen[1].comparison["verdict"] == "delays"
