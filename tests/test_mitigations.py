"""`lmcollapse reproduce mitigations`: the protocol the spec fixes, the leaderboard's rules, a user's gate as
a row of its own (--plugin), and the quick benchmark end to end."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import lmcollapse
from lmcollapse.errors import LmcollapseError
from lmcollapse.studies import load_spec, mitigations

from helpers import cli

PLUGIN = Path(__file__).parent / "plugins" / "short_gate.py"


def test_every_mitigation_runs_under_every_hard_setting_where_it_applies(monkeypatch):
    spec = mitigations.effective_spec(load_spec("mitigations"))
    assert len(spec["seeds"]) >= 3 and spec["generations"] == 20
    assert {p["name"] for p in spec["settings"].values()} == {"replace", "accumulate-subsample"}
    chosen, skipped = mitigations.points(spec)
    rows = {(p.model, p.setting, p.mitigation) for p in chosen}
    reasons = {(m, s, g): why for m, s, g, why in skipped}
    everywhere = ("none", "exact-dedup", "dedup", "perplexity band", "perplexity band 25-75", "toedit 5%",
                  "toedit 20%", "detector-importance beta 10", "detector-importance beta 1", "self-correct reference 1",
                  "bt-curation", "high-surprise", "entropy-select", "temperature 0.7", "top-p 0.9")
    known_truth = ("oracle-rejection", "oracle-rejection noisy 0.1", "oracle-rejection noisy 0.2",
                   "oracle-rejection noisy 0.4", "self-correct 0.5", "self-correct 1", "bt-curation truth")
    for setting in spec["settings"]:
        for label in everywhere:
            assert {(m, setting, label) for m in ("ngram", "ngram-markov")} <= rows, (setting, label)
        for label in known_truth:  # a corrector, reward or verifier that is the truth: known-truth corpora only
            assert ("ngram-markov", setting, label) in rows and ("ngram", setting, label) not in rows
            assert "known-truth corpus" in reasons[("ngram", setting, label)]
        assert ("gpt", setting, "tce 20%") in rows and ("ngram", setting, "tce 20%") not in rows
    # the CPU run's cut (docs/mitigations.md): the GPTs run each peer once, at its paper's setting, and say so
    kept = {label for m, s, label in rows if m == "gpt" and s == "accumulate-subsample r=1"}
    assert kept == {"none", "reweight", "detector-importance beta 10", "tce 20%"}
    for label in {"exact-dedup", "toedit 5%", "entropy-select"}:
        assert reasons[("gpt", "accumulate-subsample r=1", label)] == mitigations.CUT_REASON
    assert ("gpt", "replace", "reweight") not in rows
    # the controls: replay (the ceiling) and the grid of mix shares a data-keeping row is matched against
    references = ("replay", "mix 0.1", "mix 0.25", "mix 0.5", "mix 0.75", "fresh 0.1", "accumulate r=0.1")
    assert {(m, "reference", r) for m in ("ngram", "ngram-markov") for r in references} <= rows
    for gpt in ("gpt", "gpt-finetune", "gpt-markov"):
        assert {r for m, s, r in rows if m == gpt and s == "reference"} == {"replay", "mix 0.5"}
    assert "does not apply to model 'ngram'" in reasons[("ngram", "replace", "tce 20%")]
    assert "known-truth corpus" in reasons[("gpt", "replace", "oracle-rejection")]
    # every peer's reproduce-first regime is a row the benchmark runs
    for label, claim in spec["reproduce_first"].items():
        assert (*claim["regime"], label) in rows, label
    gpt = next(p for p in chosen if p.model == "gpt" and p.mitigation == "none")
    assert gpt.config["model"]["name"] == "gpt" and gpt.config["probe"]["task"] == "kjv-genre"
    # the paper's preset validates here with its extras (it runs on a GPU with internet)
    from lmcollapse import extras

    monkeypatch.setattr(extras, "installed", lambda module: True)
    big = mitigations.validate(mitigations.effective_spec(load_spec("mitigations"), scale="paper"), ("gpt",))
    assert {p.config["model"]["name"] for p in big} == {"hf"} and any(p.mitigation == "tce 20%" for p in big)
    assert {p.mitigation for p in big if p.setting == "reference"} == {"replay", "mix 0.25", "mix 0.5", "mix 0.75",
                                                                        "fresh 0.02", "accumulate r=0.1"}
    assert {p.mitigation for p in big if p.setting.startswith("accumulate-subsample")} >= {"exact-dedup",
                                                                                            "entropy-select"}


def _row(final, lo, hi, collapses, seeds=3):
    return {"final_ratio": final, "final_ratio_lo": lo, "final_ratio_hi": hi, "collapse_generation": collapses,
            "seeds": seeds}


def test_the_verdicts_say_what_the_intervals_say():
    base = _row(2.0, 1.8, 2.2, 3)
    assert mitigations.verdict(base, base) == "baseline"
    assert mitigations.verdict(_row(1.1, 1.0, 1.2, None), base) == "prevents"
    assert mitigations.verdict(_row(1.5, 1.3, 1.7, 5), base) == "delays"  # below the baseline, not bounded
    assert mitigations.verdict(_row(1.9, 1.5, 2.3, 6), base) == "delays"  # overlapping, but collapses later
    assert mitigations.verdict(_row(2.1, 1.7, 2.5, 3), base) == "no effect"
    assert mitigations.verdict(_row(3.0, 2.5, 3.5, 3), base) == "harms"  # above the baseline's interval
    assert mitigations.verdict(_row(2.0, 1.7, 2.3, 1), base) == "harms"  # collapses earlier
    assert mitigations.verdict(_row(1.1, 1.0, 1.2, None), _row(1.1, 1.0, 1.2, None)) == "no effect"  # both bounded
    assert mitigations.verdict(_row(1.1, np.nan, np.nan, None, seeds=2), base) == "too few seeds"


def test_row_numbers_follow_their_definitions():
    """Two seeds' watched metric doubling and tripling: the final ratio is their geometric mean, the area the
    trapezoids of the mean log ratio."""
    per_seed = [[{"generation": t, "heldout_ppl": 10.0 * f ** (t / 2), "repetition": 0.1 * t} for t in range(3)]
                for f in (2.0, 3.0)]
    n = mitigations.row_numbers(per_seed, "heldout_ppl")
    assert n["final_ratio"] == pytest.approx(np.sqrt(6)) and np.isnan(n["final_ratio_lo"])
    mean_log = [0.0, np.log(6) / 4, np.log(6) / 2]
    assert n["area_log_ratio"] == pytest.approx((mean_log[0] + mean_log[1]) / 2 + (mean_log[1] + mean_log[2]) / 2)
    assert n["collapse_generation"] == 1 and n["repetition_change"] == pytest.approx(0.2)
    assert n["acceptance_rate"] is None and n["downstream_gap"] is None


def test_a_mitigation_that_starves_the_model_has_a_verdict_of_its_own_and_says_why():
    """Gates that pass no document under replace leave the next model nothing to train on: the benchmark
    keeps going, and the row says what happened instead of showing the one generation that ran."""
    spec = {"seeds": [0, 1, 2], "settings": {"replace": {"name": "replace"}},
            "models": {"ngram": {"watch": "heldout_ppl"}}}
    chosen = [mitigations.Point("ngram", "replace", m, {}) for m in ("none", "strict")]
    grow = [[{"generation": t, "heldout_ppl": 10.0 * (1.5 + 0.1 * s) ** t} for t in range(4)] for s in range(3)]
    groups = {("ngram", "replace", "none"): grow, ("ngram", "replace", "strict"): [g[:1] for g in grow]}
    rows = mitigations.leaderboard(spec, chosen, groups, seconds={},
                                   starved={("ngram", "replace", "strict"): "starves the model in 3 of 3 seeds"})
    assert rows[0]["verdict"] == "baseline" and rows[0]["final_ratio"] > 3
    # 0.4.0: "starved / collapses at never / harms", three claims about numbers the row does not have
    assert rows[1]["verdict"] == "starves the model" and np.isnan(rows[1]["final_ratio"])
    assert rows[1]["note"].startswith("starves")
    text = mitigations.leaderboard_text(rows, [], {"name": "t", "seeds": [0, 1, 2], "generations": 4})
    assert "| replace | strict | - | - |" in text and "**starves the model** |" in text and "documents in" in text
    assert "- replace / strict: starves the model" in text


def test_a_mitigation_that_never_acted_is_inactive_and_not_ranked_whatever_its_numbers():
    """0.4.0 ranked token-edit "prevents" where it had edited no token (under replace it handed the learner R
    unchanged). A row whose activity measures sit at their idle values in every generation and seed is
    inactive, though its numbers differ from none's; one that acted in some generation is compared."""
    spec = {"seeds": list(range(6)), "settings": {"replace": {"name": "replace"}},
            "models": {"ngram": {"watch": "heldout_ppl"}}}
    chosen = [mitigations.Point("ngram", "replace", m, {}) for m in ("none", "idle edit", "real edit")]
    grow = [[{"generation": t, "heldout_ppl": 10.0 * (1.5 + 0.1 * s) ** t} for t in range(4)] for s in range(6)]
    flat = [[{"generation": t, "heldout_ppl": 10.0 * (1.0 + 0.01 * s) ** t} for t in range(4)] for s in range(6)]
    groups = {("ngram", "replace", "none"): grow, ("ngram", "replace", "idle edit"): flat,
              ("ngram", "replace", "real edit"): flat}
    idle = {"edited_token_share": 0.0, "edited_document_share": 0.0}
    activity = {("ngram", "replace", "none"): [{}] * 24, ("ngram", "replace", "idle edit"): [idle] * 24,
                ("ngram", "replace", "real edit"): [idle] * 23 + [{"edited_token_share": 0.01,
                                                                   "edited_document_share": 0.1}]}
    rows = {r["mitigation"]: r for r in mitigations.leaderboard(spec, chosen, groups, seconds={},
                                                                  activity=activity)}
    assert rows["idle edit"]["verdict"] == "inactive" and rows["idle edit"]["stability"] is None
    assert rows["real edit"]["verdict"] == "prevents" and rows["real edit"]["p"] == pytest.approx(1 / 32)
    assert "edited token share 0.000417" in rows["real edit"]["activity"]
    text = mitigations.leaderboard_text(list(rows.values()), [], {"name": "t", "seeds": spec["seeds"],
                                                                  "generations": 4})
    table = [line for line in text.splitlines() if line.startswith("| replace |")]
    assert [line.split(" | ")[1] for line in table] == ["real edit", "none", "idle edit"]  # inactive: last
    assert "- replace / idle edit: activity (mean over generations and seeds): edited document share 0" in text


