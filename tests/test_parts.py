"""running/parts.py: a config becomes the parts of a run, checked once per command."""
import pytest
from typer.testing import CliRunner

import lmcollapse.running.parts as experiment
from lmcollapse.cli import app


@pytest.fixture
def checks(monkeypatch):
    """Counts experiment.check calls (every command path goes through it)."""
    calls = []
    original = experiment.check

    def counting(config):
        calls.append(config)
        return original(config)

    monkeypatch.setattr(experiment, "check", counting)
    return calls


@pytest.mark.parametrize("steps", [
    [["--set", "generations=2"]],  # a fresh start
    [["--set", "generations=2"], ["--set", "generations=3"]],  # extended
    [["--set", "generations=2"], []],  # resumed from the folder's own config
    [["--set", "generations=2"], ["--set", "generations=2"]],  # finished: nothing to do
])
def test_each_command_checks_its_config_once(tmp_path, checks, steps):
    out = tmp_path / "run"
    for args in steps:
        checks.clear()
        result = CliRunner().invoke(app, ["run", "--quiet", "--out", str(out), "--set", "corpus.n_train=120",
                                          "--set", "corpus.n_eval=40", *args] if args else
                                    ["run", "--quiet", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert len(checks) == 1, f"{args}: checked {len(checks)} times"
