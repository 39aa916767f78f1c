"""Damaged run directories: each generation's files are checked against what was committed; `check` says
what is damaged, `show` shows what is intact with a warning, and `run` recomputes the damaged generation
and everything after it, to exactly the numbers of an undamaged run."""
import shutil
import subprocess
import sys

import pytest

import lmcollapse
from conftest import small_truth_config

CONFIG = {**small_truth_config(generations=5), "save_models": True}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "lmcollapse.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return lmcollapse.run(CONFIG, out_dir=tmp_path_factory.mktemp("ref") / "run")


def garbage(path):
    path.write_bytes(b"garbage")


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {  # how, which generation it damages, and whether show (sizes only) sees it
    "garbage samples in the middle": (lambda r: garbage(r / "gen-0002" / "samples.parquet"), 2, True),
    "one byte flipped, same size": (lambda r: flip_a_byte(r / "gen-0003" / "samples.parquet"), 3, False),
    "the last DONE deleted": (lambda r: (r / "gen-0004" / "DONE").unlink(), 4, True),
    "a middle DONE deleted": (lambda r: (r / "gen-0001" / "DONE").unlink(), 1, True),
    "a model file cut short": (lambda r: (r / "gen-0002" / "model" / "tables.npz").write_bytes(b"x"), 2, True),
    "a generation removed": (lambda r: shutil.rmtree(r / "gen-0002"), 2, True),
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damage_is_found_shown_around_and_repaired_exactly(name, reference, tmp_path):
    damage, generation, visible_to_show = DAMAGE[name]
    run = tmp_path / "run"
    shutil.copytree(reference.path, run)
    damage(run)
    checked = cli("check", run)
    assert checked.returncode == 1 and f"generation {generation}: " in checked.stdout, checked.stdout
    assert f"generations 0-{generation - 1} are intact" in checked.stdout
    shown = cli("show", run)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr
    if visible_to_show:
        assert shown.stderr.startswith(f"warning: {run}: generation {generation} is damaged")
        assert len(lmcollapse.load_run(run).metrics) == generation  # only what is intact
    repaired = cli("run", "--out", run)
    assert repaired.returncode == 0, repaired.stderr
    assert f"generation {generation} is damaged" in repaired.stderr and "recomputing" in repaired.stderr
    assert lmcollapse.load_run(run).metrics == reference.metrics
    assert cli("check", run).returncode == 0


def test_a_cut_metrics_file_and_a_damaged_config(reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(reference.path, run)
    text = (run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text(text[:len(text) // 2])
    assert lmcollapse.load_run(run).metrics == reference.metrics  # read from the generations themselves
    assert cli("show", run).returncode == 0
    (run / "config.yaml").write_text("{{{ not yaml")
    for command in ("show", "run --out", "check"):
        result = cli(*command.split(), run)
        assert result.returncode == 2 and result.stderr.strip().splitlines() == [
            f"error: {run / 'config.yaml'} is damaged (it holds no config); restore it from a copy of the config "
            f"the run was started with, or start a new --out"], result.stderr


def test_a_directory_written_before_checksums_is_checked_by_parsing(tmp_path):
    from pathlib import Path

    run = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "data" / "run-v0.2.0", run)
    assert cli("check", run).returncode == 0
    garbage(run / "gen-0001" / "samples.parquet")
    checked = cli("check", run)
    assert checked.returncode == 1 and "generation 1: samples.parquet is not a readable parquet file" in checked.stdout


def test_show_check_and_report_all_say_what_is_damaged(tmp_path):
    """A byte flipped in a samples file, and metrics.jsonl cut in the middle of a line: check fails naming
    both, show warns, report warns and says so on the page (drawing the intact generations only)."""
    import lmcollapse
    from lmcollapse.running.rundir import RunDir

    run = lmcollapse.run({"generations": 4, "corpus": {"n_train": 200, "n_eval": 50}, "ci_rounds": 5},
                         out_dir=tmp_path / "r").path
    rd = RunDir(run)
    text = rd.metrics_file.read_text()
    rd.metrics_file.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])  # the last line cut
    checked = cli("check", run)
    assert checked.returncode == 1 and "metrics.jsonl line 4 is cut short or garbled" in checked.stdout
    flip_a_byte(rd.generation(2).samples)
    checked = cli("check", run)
    assert checked.returncode == 1 and "generation 2: samples.parquet does not match its checksum" in checked.stdout
    shown = cli("show", run)
    assert shown.returncode == 0 and "warning:" in shown.stderr and "generation 2 is damaged" in shown.stderr
    reported = cli("report", run, "--out", tmp_path / "report.html")
    assert reported.returncode == 0 and "generation 2 is damaged" in reported.stderr
    page = (tmp_path / "report.html").read_text()
    assert "Damaged runs: only their intact generations are drawn" in page and "generations 0-1" in page
    assert cli("run", "--out", run, "-q").returncode == 0  # recomputes 2 and 3, rewrites metrics.jsonl
    assert cli("check", run).returncode == 0
