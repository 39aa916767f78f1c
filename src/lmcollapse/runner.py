"""The recursive loop of DESIGN.md with per-stage seeds, atomic generation commits and auto-resume.

    M_t = fit(D_t); S_t = sample(M_t); K_t = gates(S_t); metrics(t); D_t+1 = paradigm(D_t, K_t, R)
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from . import __version__, seeding
from .config import Config, to_yaml, validate
from .corpus import REAL, Corpus
from .corpus_io import read_corpus, write_corpus
from .errors import LmcollapseError
from .gated_sampling import draw_gated
from .gates import GateContext, build_gates
from .metrics import GenerationView, default_metrics, measure
from .models import MODELS
from .paradigms import PARADIGMS, DataState, initial_state
from .progress import Progress
from .rundir import RunDir, disk_errors
from .sampling import Sampler
from .sources import SOURCES
from .tokenizers import load_tokenizer


# What a run directory holds before its run.json is written (a start interrupted during setup).
SETUP_FILES = {".lock", "docs", "config.yaml", "tokenizer.json"}


@dataclass
class Setup:
    """The parts of a run that stay fixed across generations."""

    config: Config
    real: Corpus
    held_out: Corpus
    tokenizer: object | None  # word, char or bpe tokenizer
    source: object
    paradigm: object
    sampler: Sampler
    gates: list

    @property
    def truth(self):
        return getattr(self.source, "truth", None)

    def fresh_supply(self):
        return self.source.fresh if getattr(self.source, "can_make_fresh", False) else None


def build_model(config: Config):
    return MODELS.build(config.model.name, config.model.model_dump(exclude={"name"}))


def stored_config(run_dir: str | Path) -> Config:
    path = Path(run_dir) / "config.yaml"
    try:
        return validate(yaml.safe_load(path.read_text()))
    except OSError:
        raise LmcollapseError(f"{run_dir} has no config.yaml; is it an lmcollapse run directory?") from None


def _check_same_experiment(old: Config, new: Config, path: Path) -> None:
    a, b = old.model_dump(exclude={"generations"}), new.model_dump(exclude={"generations"})
    if a != b:
        diff = _first_difference(a, b)
        raise LmcollapseError(f"{path} holds a run with a different config ({diff}); use another --out, or "
                              f"run it again without a config to resume it")


def _first_difference(a, b, prefix="") -> str:
    for key in a:
        if isinstance(a[key], dict):
            found = _first_difference(a[key], b[key], f"{prefix}{key}.")
            if found:
                return found
        elif a[key] != b[key]:
            return f"{prefix}{key}: {a[key]!r} there, {b[key]!r} now"
    return ""


def _prepare(config: Config, rd: RunDir) -> None:
    """First start: resolve the source once and write everything the run depends on."""
    source = SOURCES.get(config.corpus.name)(config)
    if config.paradigm.name == "fresh" and not getattr(source, "can_make_fresh", False):
        raise LmcollapseError(f"paradigm fresh needs a corpus that can produce new real documents (categorical, "
                              f"markov); {config.corpus.name} is a finite set")
    data = source.load()
    with disk_errors("the run's real documents"):
        (rd.path / "docs").mkdir(parents=True, exist_ok=True)
        write_corpus(data.train, rd.path / "docs" / "real-train.parquet")
        write_corpus(data.held_out, rd.path / "docs" / "real-heldout.parquet")
        if data.tokenizer is not None:
            data.tokenizer.save(rd.path / "tokenizer.json")
        (rd.path / "config.yaml").write_text(to_yaml(config))
        rd.write_identity(__version__)  # written last: its presence marks a complete setup


def load_setup(config: Config, rd: RunDir) -> Setup:
    tokenizer_path = rd.path / "tokenizer.json"
    return Setup(
        config=config,
        real=read_corpus(rd.path / "docs" / "real-train.parquet"),
        held_out=read_corpus(rd.path / "docs" / "real-heldout.parquet"),
        tokenizer=load_tokenizer(tokenizer_path) if tokenizer_path.is_file() else None,
        source=SOURCES.get(config.corpus.name)(config),
        paradigm=_paradigm_with_weights(config, gates := build_gates(config.filters)),
        sampler=Sampler(**config.sampler.model_dump()),
        gates=gates,
    )


def _paradigm_with_weights(config: Config, gates: list):
    paradigm = PARADIGMS.get(config.paradigm.name)(config)
    for gate in gates:
        if hasattr(gate, "weights"):
            if not hasattr(paradigm, "pool_weights"):
                raise LmcollapseError(f"filter reweight changes how a paradigm subsamples its pool; use "
                                      f"accumulate-subsample or fresh, not {config.paradigm.name}")
            paradigm.pool_weights = gate.weights
    return paradigm


def model_of_generation(config: Config, rd: RunDir, t: int, train: Callable[[], Corpus] | None):
    """Generation t's committed model: loaded when saved, else refitted exactly on its training set D_t
    (train(), same stage seed)."""
    saved = rd.gen(t) / "model"
    if saved.is_dir():
        return MODELS.get(config.model.name).load(saved)
    if (config.model.warm_start and t > 0) or train is None:
        raise LmcollapseError(f"{rd.gen(t)} holds no saved model, and a warm-started model cannot be refitted "
                              f"without its predecessors; rerun the experiment with save_models: true")
    return build_model(config).fit(train(), seed=seeding.derived_seed(config.seed, t, "fit"))


def previous_model(setup: Setup, rd: RunDir, t: int, cache: dict):
    """Generation t-1's model, the starting point of a warm start: the one just trained, or after a resume
    the saved one (the same weights)."""
    if cache.get("previous_model", (None,))[0] == t - 1:
        return cache["previous_model"][1]
    return model_of_generation(setup.config, rd, t - 1, train=None)


def reference_model(setup: Setup, rd: RunDir, t: int, current, cache: dict):
    """The generation-0 model (trained on real data only, D_0 = R); the current one at t = 0."""
    if "reference_model" not in cache:
        cache["reference_model"] = current if t == 0 else model_of_generation(setup.config, rd, 0, lambda: setup.real)
    return cache["reference_model"]


def execute(config: Config, out_dir: str | Path, progress: bool = True) -> Path:
    """Run (or resume) the experiment in out_dir until config.generations are committed."""
    rd = RunDir(out_dir)
    fresh_dir = not rd.path.exists()
    if not fresh_dir and not rd.exists():
        foreign = sorted(p.name for p in rd.path.iterdir() if p.name not in SETUP_FILES and not p.name.endswith(".tmp"))
        if foreign:
            raise LmcollapseError(f"{rd.path} is not empty and is not an lmcollapse run directory (it holds "
                                  f"{foreign[0]!r}); choose a new or empty --out")
    with rd.lock():
        notes = []
        if rd.exists():
            written_by = rd.check_format().get("lmcollapse_version")
            if written_by != __version__:
                notes.append(f"{rd.path} was started by lmcollapse {written_by}; generations added by {__version__} "
                             f"may differ from what {written_by} would have produced")
            previous = stored_config(rd.path)
            _check_same_experiment(previous, config, rd.path)
            if config.generations != previous.generations:
                (rd.path / "config.yaml").write_text(to_yaml(config))
        else:
            try:
                _prepare(config, rd)
            except BaseException:
                if fresh_dir:  # leave nothing behind for a run that never started
                    shutil.rmtree(rd.path, ignore_errors=True)
                raise
        rd.drop_partial()
        setup = load_setup(config, rd)
        done = rd.committed()
        rows = rd.metrics_rows(done)
        rd.write_metrics_jsonl(rows)  # repairs a file cut short by a crash
        bar = Progress(config.generations, done, enabled=progress)
        try:
            for note in notes:
                bar.message(note)
            if done:
                bar.message(f"resuming {rd.path} after generation {done - 1}")
            state = restore_state(setup, rd, done) if done else initial_state(setup.real)
            cache: dict = {}
            for t in range(done, config.generations):
                started = time.perf_counter()
                row, state = run_generation(setup, rd, t, state, cache, bar)
                rows.append(row)
                rd.write_metrics_jsonl(rows)
                bar.generation_done(t, row, time.perf_counter() - started)
        finally:
            bar.close()
    return rd.path


def run_generation(setup: Setup, rd: RunDir, t: int, state: DataState, cache: dict, bar: Progress):
    cfg, root = setup.config, setup.config.seed
    timings = {}

    def timed(stage, fn):
        bar.stage(t, stage)
        start = time.perf_counter()
        result = fn()
        timings[stage] = round(time.perf_counter() - start, 4)
        return result

    model = build_model(cfg)
    if hasattr(model, "report"):  # models with long stages (neural) say how far they have got
        model.report = lambda stage, done, total: bar.within(t, stage, done, total)
    warm = {"init": previous_model(setup, rd, t, cache)} if cfg.model.warm_start and t > 0 else {}
    model = timed("fit", lambda: model.fit(state.train, seed=seeding.derived_seed(root, t, "fit"), **warm))
    if cfg.model.warm_start:
        cache["previous_model"] = (t, model)
    n_new = setup.paradigm.n_synthetic(len(setup.real))
    gate_ctx = GateContext(t, model, state.train, setup.real, setup.held_out, setup.truth,
                           reference=lambda: reference_model(setup, rd, t, model, cache), cache=cache)

    def decode(batch):
        if setup.tokenizer is None:
            return batch
        return batch.with_text([setup.tokenizer.decode(batch.doc(i)) for i in range(len(batch))])

    gated = timed("sample", lambda: draw_gated(
        n_new, model, setup.gates, gate_ctx, root=root, t=t, sampler=setup.sampler,
        producer=f"{cfg.model.name}@gen-{t}", oversample_max=cfg.oversample_max, decode=decode))
    samples, keep = gated.candidates, gated.keep
    kept = samples.take(np.flatnonzero(keep))
    if len(kept) < n_new:
        bar.message(f"generation {t}: only {len(kept)} of {n_new} documents passed the gates after drawing "
                    f"{len(samples)} (oversample_max={cfg.oversample_max:g}); this model contributes fewer")
    # Metrics look at the model's first n_new documents (round 0): the same amount with or without gates.
    first = samples if len(samples) <= n_new else samples.take(np.arange(n_new))
    view = GenerationView(t, model, state.train, state.pool, first, kept, setup.real, setup.held_out,
                          truth=setup.truth, doc_length=cfg.corpus.doc_length, cache=cache,
                          acceptance=gated.acceptance_rate if setup.gates else None)
    row = timed("metrics", lambda: measure(view, cfg.metrics or default_metrics(),
                                           rng=seeding.rng(root, t, "metrics"), rounds=cfg.ci_rounds))
    next_state = timed("paradigm", lambda: setup.paradigm.next_state(
        state, kept, setup.real, seeding.rng(root, t, "paradigm"), setup.fresh_supply(), t + 1))

    with rd.building(t) as scratch:
        np.save(scratch / "train_ids.npy", state.train.doc_id)
        if state.pool is not state.train:
            np.save(scratch / "pool_ids.npy", state.pool.doc_id)
        extra = {"kept": keep, **{f"score_{name}": v for name, v in gated.scores.items()}}
        if setup.gates:
            extra["rejected_by"] = gated.rejected_by.astype(str)
        write_corpus(samples, scratch / "samples.parquet", extra=extra)
        fresh = next_state.pool.take(np.flatnonzero((next_state.pool.origin == REAL) &
                                                    (next_state.pool.generation == t + 1)))
        if len(fresh):
            write_corpus(fresh, scratch / "fresh.parquet")
        if cfg.save_models:
            model.save(scratch / "model")
        (scratch / "metrics.json").write_text(json.dumps(row) + "\n")
        manifest = {"generation": t, "n_train": len(state.train), "n_sampled": len(samples), "n_kept": len(kept),
                    "gates": gated.counts, "sampling_rounds": gated.rounds,
                    "composition": state.train.composition(), "seconds": timings}
        (scratch / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return row, next_state


def document_store(setup: Setup, rd: RunDir, upto: int) -> Corpus:
    """Every document that could be in a training set of generations <= upto."""
    parts = [setup.real]
    for g in range(upto):
        samples = read_corpus(rd.gen(g) / "samples.parquet")
        keep = kept_mask(rd.gen(g) / "samples.parquet")
        parts.append(samples.take(np.flatnonzero(keep)))
        if (rd.gen(g) / "fresh.parquet").is_file():
            parts.append(read_corpus(rd.gen(g) / "fresh.parquet"))
    return Corpus.concat(parts)


def kept_mask(path: Path) -> np.ndarray:
    from .corpus_io import read_column

    return read_column(path, "kept").astype(bool)


def training_state(setup: Setup, rd: RunDir, t: int) -> DataState:
    """D_t and its pool, rebuilt from ids and the stored documents."""
    store = document_store(setup, rd, t)
    train = store.select_ids(rd.read_ids(t, "train_ids"))
    pool_ids = rd.read_ids(t, "pool_ids")
    return DataState(train, train if pool_ids is None else store.select_ids(pool_ids))


def restore_state(setup: Setup, rd: RunDir, done: int) -> DataState:
    """The state entering generation `done`: replay the last committed paradigm step (deterministic)."""
    t = done - 1
    state = training_state(setup, rd, t)
    samples = read_corpus(rd.gen(t) / "samples.parquet")
    kept = samples.take(np.flatnonzero(kept_mask(rd.gen(t) / "samples.parquet")))
    return setup.paradigm.next_state(state, kept, setup.real, seeding.rng(setup.config.seed, t, "paradigm"),
                                     setup.fresh_supply(), t + 1)
