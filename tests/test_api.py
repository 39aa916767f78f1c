"""The Python API: run(), resolve_config(), load_run() and open_results(), the one opener of what any command
wrote."""
import pytest

import lmcollapse
from lmcollapse.api import resolve_config
from lmcollapse.errors import LmcollapseError
from lmcollapse.sweep import Sweep, run_seeds

from conftest import small_truth_config


def test_open_results_tells_a_run_from_a_sweep_and_says_what_anything_else_is(tmp_path):
    run = lmcollapse.run(small_truth_config(), out_dir=tmp_path / "run")
    seeds = run_seeds(lmcollapse.load_config(small_truth_config()), [0, 1], tmp_path / "seeds", workers=1,
                      progress=False)
    assert isinstance(lmcollapse.open_results(run.path), lmcollapse.Run)
    opened = lmcollapse.open_results(seeds.path)
    assert isinstance(opened, Sweep) and opened.seeds == [0, 1] and len(opened.started_runs()) == 2
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    for path, message in [(tmp_path / "nowhere", "does not exist"), (tmp_path / "file", "is a file"),
                          (tmp_path / "empty", "not an lmcollapse run directory")]:
        with pytest.raises(LmcollapseError, match=message):
            lmcollapse.open_results(path)


def test_a_run_resumes_from_its_stored_config_when_none_is_given(tmp_path):
    lmcollapse.run(small_truth_config(generations=2), out_dir=tmp_path / "r")
    config, resuming = resolve_config(None, tmp_path / "r", ["generations=4"])
    assert resuming and config.generations == 4 and config.corpus.name == "categorical"
    demo, resuming = resolve_config(None, tmp_path / "new", [])
    assert not resuming and demo.corpus.name == "kjv"  # no run there: the built-in demo
    extended = lmcollapse.run(None, out_dir=tmp_path / "r", overrides=["generations=4"])
    assert extended.generations_done == 4
    assert extended.metrics[:2] == lmcollapse.load_run(tmp_path / "r").metrics[:2]


def test_the_run_handle_reads_every_generation_back(tmp_path):
    run = lmcollapse.run(small_truth_config(**{"paradigm.name": "accumulate", "paradigm.rate": 0.5}),
                         out_dir=tmp_path / "r")
    assert run.corpus(0).real_fraction() == 1.0 and len(run.corpus(2)) == 50 + 25 + 25
    assert len(run.samples(1)) == 25 and run.manifest(1).n_train == 75
    assert run.model(2).next_token_probs([]).sum() == pytest.approx(1.0)
    with pytest.raises(LmcollapseError, match="generation 3 is not committed"):
        run.model(3)
