"""A user's own component from a file outside the package (`--plugin`, tests/plugins/short_gate.py): named in
a config, checked by its registry's contract, loaded in every worker of a seed group, and refused in one
line when it is missing or broken."""
import json
from pathlib import Path

import lmcollapse
from lmcollapse import plugins

from helpers import cli

PLUGIN = Path(__file__).parent / "plugins" / "short_gate.py"
CONFIG = {"generations": 3, "corpus": {"n_train": 60, "n_eval": 30}, "ci_rounds": 0,
          "gates": [{"name": "short", "max_tokens": 12}], "save_models": False}


def test_a_plugin_gate_filters_a_run_and_every_seed_of_a_group(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(CONFIG))
    single = cli("run", config, "--plugin", PLUGIN, "--out", tmp_path / "one", "-q")
    assert single.returncode == 0, single.stderr
    shown = cli("show", tmp_path / "one", "--plugin", PLUGIN)  # the readers take the plugin too
    assert shown.returncode == 0 and "early warning" in shown.stdout, shown.stderr
    assert "--plugin PATH" in cli("show", tmp_path / "one").stderr  # and say so when it is missing
    plugins.load(str(PLUGIN))  # the Python API: load it once in this process
    run = lmcollapse.load_run(tmp_path / "one")
    assert run.metrics[0]["acceptance_rate"] < 0.6  # the gate rejected most of generation 0's documents
    assert all(run.samples(t, kept_only=True).lengths.max() <= 12 for t in range(3))  # and kept what it allows
    assert run.samples(0).lengths.max() > 12
    group = cli("run", config, "--plugin", PLUGIN, "--seeds", "0-1", "--workers", "2", "--out", tmp_path / "two",
                "-q")
    assert group.returncode == 0, group.stderr  # the pool's workers imported the plugin too
    sweep = lmcollapse.open_results(tmp_path / "two")
    assert [lmcollapse.load_run(d).metrics[0]["acceptance_rate"] < 1 for d in sweep.points[0].run_dirs] == [True, True]


def test_without_the_plugin_or_with_a_broken_one_the_error_is_one_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(CONFIG))
    missing = cli("validate", config)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "unknown gate 'short'" in missing.stderr and "--plugin PATH" in missing.stderr
    assert cli("validate", config, "--plugin", PLUGIN).returncode == 0
    no_file = cli("validate", config, "--plugin", tmp_path / "nowhere.py")
    assert no_file.returncode == 2 and "no such file" in no_file.stderr
    no_module = cli("validate", config, "--plugin", "no_such_module_here")
    assert no_module.returncode == 2 and "no module of that name" in no_module.stderr
    broken = tmp_path / "broken.py"  # a gate that does not keep the Filter contract (no keep method)
    broken.write_text(PLUGIN.read_text().replace("def keep(", "def kept("))
    refused = cli("validate", config, "--plugin", broken)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "does not implement keep of the Gate contract" in refused.stderr


def test_gates_that_pass_nothing_under_replace_stop_the_run_in_one_line(tmp_path):
    """Markov documents are 20 tokens long: a gate keeping at most 5 passes none, and replace keeps only new
    documents, so generation 1 has nothing to train on; the error says so (not "empty corpus")."""
    config = tmp_path / "config.yaml"
    markov = {"name": "markov", "vocab_size": 6, "doc_length": 20, "n_train": 50, "n_eval": 20}
    config.write_text(json.dumps({**CONFIG, "corpus": markov, "gates": [{"name": "short", "max_tokens": 5}]}))
    result = cli("run", config, "--plugin", PLUGIN, "--out", tmp_path / "run", "-q")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "generation 1 has no document to train on: the gates passed none" in result.stderr
