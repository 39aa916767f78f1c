"""`lmcollapse reproduce paper`: the grid, the claims table's rules, the quick run end to end, resume after a
kill, and the paper-scale grid passing through at toy scale."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lmcollapse
from lmcollapse.errors import LmcollapseError
from lmcollapse.studies import load_spec, paper
from lmcollapse.running.rundir import RunDir

from helpers import cli, measured_as_in_0_3, same_numbers, two_seed_study

pytest.importorskip("torch")
DATA = Path(__file__).parent / "data" / "v0.3.0"


def test_the_grid_is_the_papers(monkeypatch):
    spec = paper.effective_spec(load_spec("paper"))
    assert len(spec["seeds"]) >= 3 and spec["generations"] >= 20
    chosen = paper.validate(spec)  # every run's config is valid
    policies = {(p.paradigm["name"], p.paradigm.get("rate")) for p in chosen if p.model == "gpt"}
    assert {("replace", None), ("accumulate-subsample", 1.0), ("accumulate-subsample", 0.3),
            ("accumulate-subsample", 0.1), ("mix", None), ("fresh", 1.0)} <= policies
    assert any(name == "accumulate" for name, _ in policies)
    gpt = next(p for p in chosen if p.model == "gpt")
    assert gpt.config["model"]["name"] == "gpt" and gpt.config["probe"]["task"]
    assert {"heldout_ppl", "downstream", "repetition", "distinct_2", "model_entropy", "self_bleu"} <= \
        set(gpt.config["metrics"])
    assert {p.label for p in chosen if p.model == "ngram"} == {p.label for p in chosen if p.model == "gpt"}
    big = paper.effective_spec(load_spec("paper"), scale="paper")
    from lmcollapse import extras

    if not extras.installed("datasets"):  # TinyStories from the hub: refused here before anything runs
        with pytest.raises(LmcollapseError, match=r"needs HF datasets.*lmcollapse\[hf\]"):
            paper.validate(big)
    monkeypatch.setattr(extras, "installed", lambda module: True)
    big_points = paper.validate(big)  # the paper's preset validates, with its extras, though it cannot run here
    assert {p.config["model"]["name"] for p in big_points} == {"hf", "ngram"}
    assert next(p for p in big_points if p.model == "gpt").config["model"]["hf_config"] == "tinystories-1m"


def test_the_cpu_large_scale_is_the_issue_s_design():
    """--scale cpu-large: a GPT of a few million parameters, width 256, on 8,000 KJV verses, 40 generations,
    replace and accumulate-subsample at r = 1 and 0.1, two seeds (the issue's; an interval needs three), bfloat16 where
    the CPU pays (precision auto)."""
    import torch

    from lmcollapse.running.parts import load_config
    from lmcollapse.models.gpt import GPTModel
    from lmcollapse.models.neural.device import cpu_has_bf16_units

    large = paper.effective_spec(load_spec("paper"), scale="cpu-large")
    chosen = paper.validate(large)
    assert large["generations"] == 40 and len(large["seeds"]) >= 2
    assert {(p.paradigm["name"], p.paradigm.get("rate")) for p in chosen} == {
        ("replace", None), ("accumulate-subsample", 1.0), ("accumulate-subsample", 0.1)}
    gpt = load_config(next(p for p in chosen if p.model == "gpt").config)
    assert gpt.corpus.n_train >= 8000 and gpt.model.n_embd >= 256 and gpt.model.precision == "auto"
    model = GPTModel(gpt.model)
    model.vocab_size_ = gpt.tokenizer.vocab_size
    params = sum(p.numel() for p in model._build_net().parameters())
    assert 1_000_000 < params < 10_000_000
    assert isinstance(model._autocast(torch.device("cpu")), torch.autocast) == cpu_has_bf16_units()


def _claims(**overrides):
    policy = {"ratio": 2.0, "ratio_lo": 1.6, "ratio_hi": 2.4, "state": "collapsing", "crossings": [3, 4],
              "crossing_mean": 3.5, "crossing_lo": 2.0, "crossing_hi": 5.0}
    claims = {"seeds": 3, "a": {"slope": 0.1, "slope_lo": 0.05, "slope_hi": 0.15, "sign": 1, "rises": 9, "steps": 9},
              "b": {"rates": [{"rate": 1.0, **policy, "theory": {"crossings": [3, None], "ratio_end": 1.3}},
                              {"rate": 0.1, **policy, "crossing_mean": 9.0, "theory": {"refusal": "covers the bigram"}}],
                    "all_collapsing": True, "all_rise": True, "some_does_not_rise": False, "later_for_smaller": True},
              "c": {"mix 0.5": {**policy, "ratio": 1.1, "ratio_lo": 1.0, "ratio_hi": 1.2, "state": "bounded"}},
              "d": {"generation_0_beats_baseline": True, "enters_baseline": 4, "baseline_acc": 0.27,
                    "acc": [0.36, 0.3, 0.28], "equivalent_at_end": True, "margin": 0.02},
              "e": {m: {"slope": 0.01, "slope_lo": 0.005, "slope_hi": 0.02} for m in ("repetition", "self_bleu",
                                                                                     "distinct_2")} | {"direction": 1}}
    for key, value in overrides.items():
        claims[key] = {**claims[key], **value} if isinstance(value, dict) else value
    return claims


def test_the_claims_table_says_what_the_numbers_say():
    verdicts = [row[3] for row in paper.claim_rows(_claims(), 1.25)]
    assert verdicts == ["agrees", "agrees", "bounded", "agrees", "agrees"]
    contradicted = paper.claim_rows(_claims(a={"sign": -1, "slope": -0.1}, e={"direction": -1},
                                            d={"enters_baseline": None, "equivalent_at_end": False},
                                            b={"later_for_smaller": False}), 1.25)
    assert [row[3] for row in contradicted] == ["contradicts", "partly", "bounded", "not within the run",
                                                "contradicts: less repetitive"]
    stalled = paper.claim_rows(_claims(b={"all_collapsing": False, "all_rise": False, "some_does_not_rise": True}),
                               1.25)
    assert stalled[1][3] == "contradicts"
    untestable = paper.claim_rows(_claims(d={"generation_0_beats_baseline": False}), 1.25)
    assert untestable[3][3] == "untestable" and "cannot tell them apart" in untestable[3][2]
    # 0.4.0 printed "n*(r) = 0.62 + 1.71/r" through two points (exact by construction); now, for the count
    # model, each seed's predicted crossing (theory/heldout.py) beside the measured; none where not covered
    b_row = paper.claim_rows(_claims(), 1.25)[1][2]
    assert "theory (held-out log-loss from each seed's R and E): r=1: ratio 1.3, crosses at 3, -" in b_row
    assert "r=0.1: ratio" not in b_row.split("theory")[1] and "a + b/r" not in b_row
    # (d) is a claim of equality: an interval that reaches 0 is not enough, equivalence must be shown
    unshown = paper.claim_rows(_claims(d={"equivalent_at_end": False}), 1.25)
    assert unshown[3][3] == "not shown" and "equality within +-0.02 is not shown" in unshown[3][2]
    few = paper.claim_rows(_claims(seeds=2), 1.25)  # two seeds: no interval printed, no verdict drawn from one
    assert {row[3] for row in few} == {"too few seeds (2)"}
    assert "no interval: 2 seeds, 3 or more needed" in few[0][2] and "95% CI" not in " ".join(r[2] for r in few)


def test_a_ratio_interval_stays_positive_and_few_seeds_give_none():
    """Perplexity ratios are summarised on the log scale: the 0.3 arithmetic interval of 2 seeds at 1.3 and
    3.9 ran from -14 to 18; the geometric mean of 0.5 and 2 is 1."""
    from lmcollapse.analysis.aggregation import mean_over_seeds

    assert mean_over_seeds(np.array([0.5, 2.0]), log=True)[0] == pytest.approx(1.0)
    assert np.isnan(mean_over_seeds(np.array([1.3, 3.9]), log=True)[1:]).all()  # two seeds: no interval
    rng = np.random.default_rng(0)
    for _ in range(200):  # wide spreads, three to five seeds: the interval stays above 0 and holds the mean
        ratios = np.exp(rng.normal(0.5, 1.5, size=rng.integers(3, 6)))
        mean, low, high = mean_over_seeds(ratios, log=True)
        assert 0 < low <= mean <= high
    _, low, high = mean_over_seeds(np.array([0.9, 0.99, 1.0]), column="downstream_acc")
    assert high == 1.0 and low < 0.9  # an accuracy's interval is cut at 1
    per_seed = [[{"generation": 0, "heldout_ppl": 10.0}, {"generation": 1, "heldout_ppl": v}] for v in (13.0, 39.0)]
    n = paper.policy_numbers(per_seed, 1.25)
    assert n["ratio"] == pytest.approx((1.3 * 3.9) ** 0.5) and np.isnan(n["ratio_lo"]) and n["state"] == "too few seeds"


@pytest.mark.slow  # 20 s; CI runs it (`-m slow`)
def test_quick_reproduce_paper_runs_end_to_end(tmp_path):
    out = tmp_path / "pq"
    result = cli("reproduce", "paper", "--quick", "--out", out, "--workers", "2", "-q")
    assert result.returncode == 0, result.stderr
    summary = (out / "summary.md").read_text()
    assert "## Claims, gpt" in summary and "## Claims, ngram" in summary
    for claim in ("(a) replace", "(b) accumulate-subsample", "(c) mix 0.5", "(c) fresh", "(d) replace", "(e) replace"):
        assert claim in summary.split("## Claims, ngram")[0], claim
    numbers = json.loads((out / "summary.json").read_text())
    assert set(numbers) == {"gpt", "ngram", "gpt-finetune", "gpt-markov"} and len(numbers["gpt"]["policies"]) == 7
    for model in numbers:  # three seeds: intervals, inside what each quantity allows
        assert numbers[model]["seeds"] == 3 and "too few seeds" not in summary
        for n in numbers[model]["policies"].values():
            assert 0 < n["ratio_lo"] <= n["ratio"] <= n["ratio_hi"] and n["state"] != "too few seeds"
            if n["crossing_mean"] is not None:
                assert 0 <= n["crossing_lo"] <= n["crossing_mean"] <= n["crossing_hi"] <= 2
    assert all(-1 <= lo <= hi <= 1 for lo, hi in zip(numbers["gpt"]["d"]["gap_lo"], numbers["gpt"]["d"]["gap_hi"]))
    # seeds 0 and 1 alone give what lmcollapse 0.3.0 measured before studies became sweeps (tests/data/v0.3.0;
    # the GPT's numbers are those of this machine's CPU kernels: another CPU may round differently); with two
    # seeds there is no interval, and every verdict says so
    recorded = json.loads((DATA / "paper-quick-summary.json").read_text())
    two = two_seed_study(out, "paper")
    assert same_numbers(measured_as_in_0_3(two["ngram"]), measured_as_in_0_3(recorded["ngram"])) == []
    # (1e-4: an Intel CPU with AMX gave a late slope 2.5e-5 away in relative terms, the recording machine's
    # AMD 0; a change of logic moves these numbers by percents)
    assert same_numbers(measured_as_in_0_3(two["gpt"]), measured_as_in_0_3(recorded["gpt"]), rel=1e-4) == []
    assert {row[3] for model in two for row in paper.claim_rows(two[model], 1.25)} == {"too few seeds (2)"}
    assert [n["rate"] for n in numbers["gpt"]["b"]["rates"]] == [1.0, 0.3, 0.1]
    assert len(numbers["gpt"]["d"]["acc"]) == 3 and "d" not in numbers["ngram"]  # the count model has no probe
    assert (out / "summary.png").stat().st_size > 10_000
    report = (out / "report-gpt.html").read_text()
    assert "downstream_acc" in report and "Claims, gpt" in report
    sweep = lmcollapse.open_results(out)  # a study is a sweep: one point per (model, policy)
    assert [p.tags for p in sweep.points][:2] == [{"model": "gpt", "policy": "replace"},
                                                  {"model": "gpt", "policy": "accumulate-subsample r=1"}]
    assert len(sweep.points) == 28 and sweep.seeds == [0, 1, 2]
    # the fine-tuning regime: one base per seed, pretrained by the study on verses no run sees, then shared
    bases = [json.loads((b / "pretrain.json").read_text()) for b in (out / "bases").iterdir() if b.is_dir()]
    assert sorted(b["depends_on"]["seed"] for b in bases) == [0, 1, 2] and {b["documents"] for b in bases} == {200}
    assert "d" in numbers["gpt-finetune"] and "d" not in numbers["gpt-markov"]  # the chain has no probe
    markov = next(p for p in sweep.points if p.tags == {"model": "gpt-markov", "policy": "replace"})
    assert all(0 < row["kl_to_truth"] for row in lmcollapse.load_run(markov.run_dirs[0]).metrics)
    # a second study fine-tunes the same bases (--bases): it finds them and pretrains nothing
    before = {b.name: (b / "pretrain.json").stat().st_mtime_ns for b in (out / "bases").iterdir() if b.is_dir()}
    second = cli("reproduce", "mitigations", "--quick", "--model", "gpt-finetune", "--seeds", "0", "--bases",
                 out / "bases", "--out", tmp_path / "mq", "--workers", "2", "-q")
    assert second.returncode == 0, second.stderr
    assert {b.name: (b / "pretrain.json").stat().st_mtime_ns for b in (out / "bases").iterdir() if b.is_dir()} \
        == before and not (tmp_path / "mq" / "bases").exists()
    tuned = lmcollapse.open_results(tmp_path / "mq").points[0].run_dirs[0]
    assert lmcollapse.load_run(tuned).config.model.base == str((out / "bases").resolve())


@pytest.mark.slow
def test_a_killed_reproduce_run_resumes_without_redoing_committed_generations(tmp_path):
    reference = tmp_path / "reference"
    assert cli("reproduce", "paper", "--quick", "--model", "ngram", "--out", reference, "--workers", "1",
               "-q").returncode == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "lmcollapse.cli", "reproduce", "paper", "--quick", "--model",
                             "ngram", "--out", str(out), "--workers", "1", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and len(list(out.glob("runs/*/gen-*[0-9]/DONE"))) < 8:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/gen-*[0-9]/DONE")}
    assert 8 <= len(committed) < 7 * 3 * 3, "the kill should land mid-run"
    result = cli("reproduce", "paper", "--quick", "--model", "ngram", "--out", out, "--workers", "1", "-q")
    assert result.returncode == 0, result.stderr
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in committed.items())  # nothing committed was redone
    assert len(list(out.glob("runs/*/gen-*[0-9]/DONE"))) == 7 * 3 * 3
    got, want = (json.loads((d / "summary.json").read_text()) for d in (out, reference))
    assert got == want


@pytest.mark.slow
def test_the_paper_scale_grid_passes_through_at_toy_scale(tmp_path):
    pytest.importorskip("transformers")
    from test_story_presets import tiny_stories_file

    stories = tiny_stories_file(tmp_path / "TinyStories-train.txt", n=120)
    spec = paper.effective_spec(load_spec("paper"), scale="paper")
    spec["seeds"], spec["generations"] = [0, 1], 2
    gpt = spec["models"]["gpt"]
    gpt["corpus"].update(path=str(stories), n_train=40, n_eval=10, n_reservoir=20)
    gpt["tokenizer"]["vocab_size"] = 300
    gpt["model"].update(block_size=64, batch_size=8, epochs=1, batch_memory_gb=0.5)
    gpt["sampler"]["max_tokens"] = 40
    gpt["ci_rounds"] = 5
    out = paper.reproduce(spec, tmp_path / "big", workers=2, progress=False, models=("gpt",))
    numbers = json.loads((Path(out) / "summary.json").read_text())
    assert len(numbers["gpt"]["policies"]) == 7 and "a" in numbers["gpt"]
    replace = next(p for p in lmcollapse.open_results(out).points if p.tags["policy"] == "replace")
    run_config = RunDir(replace.run_dirs[0]).config_file.read_text()
    assert "hf_config: tinystories-1m" in run_config and "name: tinystories" in run_config
