"""Run directories: atomic commits, resume after a kill at any moment, locking, clear refusals."""
import errno
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from filelock import FileLock

import lmcollapse
from lmcollapse.errors import LmcollapseError

from conftest import small_truth_config

KILL_CONFIGS = {
    # Text corpus, pooled paradigm: resume must rebuild the pool from stored documents.
    "kjv-accumulate-subsample": {"generations": 8, "corpus": {"name": "kjv", "n_train": 6000, "n_eval": 500},
                                 "model": {"order": 3}, "paradigm": {"name": "accumulate-subsample", "rate": 0.5}},
    # Known truth with fresh real data entering the pool every generation.
    "markov-fresh": {"generations": 8, "corpus": {"name": "markov", "vocab_size": 12, "order": 2, "doc_length": 40,
                                                  "n_train": 3000, "n_eval": 300},
                     "model": {"order": 3, "smoothing": 0.01}, "paradigm": {"name": "fresh", "rate": 0.5}},
    # Quality gates with oversampling; models not saved, so the perplexity gate's generation-0 reference
    # is refitted on resume and must equal the original.
    "kjv-gates": {"generations": 6, "corpus": {"name": "kjv", "n_train": 1500, "n_eval": 300}, "save_models": False,
                  "paradigm": {"name": "accumulate-subsample", "rate": 0.5},
                  "gates": ["dedup", {"name": "perplexity", "low": 0.1, "high": 0.9}, "reweight"]},
    # A neural model: resumed training and sampling must replay the same seeds on CPU.
    "kjv-gpt": {"generations": 6, "corpus": {"name": "kjv", "n_train": 600, "n_eval": 100},
                "tokenizer": {"name": "char"}, "sampler": {"max_tokens": 63},
                "model": {"name": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 64, "epochs": 2,
                          "lr": 0.003}},
}


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "lmcollapse.cli", *map(str, args)], capture_output=True,
                          text=True, **kwargs)


# One kill test runs by default; the others are `slow` (run in CI with -m slow).
KILL_CASES = [name if name == "markov-fresh" else pytest.param(name, marks=pytest.mark.slow)
              for name in sorted(KILL_CONFIGS)]


