"""A user's own component from a file outside the package (`--plugin`, tests/plugins/short_gate.py): named in
a config, checked by its registry's contract, loaded in every worker of a seed group, and refused in one
line when it is missing or broken."""
import json
from pathlib import Path

import lmcollapse
from lmcollapse import plugins
from lmcollapse.running.rundir import RunDir

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


MODEL_PLUGIN = Path(__file__).parent / "plugins" / "subset_ngram.py"
PARADIGM_PLUGIN = Path(__file__).parent / "plugins" / "anchor_paradigm.py"
SMALL = {"generations": 2, "corpus": {"n_train": 60, "n_eval": 30}, "ci_rounds": 0, "save_models": True}


def _run(tmp_path, name, settings, *plugin):
    config = tmp_path / f"{name}.yaml"
    config.write_text(json.dumps({**SMALL, **settings}))
    result = cli("run", config, *(a for p in plugin for a in ("--plugin", p)), "--out", tmp_path / name, "-q")
    assert result.returncode == 0, result.stderr
    # Read back as files: loading the plugin into this process would leave it registered for later tests.
    return RunDir(tmp_path / name).read_metrics_jsonl()


def test_a_plugin_model_with_its_own_section_is_built_from_it_and_saved_with_it(tmp_path):
    """A subclass of the count model under a new name, its section extending NGramConfig by one key."""
    subset = _run(tmp_path, "subset", {"model": {"name": "subset-ngram", "fit_share": 0.5}}, MODEL_PLUGIN)
    plain = _run(tmp_path, "plain", {})
    saved = json.loads((RunDir(tmp_path / "subset").generation(0).model / "params.json").read_text())
    assert saved["name"] == "subset-ngram" and saved["config"]["fit_share"] == 0.5 and saved["config"]["order"] == 2
    # Fitted on 30 of the 60 real documents, generation 0 predicts held-out text worse than the full fit.
    assert subset[0]["heldout_ppl"] > 1.05 * plain[0]["heldout_ppl"]
    # The key belongs to the plugin's section only: on the built-in model it is refused in one line.
    config = tmp_path / "plain.yaml"
    refused = cli("validate", config, "--plugin", MODEL_PLUGIN, "--set", "model.fit_share=0.3")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "model.fit_share: does not apply to model 'ngram' (only to subset-ngram)" in refused.stderr
    unloaded = cli("validate", tmp_path / "subset.yaml")  # named without loading the plugin: says how to
    assert unloaded.returncode == 2 and "unknown model 'subset-ngram'" in unloaded.stderr
    assert "--plugin PATH" in unloaded.stderr and unloaded.stderr.count("\n") == 1


def test_a_plugin_paradigm_with_its_own_section_decides_what_each_generation_trains_on(tmp_path):
    run = _run(tmp_path, "anchor", {"paradigm": {"name": "anchor", "anchor_share": 0.25}}, PARADIGM_PLUGIN)
    assert "name: anchor\n  anchor_share: 0.25" in (tmp_path / "anchor" / "config.yaml").read_text()
    # 15 fixed real documents beside the 60 generated ones: a fifth of the training set, every generation.
    assert [m["real_fraction"] for m in run] == [1.0, 0.2]
    config = tmp_path / "anchor.yaml"
    wrong = cli("validate", config, "--plugin", PARADIGM_PLUGIN, "--set", "paradigm.anchor_share=2")
    assert wrong.returncode == 2 and "paradigm.anchor_share" in wrong.stderr and wrong.stderr.count("\n") == 1
    elsewhere = cli("validate", config, "--plugin", PARADIGM_PLUGIN, "--set", "paradigm.name=mix")
    assert elsewhere.returncode == 2 and "does not apply to paradigm 'mix' (only to anchor)" in elsewhere.stderr