SMALL = ("none", "oracle-rejection noisy 0.2", "detector-importance beta 10", "self-correct 1", "temperature 0.7")


def _small_spec(tmp_path) -> Path:
    """The benchmark's protocol on the Markov chain only, four mitigations and two references (replay and mix 0.5,
the ends and middle of the real-share grid): seconds."""
    spec = load_spec("mitigations")
    spec["mitigations"] = {k: spec["mitigations"][k] for k in SMALL}
    spec["references"] = {k: spec["references"][k] for k in ("replay", "mix 0.5")}
    spec["reproduce_first"] = {k: spec["reproduce_first"][k] for k in ("oracle-rejection", "self-correct 1")}
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow  # about 12 s: the default run keeps to its 5 minutes; CI runs it
def test_a_plugin_gate_is_a_row_of_the_leaderboard(tmp_path):
    out = tmp_path / "board"
    result = cli("reproduce", _small_spec(tmp_path), "--quick", "--model", "ngram-markov", "--plugin", PLUGIN,
                 "--out", out, "--workers", "2", "-q")
    assert result.returncode == 0, result.stderr
    with open(out / "leaderboard.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert set(mitigations.COLUMNS[:9]) <= set(rows[0]) and {"cost_ratio", "verdict"} <= set(rows[0])
    mine = {(r["setting"], r["mitigation"]): r for r in rows}
    assert set(mine) == {(s, m) for s in ("replace", "accumulate-subsample r=1") for m in (*SMALL, "short")} | \
        {("reference", "replay"), ("reference", "mix 0.5")}
    number = lambda text: float(text) if text not in ("", None) else None  # noqa: E731
    for setting in ("replace", "accumulate-subsample r=1"):
        short = mine[(setting, "short")]
        # the chain's documents are all shorter than the gate's limit: it passed every one, the runs equal
        # none's in every seed, and the row says the gate never acted instead of ranking it (0.4.0: "no effect")
        assert float(short["acceptance_rate"]) == 1.0 and short["verdict"] == "inactive"
        assert float(short["effect"]) == 1.0 and float(short["cost_ratio"]) > 0
        assert float(short["contribution"]) == 1.0  # as many documents entered as without a gate
        assert float(short["final_ratio_lo"]) <= float(short["final_ratio"]) <= float(short["final_ratio_hi"])
        assert mine[(setting, "none")]["verdict"] == "baseline"
        noisy = mine[(setting, "oracle-rejection noisy 0.2")]
        # good and bad are defined apart from the acceptance rule, so Feng et al.'s rates are measured: the
        # noisy oracle keeps good candidates more often than bad ones, but neither always nor never (0.4's
        # verifier: phi 1, psi 0 by construction)
        assert 0.05 < float(noisy["keep_bad"]) < float(noisy["keep_good"]) < 0.95
        assert float(noisy["breakdown_point"]) == pytest.approx(
            1 / (1 + float(noisy["keep_bad"]) / float(noisy["keep_good"])))
        # 3 seeds: no sign-flip p-value is below 2/8, so nothing is detected and no effect can be shown
        assert noisy["mde"] == "inf" and float(noisy["p"]) >= 0.25 and noisy["verdict"] in ("not detected",
                                                                                             "uncertain")
        # Drayson et al.'s resampling keeps R in the pool: more real text reaches the learner than under none,
        # so the row is matched against mix at its own realised share; its detector's AUC is reported
        resampled, base = mine[(setting, "detector-importance beta 10")], mine[(setting, "none")]
        assert number(resampled["real_share"]) > number(base["real_share"]) + 0.05
        assert number(resampled["vs_mix"]) > 0 and number(resampled["matched_share"]) == number(resampled["real_share"])
        # (on this tiny chain the bigram's text is nearly the truth's: the detector sits near chance, AUC ~0.4-0.6,
        # which is what the column is for)
        assert 0 <= number(resampled["detector_auc"]) <= 1
        assert "corrected share" in mine[(setting, "self-correct 1")]["activity"]
    assert number(mine[("reference", "replay")]["real_share"]) == 1.0
    assert number(mine[("replace", "none")]["real_share"]) == 0.0
    assert number(mine[("reference", "mix 0.5")]["real_share"]) == pytest.approx(0.5, abs=0.1)  # tokens, not documents
    board = json.loads((out / "leaderboard.json").read_text())
    assert len(board["rows"]) == len(rows) and {r["mitigation"] for r in board["rows"]} >= {"short", "none"}
    first = {x["mitigation"]: x for x in board["reproduce_first"]}
    assert set(first) == {"oracle-rejection", "self-correct 1"}
    assert first["oracle-rejection"]["reproduces"] == "not run"  # the regime's row is not in this spec
    assert first["self-correct 1"]["model"] == "ngram-markov"
    reproduces = first["self-correct 1"]["reproduces"]
    assert reproduces == "not detected" or reproduces.startswith("uncertain")  # 3 seeds: nothing detected
    text = (out / "leaderboard.md").read_text()
    assert "| replace | short |" in text and "breakdown point" in text and "## Reproduce first" in text
    assert "| real share | vs mix | calibrated | verdict |" in text
    assert (out / "summary.png").stat().st_size > 10_000 and (out / "report-ngram-markov.html").is_file()
    shown = cli("show", out, "--plugin", PLUGIN)
    assert shown.returncode == 0 and "short" in shown.stdout and "baseline" in shown.stdout, shown.stderr
    assert "Reproduce first" in shown.stdout and "real share" in shown.stdout
    assert lmcollapse.open_results(out).seeds == [0, 1, 2]
    # sweep.json names the study: `report` opens with its leaderboard, and another study may not take the folder
    assert lmcollapse.open_results(out).manifest["study"] == "mitigations"
    reported = cli("report", out, "--out", tmp_path / "board.html", "--plugin", PLUGIN)
    assert reported.returncode == 0 and "breakdown point" in (tmp_path / "board.html").read_text(), reported.stderr
    taken = cli("reproduce", "quality-vs-quantity", "--quick", "--out", out, "-q")
    assert taken.returncode == 2 and f"--out {out} holds the mitigations study, not the quality-vs-quantity study" \
        in taken.stderr, taken.stderr


def test_unknown_models_are_refused_in_one_line():
    result = cli("reproduce", "mitigations", "--model", "gpt,lstm", "--dry-run")
    assert result.returncode == 2 and "--model 'lstm'" in result.stderr and result.stderr.count("\n") == 1


def test_shared_bases_are_refused_where_no_row_fine_tunes_a_base(tmp_path):
    """--bases names where fine-tuning rows find their bases; asked of rows that train from scratch, it would
    silently do nothing (tests/test_paper.py shows two studies sharing one folder)."""
    result = cli("reproduce", "mitigations", "--model", "ngram,gpt", "--bases", tmp_path, "--dry-run")
    assert result.returncode == 2 and "--bases applies to rows that fine-tune" in result.stderr
    assert result.stderr.count("\n") == 1
    fine = cli("reproduce", "mitigations", "--model", "gpt-finetune", "--bases", tmp_path, "--dry-run")
    assert fine.returncode == 0, fine.stderr


def test_a_dry_run_on_a_study_folder_gives_the_refusal_the_real_run_would(tmp_path):
    """Run directories are named by their configs, and a fine-tuning row's config holds its bases' folder: on a
    folder that holds the study, another --bases names other runs, which the real command refuses (a sweep may
    only grow). --dry-run once called every config valid there; it now says what the command would."""
    from lmcollapse.studies import load_spec
    from lmcollapse.studies.base import study_named
    from lmcollapse.studies.execution import SHARED_BASES, study_sweep_spec
    from lmcollapse.sweep.plan import plan, write_manifest

    out, bases = tmp_path / "board", tmp_path / "bases"
    spec = {**load_spec("mitigations"), SHARED_BASES: str(bases.resolve())}
    study = study_named(spec)
    runs = study.planned_runs(spec, quick=True, scale="cpu", models=("gpt-finetune",), out=out)
    write_manifest(plan(study_sweep_spec(study.name, *runs), out))  # the folder as a started study leaves it
    same = cli("reproduce", "mitigations", "--quick", "--model", "gpt-finetune", "--bases", bases, "--out", out,
               "--dry-run")
    assert same.returncode == 0, same.stderr
    planned = len(runs[0]) * len(runs[1])
    assert f"{out} holds 0 of these {planned} runs (they resume or are kept); {planned} start" in same.stdout
    other = cli("reproduce", "mitigations", "--quick", "--model", "gpt-finetune", "--bases", tmp_path / "other",
                "--out", out, "--dry-run")
    assert other.returncode != 0 and f"--out {out} holds a sweep this spec changes" in other.stderr
    assert f"({planned} such runs; " in other.stderr and "another --bases" in other.stderr
    assert other.stderr.count("\n") == 1
    foreign = cli("reproduce", "mitigations", "--quick", "--model", "gpt-finetune", "--bases", bases, "--out",
                  bases.parent, "--dry-run")  # a folder that holds other things: refused as the real run is
    assert foreign.returncode != 0 and "holds something other than a sweep" in foreign.stderr
    # under --seeds auto a rerun starts from the seeds power added to the folder, and so does the dry run
    grown = max(runs[1]) + 1
    write_manifest(plan(study_sweep_spec(study.name, runs[0], [*runs[1], grown]), out))
    auto = cli("reproduce", "mitigations", "--quick", "--model", "gpt-finetune", "--bases", bases, "--out", out,
               "--seeds", "auto", "--dry-run")
    assert auto.returncode == 0, auto.stderr
    assert f"holds 0 of these {len(runs[0]) * (len(runs[1]) + 1)} runs" in auto.stdout


@pytest.mark.slow  # every model, every mitigation, tiny: a few minutes on 2 cores; CI runs it
def test_quick_benchmark_runs_end_to_end(tmp_path):
    out = tmp_path / "mq"
    result = cli("reproduce", "mitigations", "--quick", "--out", out, "--workers", "2", "-q")
    assert result.returncode == 0, result.stderr
    board = json.loads((out / "leaderboard.json").read_text())
    rows = {(r["model"], r["setting"], r["mitigation"]): r for r in board["rows"]}
    chosen, skipped = mitigations.points(mitigations.effective_spec(load_spec("mitigations"), quick=True))
    assert set(rows) == {tuple(p.tags.values()) for p in chosen} and len(board["does_not_apply"]) == len(skipped)
    assert all(r["verdict"] in ("baseline", "prevents", "delays", "no effect", "harms", "starves the model",
                                "not detected", "inactive", "uncertain", "too few seeds") for r in rows.values())
    # 3 seeds: no paired difference can reach significance, so the new rules claim none (docs/statistics.md)
    assert not any(r["verdict"] in ("prevents", "delays", "harms") for r in rows.values())
    assert all(r["mde"] == float("inf") for r in rows.values() if r.get("mde") is not None)
    gpt = rows[("gpt", "replace", "none")]
    assert gpt["downstream_gap"] is not None and gpt["final_ratio"] > 1  # the GPT degrades without mitigation
    measured = [r for r in rows.values() if not r["note"]]  # a starved row (its gates passed nothing) has no ratio
    assert all(0 < r["final_ratio_lo"] <= r["final_ratio"] <= r["final_ratio_hi"] for r in measured)
    assert all(r["verdict"] == "starves the model" and "starves the model" in r["note"]
               for r in rows.values() if r["note"])
    assert ("gpt", "replace", "tce 20%") in rows and (out / "report-gpt.html").is_file()
    # the fine-tuning regime and the neural known-truth setting are rows too; tce reports what it masked (its
    # gamma calibrated on generation 0 to mask that share), toedit what it edited, the oracle its acceptance
    # (the activity a row is judged inactive by)
    tce = rows[("gpt-finetune", "replace", "tce 20%")]
    assert "masked token share" in tce["activity"] and tce["calibrated"].startswith("model.tce_gamma")
    toedit = rows[("gpt-finetune", "replace", "toedit 5%")]
    assert "edited token share" in toedit["activity"] and "gates.token-edit.threshold" in toedit["calibrated"]
    assert "acceptance" in rows[("gpt-markov", "replace", "oracle-rejection")]["activity"]
    oracle = rows[("ngram-markov", "replace", "oracle-rejection")]  # phi and psi measured, not implied
    assert 0 < oracle["keep_bad"] < oracle["keep_good"] < 1
    assert rows[("gpt-markov", "replace", "oracle-rejection")]["keep_bad"] is not None  # (the quick GPT writes
    # almost no document as likely under the truth as R's 10% quantile, so its phi may have nothing to count)
    assert {x["mitigation"] for x in board["reproduce_first"]} == set(load_spec("mitigations")["reproduce_first"])
    assert rows[("gpt-markov", "replace", "none")]["watch"] == "kl_to_truth"
    assert len([b for b in (out / "bases").iterdir() if b.is_dir()]) == 3  # one base per seed, shared by rows
    with pytest.raises(LmcollapseError, match="unknown experiment"):
        load_spec("mitigation")


@pytest.mark.parametrize("missing, library, first", [
    ("sklearn", "scikit-learn", "gpt / replace / detector-importance beta 10"),  # 0.4.0: those rows quietly became "does not apply"
    ("torch", "PyTorch", "gpt / replace / none"),
])
def test_a_missing_library_refuses_the_benchmark_whichever_rows_need_it(monkeypatch, missing, library, first):
    from lmcollapse import extras

    real = extras.installed
    monkeypatch.setattr(extras, "installed", lambda module: module != missing and real(module))
    with pytest.raises(LmcollapseError) as refused:
        mitigations.points(mitigations.effective_spec(load_spec("mitigations")))
    message = str(refused.value)
    assert f"need {library}, which is not installed" in message and first in message
    assert "pip install 'lmcollapse[" in message and "\n" not in message


@pytest.mark.slow  # two rounds of the benchmark on the Markov chain: about 8 s
def test_seeds_by_power_extend_every_row_up_to_the_budget_and_name_the_rows_short_of_their_target(tmp_path):
    spec = yaml.safe_load(_small_spec(tmp_path).read_text())
    spec["power"] = {"target_mde": {"ngram-markov": 1.01}, "seed_budget": 5}  # a target no row reaches
    path = tmp_path / "power.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "board"
    result = cli("reproduce", path, "--quick", "--model", "ngram-markov", "--seeds", "auto", "--out", out,
                 "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "seeds by power: 3 seeds leave rows short of their target MDE; extending every row to 5 seeds" in \
        result.stderr
    assert lmcollapse.open_results(out).seeds == [0, 1, 2, 3, 4]
    with open(out / "leaderboard.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    compared = [r for r in rows if r["p"] not in ("", None) and r["verdict"] != "inactive"]
    assert compared and all(r["power"].endswith("at 5 seeds (the budget)") for r in compared)
    # run again (to re-judge, or after a kill): it starts from the 5 seeds the folder holds, not the spec's 3
    again = cli("reproduce", path, "--quick", "--model", "ngram-markov", "--seeds", "auto", "--out", out,
                "--workers", "2", "-q")
    assert again.returncode == 0, again.stderr
    assert lmcollapse.open_results(out).seeds == [0, 1, 2, 3, 4]
    refused = cli("reproduce", "quality-vs-quantity", "--seeds", "auto", "--dry-run")
    assert refused.returncode == 2 and "--seeds auto needs a power section in the spec" in refused.stderr


def test_a_data_keeping_row_is_matched_against_mix_at_its_own_real_share():
    """reweight-like rows keep real data: their gain over none may be nothing but that data. vs_mix divides a
    row's final ratio by mix's at the row's realised real share, interpolated per seed on the log scale
    between the grid's rows (replace's none at share 0, mix 0.5, replay at 1)."""
    seeds = range(8)
    spec = {"seeds": list(seeds), "settings": {"replace": {"name": "replace"}},
            "models": {"ngram": {"watch": "heldout_ppl"}},
            "reproduce_first": {"keeps 3/4": {"paper": "P", "claim": "c", "regime": ["ngram", "replace"]},
                                "keeps half": {"paper": "R", "claim": "e", "regime": ["ngram", "replace"],
                                               "expects": "higher"},
                                "absent": {"paper": "Q", "claim": "d", "regime": ["gpt", "replace"]}}}
    final = {"none": 4.0, "mix 0.5": 2.0, "replay": 1.0, "keeps 3/4": np.sqrt(2.0), "keeps half": 1.0}
    shares = {"none": 0.0, "mix 0.5": 0.5, "replay": 1.0, "keeps 3/4": 0.75, "keeps half": 0.5}
    chosen = [mitigations.Point("ngram", "reference" if m in ("mix 0.5", "replay") else "replace", m, {})
              for m in final]
    groups = {tuple(p.tags.values()): [[{"generation": 0, "heldout_ppl": 10.0},
                                        {"generation": 1, "heldout_ppl": 10.0 * final[p.mitigation] * (1 + 0.01 * s)}]
                                       for s in seeds] for p in chosen}
    real_share = {tuple(p.tags.values()): shares[p.mitigation] for p in chosen}
    rows = {r["mitigation"]: r for r in mitigations.leaderboard(spec, chosen, groups, seconds={},
                                                                  real_share=real_share)}
    # halfway between mix 0.5 (ratio 2) and replay (1) on the log scale: sqrt(2), the row's own ratio
    assert rows["keeps 3/4"]["vs_mix"] == pytest.approx(1.0) and rows["keeps 3/4"]["matched_share"] == 0.75
    assert rows["keeps half"]["vs_mix"] == pytest.approx(0.5)  # half of mix 0.5's ratio at the same share
    assert rows["keeps half"]["effect"] == pytest.approx(0.25)  # against none: mostly the data it kept
    assert rows["none"].get("vs_mix") is None and rows["replay"].get("vs_mix") is None  # baseline, references
    first = {x["mitigation"]: x for x in mitigations.reproduce_first(list(rows.values()), spec)}
    assert first["keeps 3/4"]["reproduces"] == "yes" and first["keeps 3/4"]["effect"] == pytest.approx(
        np.sqrt(2) / 4, rel=1e-3)  # 8 paired seeds, every one lower: Holm-adjusted p = 4 x 2/256 < 0.05
    assert first["keeps half"]["reproduces"] == "no"  # its paper predicted the metric higher than none's
    with pytest.raises(LmcollapseError, match="reproduce_first: 'absent' needs paper, claim, regime"):
        mitigations.check_reproduce_first({"reproduce_first": {"absent": {"paper": "Q", "regime": "gpt"}}})
    assert first["absent"]["reproduces"] == "not run"
    assert mitigations.calibrated_text({"model.tce_gamma": [0.9, 0.8]}) == "model.tce_gamma 0.85 (0.8-0.9)"
