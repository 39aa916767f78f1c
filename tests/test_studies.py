"""The study registry: `reproduce`, `show` and `report` find a study through it (the spec's `kind`, the name
sweep.json records), and a folder written before sweep.json named its study is recognised by its tags."""
import json

import pytest

from lmcollapse.errors import LmcollapseError
from lmcollapse.studies import load_spec
from lmcollapse.studies.base import STUDIES, Study, study_named, study_of
from lmcollapse.sweep import Sweep, SweepDir

from helpers import cli


def test_every_shipped_spec_names_a_registered_study_and_each_plans_its_runs():
    assert STUDIES.names() == ["direction", "mitigations", "paper", "quality-vs-quantity"]
    for name in STUDIES.names():
        study = study_named(load_spec(name))
        assert isinstance(study, Study) and study.name == name
        planned = study.planned(load_spec(name), quick=True, scale="cpu", models=study.models)
        labels = planned.points  # a label per variant, every config valid
        assert len(labels) >= 7 and len(set(labels)) == len(labels) and len(planned.seeds) >= 2
        assert planned.runs == len(labels) * len(planned.seeds)
        folder = SweepDir("out")
        assert study.outcome_file(folder).parent == folder.path and study.outcome_file(folder).suffix == ".md"
    with pytest.raises(LmcollapseError, match="kind 'survey' is not a study; set kind: to one of: direction"):
        study_named({"name": "mine", "kind": "survey"})


def _folder(tmp_path, manifest: dict):
    (tmp_path / "sweep.json").write_text(json.dumps({"format": 1, "points": [], "runs": [], **manifest}))
    return Sweep(tmp_path)


def test_the_study_of_a_folder_is_the_one_sweep_json_names_or_for_an_older_folder_the_one_its_tags_say(tmp_path):
    assert study_of(_folder(tmp_path, {"study": "paper", "tag_columns": ["setting", "variant"]})).name == "paper"
    assert study_of(_folder(tmp_path, {"study": None, "tag_columns": ["model", "policy"]})) is None  # a plain sweep
    older = {"tag_columns": ["setting", "variant"]}  # written by 0.4.0: no study key
    assert study_of(_folder(tmp_path, older)).name == "quality-vs-quantity"
    assert study_of(_folder(tmp_path, {"tag_columns": ["model", "setting", "mitigation"]})).name == "mitigations"
    assert study_of(_folder(tmp_path, {"tag_columns": []})) is None


def test_a_study_without_models_or_scales_refuses_those_options_in_one_line():
    for args, message in ((["--model", "gpt"], "--model applies to the studies that run several models, not "
                                               "quality-vs-quantity"),
                          (["--scale", "paper"], "--scale 'paper': quality-vs-quantity runs at cpu")):
        result = cli("reproduce", "quality-vs-quantity", "--quick", "--dry-run", *args)
        assert result.returncode == 2 and result.stderr.strip() == f"error: {message}", result.stderr
    dry = cli("reproduce", "quality-vs-quantity", "--quick", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.splitlines()[:2] == [
        "quality-vs-quantity quick: 7 points x 3 seeds (0-2) = 21 runs, every config valid; --out "
        "runs/reproduce-quality-vs-quantity-quick", "  markov/rate 1"]


def test_the_benchmarks_dry_run_counts_seeds_and_runs_and_says_what_it_leaves_out():
    """0.4.0 printed one 2,341-character line with neither the seeds, the number of runs nor the folder."""
    dry = cli("reproduce", "mitigations", "--quick", "--dry-run", "--out", "board")
    lines = dry.stdout.splitlines()
    assert dry.returncode == 0 and lines[0] == ("mitigations quick: 132 points x 3 seeds (0-2) = 396 runs, every "
                                                "config valid; --out board")
    assert [line.split(" under ")[1].split(" (")[0] for line in lines[1:7]] == [
        "gpt / replace", "gpt / accumulate-subsample r=1", "gpt-finetune / replace",
        "gpt-finetune / accumulate-subsample r=1", "gpt-markov / replace", "gpt-markov / accumulate-subsample r=1"]
    assert lines[1].startswith("not run: 8 rows cut from the CPU run under gpt / replace (")
    assert lines[7].startswith("not run: 59 rows whose mitigation does not apply")
    assert len(lines) == 8 + 132 and max(len(line) for line in lines) < 300
    assert "and 18 more" in lines[6]  # 23 rows cut there: the first five named


@pytest.mark.parametrize("study,model,scale,spec_seeds", [("direction", "gpt", "cpu-eos", "0-2"),
                                                          ("mitigations", "gpt-markov", "markov-verifiers", "0-7")])
def test_seeds_given_on_the_command_line_replace_a_scales_own(study, model, scale, spec_seeds):
    """A scale that names its seeds used to win over --seeds, silently rerunning the scale's seeds."""
    args = ("reproduce", study, "--model", model, "--scale", scale, "--dry-run")
    assert f"seeds ({spec_seeds}) =" in cli(*args).stdout.splitlines()[0]
    assert "4 seeds (3-5,9) =" in cli(*args, "--seeds", "3-5,9").stdout.splitlines()[0]
