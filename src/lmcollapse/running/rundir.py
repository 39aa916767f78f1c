"""The run directory: the one module that knows its layout, written so that a crash at any moment loses
nothing committed. Every other module reaches a file inside a run directory through RunDir's accessors.

    RUN/config.yaml             resolved config (runnable again as it is)
    RUN/run.json                format version, lmcollapse version, git hash, creation date, environment
    RUN/metrics.jsonl           one JSON object per committed generation (rebuilt from gen-*/metrics.json)
    RUN/tokenizer.json          text corpora: the vocabulary fixed at generation 0
    RUN/probe-baseline.json     with probe.task: the random-init baseline of the downstream probe
    RUN/.lock                   held by the process running the directory
    RUN/trackers.json           with trackers: each tracker's id of this run, so a resumed run logs to it
    RUN/tensorboard/, RUN/wandb/    the tensorboard and wandb trackers' own files
    RUN/theory-compare.png      written by `lmcollapse theory compare RUN`: the closed forms over the run
    RUN/docs/real-train.parquet     R, the real training documents (with provenance), written once
    RUN/docs/real-heldout.parquet   E, the held-out real documents
    RUN/docs/reservoir.parquet      with corpus.n_reservoir: real documents held back for `fresh`
    RUN/docs/probe-train.parquet, probe-test.parquet (with a `label` column), probe-classes.json
                                    with probe.task: the probe's own split
    RUN/gen-0007/               generation 7, committed whole:
        train_ids.npy               D_t's document ids
        pool_ids.npy                the pool's ids, when D_t was drawn from a larger pool
        samples.parquet             every document drawn, with `kept`, `rejected_by`, `score_GATE` columns
        fresh.parquet               new real documents entering at t + 1 (`fresh`)
        model/                      M_t, when save_models is true
        metrics.json                the generation's metrics row
        manifest.json               counts, composition, timings, environment
        DONE                        written last: the size and SHA-256 of every file above

A generation is built in gen-0007.partial/ and renamed into place after DONE is written, so it is
either wholly there or absent. `run` and `lmcollapse check` verify the hashes, `show` the sizes. Resume
drops partial directories, and a damaged generation with everything after it (the stage seeds recompute
them exactly).
"""
from __future__ import annotations

import datetime as dt
import errno
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock, Timeout

from lmcollapse.config import DEFAULT_NAMES, NOT_IDENTITY, to_yaml
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.corpora.parquet import write_corpus
from lmcollapse.errors import LmcollapseError, RunDirBusy
from lmcollapse.running.manifest import GenerationManifest

if TYPE_CHECKING:
    from lmcollapse.config import Config
    from lmcollapse.models.base import LanguageModel

FORMAT_VERSION = 1
# Generation t's folder: gen-0007 ... gen-9999, then gen-10000 and on (at least four digits, as many as t has).
GENERATION_DIR = re.compile(r"gen-([0-9]{4,})")


def gen_dir_name(t: int) -> str:
    return f"gen-{t:04d}"


@dataclass(frozen=True)
class GenerationFiles:
    """The files of one generation directory (committed, or its scratch copy while it is built)."""

    path: Path

    @property
    def train_ids(self) -> Path:
        return self.path / "train_ids.npy"

    @property
    def pool_ids(self) -> Path:
        return self.path / "pool_ids.npy"

    @property
    def samples(self) -> Path:
        return self.path / "samples.parquet"

    @property
    def fresh(self) -> Path:
        return self.path / "fresh.parquet"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"

    @property
    def done(self) -> Path:
        return self.path / "DONE"

    def read_manifest(self) -> "GenerationManifest":
        return GenerationManifest.from_json(json.loads(self.manifest.read_text()))

    def read_ids(self, which: str) -> np.ndarray | None:
        """`train` or `pool` ids, or None when the generation has none of that kind."""
        path = {"train": self.train_ids, "pool": self.pool_ids}[which]
        return np.load(path) if path.is_file() else None


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """Write via a temporary file and rename, so readers see the old or the new text, never a mix.
    durable=False skips the fsync, for files that can be rebuilt from committed generations."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None:  # a write or flush that failed names no file: say which
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    os.replace(tmp, path)


def write_text_if_changed(path: Path, text: str) -> bool:
    """atomic_write_text unless path already holds text: a rerun that changes nothing writes nothing, so a
    finished run or sweep can be rerun from read-only storage. Whether it wrote."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
    return True


