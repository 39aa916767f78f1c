"""`lmcollapse reproduce quality-vs-quantity --quick`: the whole sweep, small, end to end."""
import json
import subprocess
import sys

from pathlib import Path

import pytest

import lmcollapse

from lmcollapse.errors import LmcollapseError
from lmcollapse.studies import load_spec
from lmcollapse.studies.quality import _verdict, effective_spec, variants

from helpers import measured_as_in_0_3, same_numbers, two_seed_study

DATA = Path(__file__).parent / "data" / "v0.3.0"


def test_the_sweep_has_every_rate_without_gates_and_every_gate_at_one_rate():
    spec = effective_spec(load_spec("quality-vs-quantity"), quick=False)
    chosen = variants(spec)
    markov = [v for v in chosen if v.setting == "markov"]
    assert [v.rate for v in markov if v.gate is None] == [1.0, 0.3, 0.1, 0.03, 0.01]
    gated = [v for v in markov if v.gate is not None]
    assert {v.rate for v in gated} == {1.0} and len(gated) == 6
    assert all(v.config["paradigm"]["name"] == "accumulate-subsample" for v in chosen)
    assert len({tuple(v.tags.values()) for v in markov}) == len(markov)  # one point of the study's sweep each
    with pytest.raises(LmcollapseError, match="unknown experiment"):
        load_spec("quantity-vs-quality")


def test_verdict_states_what_the_numbers_say():
    base = {"generations": 10, "start": 1.0, "departs": None, "direction": None}
    numbers = [{**base, "rate": 1.0, "gate": None, "end": 3.0, "crosses": 2, "state": "collapsing"},
               {**base, "rate": 0.1, "gate": None, "end": 1.1, "crosses": None, "state": "bounded"},
               {**base, "rate": 1.0, "gate": "verifier", "variant": "rate 1 + verifier", "end": 1.1,
                "crosses": None, "state": "bounded", "effect": 0.37, "p_adjusted": 0.25, "mde": float("inf"),
                "verdict": "not detected", "margin": 0.1}]
    text = "\n".join(_verdict(numbers))
    assert "1 of 2 rates cross" in text and "rate 0.1 not within 10" in text
    assert "may still do so" in text and "rate 1 + verifier: bounded" in text
    # 0.4.0 called a gate helpful when its mean ratio was 20% below, with no uncertainty; now a paired test
    assert "verifier not detected (x0.37, p adj. 0.25, MDE none possible)" in text
    numbers[1].update(crosses=1, end=2.0, state="collapsing")  # the smaller rate crossing first
    assert "NOT later in every case" in "\n".join(_verdict(numbers))


def test_quick_reproduce_runs_end_to_end(tmp_path):
    out = tmp_path / "qq"
    result = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "reproduce", "quality-vs-quantity", "--quick",
                             "--out", str(out), "--workers", "2"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = (out / "summary.md").read_text()
    assert "## markov (watching `kl_to_truth`)" in summary and "## kjv (watching `heldout_ppl`)" in summary
    assert "rate 1 + verifier" in summary and "rate 1 + perplexity" in summary
    numbers = json.loads((out / "summary.json").read_text())
    assert len(numbers) == 7 and all(n["generations"] == 6 for n in numbers)
    assert (out / "summary.png").stat().st_size > 10_000
    report = (out / "report-markov.html").read_text()
    assert "Against ungated rate 1, paired by seed" in report and 'alt="summary"' in report  # the verdict opens it
    ungated = [n for n in numbers if n["setting"] == "kjv" and n["gate"] is None]
    assert all(n["end"] > n["start"] for n in ungated)  # held-out perplexity rises without new real data
    # three seeds: every variant has an interval inside its metric's range (KL >= 0, perplexity >= 1) and a state
    assert all(n["seeds"] == 3 and n["state"] in ("collapsing", "bounded", "unclear") for n in numbers)
    assert all(n["end_lo"] <= n["end"] <= n["end_hi"] and n["end_lo"] >= (0 if n["setting"] == "markov" else 1)
               for n in numbers)
    assert "no interval:" not in summary and "too few seeds" not in summary
    assert lmcollapse.open_results(out).seeds == [0, 1, 2]  # a study's folder is a sweep
    # seeds 0 and 1 alone give the values lmcollapse 0.3.0 recorded before studies became sweeps
    # (tests/data/v0.3.0), and with two seeds no interval and no state
    recorded = json.loads((DATA / "quality-quick-summary.json").read_text())
    two = two_seed_study(out, "quality")
    assert same_numbers(measured_as_in_0_3(two), measured_as_in_0_3(recorded)) == []
    assert all(n["end_lo"] is None and n["state"] == "too few seeds" and n["seeds"] == 2 for n in two)
