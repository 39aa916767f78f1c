import json
import subprocess
import sys

import pytest

from conftest import small_truth_config


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lmcollapse.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_bare_run_is_the_demo_and_says_where_results_are(tmp_path):
    result = cli("run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "built-in demo" in result.stderr and "results: runs/kjv-replace-" in result.stdout
    run_dir = next((tmp_path / "runs").iterdir())
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 10
    # The demo shows collapse: held-out perplexity rises and real n-grams are lost, generation after generation.
    ppl = [r["heldout_ppl"] for r in rows]
    assert all(b > a for a, b in zip(ppl, ppl[1:]))
    assert rows[-1]["support_fraction"] < 0.5 * rows[0]["support_fraction"]
    again = cli("run", cwd=tmp_path)  # same config: resumes the finished run, does no work
    assert again.returncode == 0 and "done (" not in again.stderr


def test_run_show_validate_ls(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(small_truth_config()))
    out = tmp_path / "run"
    assert cli("run", config, "--out", out, "--set", "generations=2", "-q").returncode == 0
    shown = cli("show", out, "--json")
    rows = [json.loads(l) for l in shown.stdout.splitlines()]
    assert [r["generation"] for r in rows] == [0, 1] and "kl_to_truth" in rows[0]
    assert "KL" in cli("show", out).stdout
    valid = cli("validate", config, "--set", "model.order=2")
    assert valid.returncode == 0 and "order: 2" in valid.stdout
    listing = cli("ls").stdout
    for name in ("kjv", "tinystories", "markov", "ngram", "accumulate-subsample", "support_fraction", "word"):
        assert name in listing


@pytest.mark.parametrize("args, message", [
    (["run", "--set", "corpus.n_train=-5"], "error: corpus.n_train: input should be greater than or equal to 1"),
    (["run", "--set", "model.name=gpt9"], "error: model.name: unknown model 'gpt9'"),
    (["run", "missing.yaml"], "error: config file missing.yaml does not exist"),
    (["run", "--set", "corpus.name=files", "--set", "corpus.path=empty.txt"], "error: corpus empty.txt contains no documents"),
    (["show", "nowhere"], "error: nowhere does not exist; give a run directory or a sweep folder"),
    (["ls", "gadgets"], "error: unknown kind 'gadgets'"),
    (["run", "--set", "paradigm.real_fraction=0.3"],
     "error: paradigm.real_fraction: does not apply to paradigm 'replace' (only to mix)"),
    (["run", "--set", "tokenizer.vocab_size=3000"], "error: tokenizer.vocab_size: does not apply to tokenizer 'word' "
                                                   "(only to bpe)"),
    # counts that round to nothing: 0.4.0 started the run (and validate, sweep --dry-run called it valid)
    (["run", "--set", "paradigm.name=accumulate-subsample", "--set", "paradigm.rate=0.001", "--set",
      "corpus.n_train=200"], "error: paradigm.rate x corpus.n_train = 0.001 x 200 rounds to 0 documents"),
    (["validate", "--set", "paradigm.name=fresh", "--set", "paradigm.fresh_fraction=0.001", "--set",
      "corpus.name=categorical", "--set", "corpus.doc_length=5", "--set", "corpus.n_train=200"],
     "error: paradigm.fresh_fraction x corpus.n_train = 0.001 x 200 rounds to 0 documents"),
    (["sweep", "--grid", "paradigm.rate=0.5,0.001", "--set", "paradigm.name=accumulate-subsample", "--set",
      "corpus.n_train=200", "--dry-run"], "error: sweep axis --grid paradigm.rate = 0.001: paradigm.rate x"),
])
def test_bad_input_is_one_line_and_nonzero_exit(tmp_path, args, message):
    (tmp_path / "empty.txt").write_text("")
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing half-made


@pytest.mark.parametrize("args, message", [
    (["run", "--bogus"], "No such option: --bogus"),
    (["show"], "Missing argument 'run_dir'"),
    (["nosuchcmd"], "No such command 'nosuchcmd'"),
    (["run", "--seeds", "0-1", "--workers", "x"], "Invalid value for '--workers'"),
])
def test_usage_errors_are_the_usage_message_and_exit_2(args, message):
    result = cli(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 4, result.stderr
    assert result.stderr.startswith("Usage: lmcollapse") and message in result.stderr


def test_version():
    import lmcollapse

    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"lmcollapse {lmcollapse.__version__}"
