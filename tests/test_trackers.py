"""Experiment trackers (--tracker mlflow, tensorboard, wandb), offline: each generation's values and interval
ends read back with the tracker's own reader (MLflow's client, TensorBoard's event loader, W&B's own record
definitions), a resumed run adding only its new generations to the same tracked run, a sweep's runs grouped
under the sweep, and a tracker that fails costing one warning, never the run."""
import json
from pathlib import Path

import pytest

import lmcollapse

from helpers import cli

SMALL = ["--set", "corpus.n_train=50", "--set", "corpus.n_eval=30", "--set", "ci_rounds=5", "--set", "save_models=false"]


def _same(got: list[tuple[int, float]], want: list[tuple[int, float]], rel: float = 1e-9) -> bool:
    """The same steps, in order, and the same values to rel."""
    return [s for s, _ in got] == [s for s, _ in want] and [v for _, v in got] == pytest.approx([v for _, v in want],
                                                                                                rel=rel)


def _mlflow_history(db: Path, run_id: str, key: str) -> list[tuple[int, float]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def _tensorboard_scalars(folder: Path, key: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing import event_file_loader

    out = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in event_file_loader.EventFileLoader(str(path)).Load():
            out += [(event.step, float(v.tensor.float_val[0])) for v in event.summary.value if v.tag == key]
    return sorted(out)


def _wandb_history(run_folder: Path) -> list[dict]:
    """The history records of an offline W&B run, decoded with W&B's own protobuf definitions (the file is a
    leveldb-style log: a 7-byte header, then records of checksum, length, type, data in 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2 as pb

    out = []
    for path in sorted(run_folder.glob("run-*.wandb")):
        data, pos, pending = path.read_bytes(), 7, b""
        while pos + 7 <= len(data):
            if 32768 - pos % 32768 < 7:  # a block's tail too short for a header is padding
                pos += 32768 - pos % 32768
                continue
            length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
            pending, pos = pending + data[pos + 7:pos + 7 + length], pos + 7 + length
            if kind in (1, 4):  # a whole record, or the last piece of one
                record = pb.Record()
                record.ParseFromString(pending)
                pending = b""
                if record.WhichOneof("record_type") == "history":
                    out.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in record.history.item})
    return out


@pytest.fixture
def offline(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    pytest.importorskip("wandb")
    monkeypatch.chdir(tmp_path)  # MLflow's local store is the working directory's mlflow.db
    for key in ("MLFLOW_TRACKING_URI", "WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


@pytest.mark.slow  # two invocations with three trackers, about 30 s; CI runs it
def test_every_tracker_logs_each_generation_and_a_resumed_run_only_its_new_ones(offline):
    out = offline / "run"
    trackers = ["--tracker", "mlflow", "--tracker", "tensorboard", "--tracker", "wandb"]
    first = cli("run", *SMALL, "--set", "generations=3", *trackers, "--out", out, "-q", cwd=offline)
    assert first.returncode == 0 and "warning" not in first.stderr, first.stderr
    ids = json.loads((out / "trackers.json").read_text())
    again = cli("run", *SMALL, "--set", "generations=5", *trackers, "--out", out, "-q", cwd=offline)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "trackers.json").read_text()) == ids  # the same tracked runs
    rows = lmcollapse.load_run(out).metrics
    assert len(rows) == 5 and lmcollapse.load_run(out).config.trackers == ["mlflow", "tensorboard", "wandb"]
    want = [(r["generation"], r["heldout_ppl"]) for r in rows]
    assert _same(_mlflow_history(offline / "mlflow.db", ids["mlflow"], "heldout_ppl"), want)
    assert _same(_mlflow_history(offline / "mlflow.db", ids["mlflow"], "heldout_ppl_lo"),
                 [(r["generation"], r["heldout_ppl_lo"]) for r in rows])  # the intervals too
    assert _same(_tensorboard_scalars(out / "tensorboard", "heldout_ppl"), want, rel=1e-6)  # float32
    history = [h for run_folder in sorted((out / "wandb").glob("offline-run-*")) for h in _wandb_history(run_folder)]
    assert _same([(h["_step"], h["heldout_ppl"]) for h in history], want)  # each generation once
    from mlflow.tracking import MlflowClient

    run = MlflowClient(tracking_uri=f"sqlite:///{offline / 'mlflow.db'}").get_run(ids["mlflow"])
    assert run.data.params["model.name"] == "ngram" and run.data.params["corpus.n_train"] == "50"
    assert run.data.tags["lmcollapse.run_dir"] == str(out) and run.info.status == "FINISHED"
    assert cli("check", out).returncode == 0  # the trackers' files are not damage


@pytest.mark.slow  # CI runs it
def test_a_sweeps_runs_are_grouped_under_the_sweep(offline):
    out = offline / "grid"
    result = cli("sweep", "--grid", "model.order=1,2", *SMALL, "--set", "generations=2", "--seeds", "0",
                 "--tracker", "mlflow", "--tracker", "wandb", "--out", out, "--workers", "2", "-q", cwd=offline)
    assert result.returncode == 0, result.stderr
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{offline / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("grid")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.params["point.model.order"] for r in runs) == ["1", "2"]
    for run_dir in lmcollapse.open_results(out).run_dirs():
        assert json.loads((run_dir / "trackers.json").read_text()).keys() == {"mlflow", "wandb"}


def test_a_tracker_that_fails_is_one_warning_and_the_run_goes_on(offline, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    result = cli("run", *SMALL, "--set", "generations=2", "--tracker", "mlflow", "--out", offline / "r", "-q",
                 cwd=offline)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if "warning: tracker mlflow" in line]
    assert len(warnings) == 1 and "the run goes on" in warnings[0]
    assert len(lmcollapse.load_run(offline / "r").metrics) == 2
    unknown = cli("run", "--tracker", "neptune", "-q")
    assert unknown.returncode == 2 and "unknown tracker 'neptune'" in unknown.stderr


def test_a_tracker_not_installed_names_its_extra(tmp_path, monkeypatch):
    from lmcollapse import trackers
    from lmcollapse.running.rundir import RunDir

    monkeypatch.setattr(trackers, "installed", lambda module: False)
    said = []
    got = trackers.open_trackers(["wandb"], RunDir(tmp_path), {"seed": 0}, said.append)
    assert got.trackers == [] and said == ["warning: tracker wandb is not installed (pip install "
                                           "'lmcollapse[wandb]'); the run goes on without it"]


def test_a_missing_tracker_leaves_the_results_as_they_are(tmp_path, monkeypatch):
    from lmcollapse import trackers

    config = {"generations": 2, "corpus": {"n_train": 50, "n_eval": 30}, "ci_rounds": 5, "save_models": False}
    plain = lmcollapse.run(config, out_dir=tmp_path / "plain", progress=False).metrics
    monkeypatch.setattr(trackers, "installed", lambda module: False)
    tracked = lmcollapse.run({**config, "trackers": ["mlflow"]}, out_dir=tmp_path / "tracked", progress=False)
    assert tracked.metrics == plain and not (tmp_path / "tracked" / "trackers.json").exists()
    from lmcollapse.running.parts import load_config
    from lmcollapse.running.rundir import run_dir_name

    # trackers are not part of a run's identity: the same directory name with or without them
    assert run_dir_name(load_config(config)) == run_dir_name(load_config({**config, "trackers": ["mlflow"]}))


def test_a_tracker_that_is_not_installed_is_said_once_per_sweep_not_once_per_run(tmp_path, monkeypatch, capfd):
    """0.4.0: a study printed the same warning 72 times, once per run."""
    import lmcollapse.trackers as trackers_module
    from lmcollapse.sweep import load_spec, make_executor, run_sweep

    real = trackers_module.installed
    monkeypatch.setattr(trackers_module, "installed", lambda module: module != "wandb" and real(module))
    spec = load_spec({"generations": 2, "trackers": ["wandb"], "ci_rounds": 0,
                      "corpus": {"name": "markov", "vocab_size": 4, "doc_length": 4, "n_train": 30, "n_eval": 20},
                      "sweep": {"grid": {"model.order": [1, 2]}, "seeds": [0, 1, 2]}})
    _, outcome = run_sweep(spec, tmp_path / "sw", make_executor("local", workers=1), progress=False)
    assert not outcome.failures and len(outcome.outcomes) == 6
    err = capfd.readouterr().err
    assert err.count("tracker wandb is not installed") == 1 and "the 6 runs go on without it" in err
