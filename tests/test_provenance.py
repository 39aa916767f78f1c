"""The environment a run ran in is recorded with the run and with each generation (msprime-style provenance)."""
import json
from pathlib import Path

import lmcollapse

SRC = Path(lmcollapse.__file__).parent
DATA = Path(__file__).parent / "data"


def test_the_environment_is_recorded_with_the_run_and_each_generation(tmp_path):
    import numpy

    run = lmcollapse.run({"corpus": {"name": "markov", "vocab_size": 4, "doc_length": 4, "n_train": 50,
                                     "n_eval": 20}, "generations": 1}, out_dir=tmp_path / "r")
    environment = json.loads((run.path / "run.json").read_text())["environment"]
    assert environment["libraries"]["numpy"] == numpy.__version__ and environment["device"] == "cpu (numpy)"
    assert environment["python"].count(".") == 2
    manifest = json.loads((run.path / "gen-0000" / "manifest.json").read_text())
    assert manifest["environment"] == environment
