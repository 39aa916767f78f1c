"""A config that needs an optional dependency which is not installed is refused when it is checked (validate,
run, sweep --dry-run, reproduce --dry-run), in one line naming the extra to install, before anything runs."""
import subprocess
import sys

import pytest

from lmcollapse import extras
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config

# torch and transformers made unimportable by a finder ahead of the real ones (not by None in sys.modules, which
# libraries that look there for torch, as scipy's array API helpers do, take for an imported module).
WITHOUT_TORCH = """
import sys
class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Absent())
from lmcollapse.cli import main
sys.argv = ["lmcollapse", *sys.argv[1:]]
main()
"""


def cli_without_torch(*args, cwd=None):
    """The command as a user who ran only `pip install -e .` meets it: torch and transformers absent."""
    return subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.mark.parametrize("config, message", [
    ({"model": {"name": "gpt"}}, "model.name=gpt needs PyTorch, which is not installed: pip install 'lmcollapse[gpt]'"),
    ({"model": {"name": "hf"}}, "model.name=hf needs transformers and PyTorch, which is not installed: pip install "
                                "'lmcollapse[hf]'"),
    ({"corpus": {"name": "tinystories"}}, "corpus.name=tinystories needs HF datasets"),
    ({"metrics": ["embedding_diversity"]}, "metrics: embedding_diversity needs the sentence-embedding model"),
])
def test_a_missing_extra_is_named_when_the_config_is_checked(config, message, monkeypatch):
    monkeypatch.setattr(extras, "installed", lambda module: False)
    with pytest.raises(LmcollapseError) as err:
        load_config(config)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_neural_path_after_a_plain_install_says_what_to_install_before_anything_runs(tmp_path):
    config = "configs/cpu-gpt.yaml"
    root = __import__("pathlib").Path(__file__).parents[1]
    for args in (["validate", root / config], ["run", root / config, "--out", tmp_path / "r"],
                 ["sweep", root / config, "--grid", "model.n_layer=1,2", "--dry-run"],
                 ["sweep", root / config, "--grid", "model.n_layer=1,2", "--out", tmp_path / "s"],
                 ["run", root / config, "--seeds", "0-1", "--out", tmp_path / "seeds"],
                 ["reproduce", "paper", "--quick", "--dry-run"]):
        result = cli_without_torch(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "pip install 'lmcollapse[gpt]'" in result.stderr and "Traceback" not in result.stderr, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists() and not (tmp_path / "seeds").exists()
    counted = cli_without_torch("run", "--set", "generations=1", "--set", "corpus.n_train=20", "--set",
                                "corpus.n_eval=10", "--out", tmp_path / "count", "-q", cwd=tmp_path)
    assert counted.returncode == 0, counted.stderr  # the count model needs none of it