@pytest.mark.parametrize("name", KILL_CASES)
def test_sigkill_at_random_moments_then_resume_gives_identical_results(tmp_path, name):
    if "gpt" in name:
        pytest.importorskip("torch")
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(KILL_CONFIGS[name]))  # JSON is YAML
    reference = lmcollapse.run(config, out_dir=tmp_path / "reference")
    started = time.perf_counter()
    cli("run", config, "--out", tmp_path / "timing", "-q", check=True)
    full_time = time.perf_counter() - started

    # Kill moments follow the run's own progress, so a loaded machine cannot make the runs finish first:
    # each attempt waits until a target number of generations is committed (0, then further along), then
    # lets a random fraction of a generation's time pass, which lands anywhere inside a generation.
    generations = KILL_CONFIGS[name]["generations"]
    per_generation = full_time / generations
    rng = np.random.default_rng(7)
    out = tmp_path / "killed"
    kills = 0
    for target in sorted(rng.choice(generations - 1, size=4, replace=False)):
        proc = subprocess.Popen([sys.executable, "-m", "lmcollapse.cli", "run", str(config), "--out", str(out), "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and len(list(out.glob("gen-*[0-9]/DONE"))) < target:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.05, 0.9) * per_generation)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2, "the run finished before it could be killed; the test lost its point"
    result = cli("run", config, "--out", out, "-q")
    assert result.returncode == 0, result.stderr
    resumed = lmcollapse.load_run(out)
    assert resumed.metrics == reference.metrics
    last = reference.generations_done - 1
    assert np.array_equal(resumed.corpus(last).doc_id, reference.corpus(last).doc_id)
    assert np.array_equal(resumed.samples(last).tokens, reference.samples(last).tokens)


def test_resume_repairs_a_half_written_generation_and_metrics_file(tmp_path):
    config = small_truth_config(generations=4)
    reference = lmcollapse.run(config, out_dir=tmp_path / "ref")
    out = tmp_path / "run"
    lmcollapse.run(config, out_dir=out, overrides=["generations=2"])
    # Simulate a crash mid-generation: a partial directory, a stray temp file, a truncated metrics file.
    (out / "gen-0002.partial").mkdir()
    (out / "gen-0002.partial" / "samples.parquet").write_bytes(b"garbage")
    (out / "metrics.jsonl").write_text('{"generation": 0}\n{"genera')
    resumed = lmcollapse.run(None, out_dir=out, overrides=["generations=4"])
    assert resumed.metrics == reference.metrics
    assert not list(out.glob("*.partial"))


def test_extending_a_finished_run_equals_running_longer(tmp_path):
    short = lmcollapse.run(small_truth_config(generations=2), out_dir=tmp_path / "a")
    longer = lmcollapse.run(None, out_dir=short.path, overrides=["generations=5"])
    straight = lmcollapse.run(small_truth_config(generations=5), out_dir=tmp_path / "b")
    assert longer.metrics == straight.metrics and len(longer.metrics) == 5


def test_a_locked_run_directory_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with FileLock(str(out / ".lock")):
        with pytest.raises(LmcollapseError, match="in use by another lmcollapse process"):
            lmcollapse.run(small_truth_config(), out_dir=out)


def test_a_different_config_in_the_same_directory_is_refused(tmp_path):
    lmcollapse.run(small_truth_config(), out_dir=tmp_path / "run")
    with pytest.raises(LmcollapseError, match=r"different config \(model.order: 1 there, 2 now\)"):
        lmcollapse.run(small_truth_config(**{"model.order": 2}), out_dir=tmp_path / "run")


def test_a_run_directory_from_another_format_is_refused(tmp_path):
    r = lmcollapse.run(small_truth_config(), out_dir=tmp_path / "run")
    info = json.loads((r.path / "run.json").read_text())
    info["format"] = 99
    (r.path / "run.json").write_text(json.dumps(info))
    with pytest.raises(LmcollapseError, match="run format 99"):
        lmcollapse.load_run(r.path)
    with pytest.raises(LmcollapseError, match="run format 99"):
        lmcollapse.run(small_truth_config(), out_dir=r.path)


def test_full_disk_fails_cleanly_and_the_run_resumes(tmp_path, monkeypatch):
    from lmcollapse.corpora import parquet as corpus_io
    from lmcollapse.running import parts as experiment, rundir

    config = small_truth_config(generations=4)
    reference = lmcollapse.run(config, out_dir=tmp_path / "ref")
    real_write = corpus_io.write_corpus
    calls = {"n": 0}

    def failing_write(corpus, path, extra=None):
        calls["n"] += 1
        if calls["n"] == 5:  # real-train, real-heldout, then samples of gens 0, 1; fail in gen 2
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(corpus, path, extra)

    for writer in (experiment, rundir):  # real documents are written at setup, samples at each commit
        monkeypatch.setattr(writer, "write_corpus", failing_write)
    with pytest.raises(LmcollapseError, match="disk full while writing generation 2"):
        lmcollapse.run(config, out_dir=tmp_path / "run")
    for writer in (experiment, rundir):
        monkeypatch.setattr(writer, "write_corpus", real_write)
    assert lmcollapse.load_run(tmp_path / "run").generations_done == 2
    assert lmcollapse.run(None, out_dir=tmp_path / "run").metrics == reference.metrics


def test_run_handle_gives_models_corpora_and_samples(tmp_path):
    r = lmcollapse.run(small_truth_config(generations=3, **{"paradigm.name": "accumulate", "paradigm.rate": 0.5}),
                       out_dir=tmp_path / "run")
    assert [m["generation"] for m in r.metrics] == [0, 1, 2]
    d2 = r.corpus(2)
    assert len(d2) == 100 and d2.real_fraction() == pytest.approx(0.5)
    model = r.model(2)
    assert model.next_token_probs(()) == pytest.approx(np.bincount(d2.tokens, minlength=4) / d2.n_tokens)
    assert r.samples(1).provenance(0).producer == "ngram@gen-1"
    with pytest.raises(LmcollapseError, match="generation 3 is not committed"):
        r.model(3)


def test_models_not_saved_are_refitted_identically(tmp_path):
    saved = lmcollapse.run(small_truth_config(), out_dir=tmp_path / "a")
    unsaved = lmcollapse.run(small_truth_config(save_models=False), out_dir=tmp_path / "b")
    assert not (unsaved.path / "gen-0001" / "model").exists()
    assert unsaved.model(1).next_token_probs(()) == pytest.approx(saved.model(1).next_token_probs(()))


def test_same_seed_same_numbers_different_seed_different(tmp_path):
    a = lmcollapse.run(small_truth_config(generations=3), out_dir=tmp_path / "a")
    b = lmcollapse.run(small_truth_config(generations=3), out_dir=tmp_path / "b")
    c = lmcollapse.run(small_truth_config(generations=3, seed=1), out_dir=tmp_path / "c")
    assert a.metrics == b.metrics and a.metrics != c.metrics


def test_a_foreign_nonempty_directory_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(LmcollapseError, match="not an lmcollapse run directory"):
        lmcollapse.run(small_truth_config(), out_dir=out)
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert lmcollapse.run(small_truth_config(), out_dir=empty).generations_done == 3


def test_resuming_a_run_started_by_another_version_says_so(tmp_path, capsys):
    config = small_truth_config(generations=3)
    out = tmp_path / "run"
    lmcollapse.run(config, out_dir=out, overrides=["generations=1"])
    info = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**info, "lmcollapse_version": "0.0.9"}))
    lmcollapse.run(config, out_dir=out, progress=True)
    err = capsys.readouterr().err
    assert f"was started by lmcollapse 0.0.9; generations added by {lmcollapse.__version__} may differ" in err
    assert lmcollapse.load_run(out).generations_done == 3