@contextmanager
def disk_errors(what: str):
    """Turn a full disk into a one-line error that says the run can be resumed."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise LmcollapseError(f"disk full while writing {what}; free some space and run the same command "
                                  f"again to resume (committed generations are intact)") from None
        raise


def run_dir_name(config: "Config") -> str:
    """<corpus>-<paradigm>-<hash of the config>: the same config resumes the same directory."""

    # Only the settings that differ from the defaults: a new key with a default keeps old names valid. A
    # model or corpus other than the default one is named, as the flat sections of lmcollapse 0.2 did.
    settings = config.model_dump(exclude=NOT_IDENTITY, exclude_defaults=True)
    for section, default_name in DEFAULT_NAMES.items():
        name = getattr(config, section).name
        if name != default_name:
            settings[section] = {"name": name, **settings.get(section, {})}
    if config.gates:  # named as 0.3 wrote them (key `filters`, a bare name for a gate at its defaults): same names
        settings.pop("gates")
        settings["filters"] = [{"name": g.name, **params}
                               if (params := g.model_dump(exclude={"name"}, exclude_defaults=True)) else g.name
                               for g in config.gates]
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return f"{config.corpus.name}-{config.paradigm.name}-{digest[:8]}"


class RunDir:
    # What a directory holds before its run.json is written (a start interrupted during setup).
    SETUP_NAMES = frozenset({".lock", "docs", "config.yaml", "tokenizer.json"})

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def for_config(cls, config: "Config", root: str | os.PathLike = "runs") -> "RunDir":
        """The run directory named after config under root (runs/ by default)."""
        return cls(Path(root) / run_dir_name(config))

    # ---- the layout ------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def identity_file(self) -> Path:
        return self.path / "run.json"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def tokenizer_file(self) -> Path:
        return self.path / "tokenizer.json"

    @property
    def probe_baseline_file(self) -> Path:
        return self.path / "probe-baseline.json"

    @property
    def tracker_file(self) -> Path:
        return self.path / "trackers.json"

    @property
    def theory_figure_file(self) -> Path:
        """What `lmcollapse theory compare` draws for the run (not part of the run's record)."""
        return self.path / "theory-compare.png"

    @property
    def docs(self) -> Path:
        return self.path / "docs"

    @property
    def real_train_file(self) -> Path:
        return self.docs / "real-train.parquet"

    @property
    def held_out_file(self) -> Path:
        return self.docs / "real-heldout.parquet"

    @property
    def reservoir_file(self) -> Path:
        return self.docs / "reservoir.parquet"

    @property
    def probe_files(self) -> tuple[Path, Path, Path]:
        """(train, test, classes) of the probe's split."""
        return self.docs / "probe-train.parquet", self.docs / "probe-test.parquet", self.docs / "probe-classes.json"

    def generation(self, t: int) -> GenerationFiles:
        return GenerationFiles(self.gen(t))

    def foreign_entries(self) -> list[str]:
        """What a directory without run.json holds beyond an interrupted setup's files (sorted names)."""
        return sorted(p.name for p in self.path.iterdir() if p.name not in self.SETUP_NAMES and not p.name.endswith(".tmp"))

    def write_config(self, config: "Config") -> None:
        self.config_file.write_text(to_yaml(config))

    # ---- identity and locking ------------------------------------------------------------------
    def exists(self) -> bool:
        return self.identity_file.is_file()

    @staticmethod
    def is_run(path: str | os.PathLike) -> bool:
        return RunDir(path).exists()

    @contextmanager
    def lock(self):
        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path / ".lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunDirBusy(f"run directory {self.path} is in use by another lmcollapse process; "
                             f"wait for it or choose another --out") from None
        try:
            yield
        finally:
            lock.release()

    def write_identity(self, version: str, environment: dict | None = None) -> None:
        info = {"format": FORMAT_VERSION, "lmcollapse_version": version, "git": _git_hash(),
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "environment": environment}
        atomic_write_text(self.identity_file, json.dumps(info, indent=2) + "\n")

    def check_format(self) -> dict:
        try:
            info = json.loads(self.identity_file.read_text())
        except (OSError, json.JSONDecodeError):
            raise LmcollapseError(f"{self.path} is not an lmcollapse run directory (run.json missing or unreadable)") from None
        if info.get("format") != FORMAT_VERSION:
            raise LmcollapseError(f"{self.path} was written in run format {info.get('format')} by lmcollapse "
                                  f"{info.get('lmcollapse_version')}; this version reads format {FORMAT_VERSION}. "
                                  f"Use a matching lmcollapse or start a new --out")
        return info

    # ---- generations -----------------------------------------------------------------------------
    def gen(self, t: int) -> Path:
        return self.path / gen_dir_name(t)

    def committed(self) -> int:
        """Number of intact committed generations: 0..n-1 each with DONE and files of the recorded sizes
        (what a damaged or missing generation leaves before it)."""
        return self.inspect().intact

    def inspect(self, full: bool = False) -> "Inspection":
        """The generations in order, each intact or not (with why); full=True also checks the SHA-256 of
        every file (lmcollapse check), else only sizes (and, without checksums, that files parse)."""
        present = sorted(self._generation_dirs())
        problems: list[tuple[int, str]] = []
        for t in range(max(present, default=-1) + 1):
            problem = "missing" if t not in present else _generation_problem(self.gen(t), full)
            if problem:
                problems.append((t, problem))
        intact = problems[0][0] if problems else len(present)
        return Inspection(intact, len(present), problems)

    def discard_from(self, t: int) -> None:
        """Remove generations t, t+1, ...: before recomputing them."""
        for g, p in sorted(self._generation_dirs().items()):
            if g >= t:
                shutil.rmtree(p)

    def _generation_dirs(self) -> dict[int, Path]:
        """generation -> its committed folder, for every folder named like one."""
        if not self.path.is_dir():
            return {}
        return {int(m[1]): p for p in self.path.iterdir()
                if (m := GENERATION_DIR.fullmatch(p.name)) and p.is_dir()}

    def drop_partial(self) -> None:
        for p in self.path.glob("gen-*.partial"):
            shutil.rmtree(p, ignore_errors=True)
        for p in self.path.rglob("*.tmp"):
            p.unlink(missing_ok=True)

    @contextmanager
    def building(self, t: int):
        """Yield a scratch directory for generation t; commit it atomically when the block ends."""
        final = self.gen(t)
        partial = final.with_name(final.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with disk_errors(f"generation {t} of {self.path}"):
            partial.mkdir(parents=True)
            yield partial
            files = {str(f.relative_to(partial)): {"bytes": f.stat().st_size, "sha256": _sha256(f)}
                     for f in sorted(partial.rglob("*")) if f.is_file()}
            GenerationFiles(partial).done.write_text(json.dumps({"files": files}, indent=1) + "\n")
            _fsync_dir(partial)
            os.replace(partial, final)
            _fsync_dir(self.path)

    def commit_generation(self, t: int, record: "GenerationRecord") -> None:
        """Write generation t's files and commit them atomically (all of them or none)."""
        with self.building(t) as scratch:
            files = GenerationFiles(scratch)
            np.save(files.train_ids, record.train_ids)
            if record.pool_ids is not None:
                np.save(files.pool_ids, record.pool_ids)
            write_corpus(record.samples, files.samples, extra=record.sample_columns)
            if record.fresh is not None and len(record.fresh):
                write_corpus(record.fresh, files.fresh)
            if record.model is not None:
                record.model.save(files.model)
            files.metrics.write_text(json.dumps(record.metrics) + "\n")
            files.manifest.write_text(json.dumps(record.manifest.to_json(), indent=2) + "\n")

    def metrics_rows(self, n: int) -> list[dict]:
        return [json.loads(self.generation(t).metrics.read_text()) for t in range(n)]

    def intact_rows(self) -> list[dict]:
        """The rows of the intact committed generations (the source of truth); [] before the run exists."""
        return self.metrics_rows(self.committed()) if self.exists() else []

    def read_metrics_jsonl(self) -> list[dict]:
        """The rows metrics.jsonl holds, up to a line cut short by a crash; [] before the first commit."""
        path = self.metrics_file
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # rebuilt from the generations on the next start
        return rows

    def metrics_file_problem(self, intact: int) -> str | None:
        """What is wrong with metrics.jsonl against the first `intact` generations' own rows, or None. (It is
        rebuilt from the generations when the run next starts, so damage here loses nothing.)"""
        path = self.metrics_file
        if not path.is_file():
            return "metrics.jsonl is missing" if intact else None
        lines = path.read_text(errors="replace").splitlines()
        for n, line in enumerate(lines, 1):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                return f"metrics.jsonl line {n} is cut short or garbled"
        rows = [json.loads(line) for line in lines]
        if len(rows) < intact:
            return f"metrics.jsonl has {len(rows)} rows for {intact} committed generations"
        for t, (row, own) in enumerate(zip(rows, self.metrics_rows(intact))):
            if row != own:
                return f"metrics.jsonl differs from generation {t}'s own metrics"
        return None

    def write_metrics_jsonl(self, rows: list[dict]) -> None:
        with disk_errors(str(self.metrics_file)):
            # Rebuilt from gen-*/metrics.json on every start, so it needs no fsync of its own.
            atomic_write_text(self.metrics_file, "".join(json.dumps(r) + "\n" for r in rows), durable=False)

    def append_metrics_row(self, row: dict) -> None:
        """One committed generation's row at the end of metrics.jsonl: a line, not the whole file again (long
        runs would rewrite it every generation). A crash can cut the line short; the file is rebuilt from the
        generations on the next start, and readers stop at a cut line."""
        with disk_errors(str(self.metrics_file)), open(self.metrics_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")



@dataclass
class Inspection:
    intact: int  # generations 0..intact-1 are whole
    present: int  # generation directories found
    problems: list[tuple[int, str]]  # (generation, what is wrong), in order

    @property
    def damaged(self) -> bool:
        return bool(self.problems)

    def intact_range(self) -> str:
        """"generations 0-K" (or "no generation" when generation 0 itself is damaged)."""
        return f"generations 0-{self.intact - 1}" if self.intact else "no generation"

    def summary(self) -> str:
        t, why = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"generation {t} is damaged: {why}{more}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _generation_problem(directory: Path, full: bool) -> str | None:
    """What is wrong with a committed generation directory, or None."""
    done = GenerationFiles(directory).done
    if not done.is_file():
        return "no DONE (never committed, or DONE was deleted)"
    text = done.read_text(errors="replace").strip()
    if text == "ok":  # written before checksums (lmcollapse 0.2): check that the files parse
        return _legacy_problem(directory)
    try:
        files = json.loads(text)["files"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return "its DONE file is unreadable"
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, {expected['bytes']} were committed"
        if full and _sha256(path) != expected["sha256"]:
            return f"{name} does not match its checksum"
    return None


def _legacy_problem(directory: Path) -> str | None:
    import pyarrow.parquet as pq

    files = GenerationFiles(directory)
    for path in (files.metrics, files.manifest):
        try:
            json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return f"{path.name} is missing or unreadable"
    for path in directory.glob("*.parquet"):
        try:
            pq.read_metadata(path)
        except Exception:  # pyarrow raises its own ArrowInvalid/OSError kinds for a damaged file
            return f"{path.name} is not a readable parquet file"
    for path in directory.glob("*.npy"):
        try:
            np.load(path)
        except (OSError, ValueError):
            return f"{path.name} is unreadable"
    return None


@dataclass
class GenerationRecord:
    """Everything generation t commits."""

    train_ids: np.ndarray  # D_t's document ids
    pool_ids: np.ndarray | None  # the pool's, when D_t was drawn from a larger pool
    samples: Corpus  # every document drawn, in drawing order
    sample_columns: dict[str, np.ndarray]  # per drawn document: kept, rejected_by, score_GATE
    fresh: Corpus | None  # new real documents entering at t + 1
    model: "LanguageModel | None"  # M_t, when models are saved
    metrics: dict  # the metrics row
    manifest: GenerationManifest  # counts, composition, timings, environment


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=1)
def _git_hash() -> str | None:
    """The commit of the lmcollapse source, once per process (a subprocess per run adds up over a sweep)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
