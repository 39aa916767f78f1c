"""The recursive loop of the README, with per-stage seeds, atomic generation commits and auto-resume:

    M_t = fit(D_t); S_t = sample(M_t); K_t = gates(S_t); metrics(t); D_t+1 = paradigm(D_t, K_t, R)

execute() opens (or starts) the run directory and runs the generations still missing; run_generation()
is one generation, a commented call per stage. Building the parts is parts.py's job, reading
committed generations back readback.py's (both in running/).
"""
from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from lmcollapse import seeding
from lmcollapse.running import stop_signals
from lmcollapse.config import Config, identity_difference
from lmcollapse.corpora.corpus import REAL, Corpus
from lmcollapse.calibration import threshold_for_share
from lmcollapse.corpora.parquet import read_corpus
from lmcollapse.errors import LmcollapseError, RunInterrupted
from lmcollapse.running.parts import Experiment, build, prepare
from lmcollapse.gates import GateContext, ReferenceModel
from lmcollapse.gates.sampling import GatedSamples, draw_gated
from lmcollapse.running.activity import generation_activity
from lmcollapse.running.manifest import GenerationManifest
from lmcollapse.metrics import GenerationView, RealStatistics, default_metrics, measure
from lmcollapse.models import LanguageModel
from lmcollapse.models.neural import NeuralConfig
from lmcollapse.paradigms import DataState, initial_state
from lmcollapse.probes.run import ProbeRun
from lmcollapse.running.progress import Progress
from lmcollapse.running.provenance import environment, torch_device
from lmcollapse.running.readback import model_of_generation, restore_state, starting_weights, stored_config
from lmcollapse.running.rundir import GenerationRecord, RunDir
from lmcollapse.version import __version__

T = TypeVar("T")

class RunState(ReferenceModel):
    """What one execution of a run keeps across generations (typed, owned here): the generation-0 model that
    gates compare against, the previous model init: previous begins from, statistics of the real data, the
    downstream probe and its baseline."""

    def __init__(self, experiment: Experiment, rd: RunDir):
        self.experiment, self.rd = experiment, rd
        self.real_stats = RealStatistics(experiment.real)
        self.probe = None if experiment.probe is None else ProbeRun(
            experiment.config, experiment.probe, experiment.real, experiment.held_out, experiment.new_model, rd)
        self._reference: LanguageModel | None = None
        self._latest: tuple[int, LanguageModel] | None = None
        self._base: LanguageModel | None = None  # init: base: loaded once (a fit copies its weights, never changes it)
        self._tce_gamma: float | None = None  # model.tce_masked_share: calibrated once, from generation 0

    def model_parameters(self, t: int) -> dict:
        """Model parameters generation t >= 1 trains with beyond its config: under model.tce_masked_share the
        calibrated tce_gamma, the probability above which M_0 (trained with plain cross-entropy: parts.new_model)
        puts that share of the tokens of its own samples (generation 0's, in the run directory), the data the
        learner of generation 1 trains on."""
        share = getattr(self.experiment.config.model, "tce_masked_share", None)
        if share is None or t == 0:
            return {}
        if self._tce_gamma is None:
            _, logp = self.reference_model().token_log_probs(read_corpus(self.rd.generation(0).samples))
            self._tce_gamma = min(max(threshold_for_share(np.exp(logp), share), 1e-6), 1 - 1e-9)
        return {"tce_gamma": self._tce_gamma}

    def fitted(self, t: int, model: LanguageModel) -> None:
        """Generation t's model has just been trained."""
        self._latest = (t, model)
        if t == 0:
            self._reference = model

    def reference_model(self) -> LanguageModel:
        """The generation-0 model (trained on real data only, D_0 = R); after a resume, loaded or refitted."""
        if self._reference is None:
            self._reference = model_of_generation(self.experiment.config, self.rd, 0, lambda: self.experiment.real)
        return self._reference

    def previous_model(self, t: int) -> LanguageModel:
        """Generation t-1's model: the one just trained, or after a resume the saved one (same weights)."""
        if self._latest is not None and self._latest[0] == t - 1:
            return self._latest[1]
        return model_of_generation(self.experiment.config, self.rd, t - 1, train=None)

    def starting_model(self, t: int) -> LanguageModel | None:
        """The weights generation t's training starts from: none (init: scratch), generation t-1's model (init:
        previous; none at generation 0), or the base model (init: base, every generation)."""
        init = self.experiment.config.init
        if init == "previous" and t > 0:
            return self.previous_model(t)
        if init == "base":
            if self._base is None:
                self._base = starting_weights(self.experiment.config, t)
            return self._base
        return None


def device_of(config: Config) -> str:
    return torch_device(config.model.device) if isinstance(config.model, NeuralConfig) else "cpu (numpy)"


def execute(config: Config, out_dir: str | Path, progress: bool = True, group: str | None = None,
            values: dict | None = None) -> Path:
    """Run (or resume) the experiment in out_dir until config.generations are committed. group, values: for a
    run of a sweep, the sweep folder's name and the point's varied keys (what the trackers group it by)."""
    rd = _usable_run_dir(out_dir)
    if finished(config, rd):  # nothing to do, and nothing written: a finished run may sit on read-only storage
        stored = stored_config(rd.path).generations
        if progress and config.generations < stored:
            print(f"[lmcollapse] {fewer_note(rd.path, stored, config.generations)}", file=sys.stderr)
        return rd.path
    with RunSession(config, rd, progress, group, values) as session:
        experiment = session.experiment
        state = RunState(experiment, rd)
        data = restore_state(experiment, rd, session.done) if session.done else initial_state(experiment.real)
        for t in session.generations_left():
            row, data = run_generation(experiment, state, rd, t, data, session.bar, session.env)
            session.committed(t, row)
    return rd.path


def _usable_run_dir(out_dir: str | Path) -> RunDir:
    """out_dir as a run directory, refused when it is a file or a folder of something else."""
    rd = RunDir(out_dir)
    if rd.path.exists() and not rd.path.is_dir():
        raise LmcollapseError(f"--out {rd.path} is a file, not a run directory; choose another --out")
    if rd.path.exists() and not rd.exists():
        foreign = rd.foreign_entries()
        if foreign:
            raise LmcollapseError(f"{rd.path} is not empty and is not an lmcollapse run directory (it holds "
                                  f"{foreign[0]!r}); choose a new or empty --out")
    return rd


class RunSession:
    """One execution of a run, as a context manager: on entry it takes the directory's lock, starts the run or
    checks the stored one against the config, recomputes from the first damaged generation, builds the parts
    and opens the progress bar and trackers; on exit it closes them and releases the lock, and turns Ctrl-C or
    SIGTERM into a RunInterrupted that says what is committed."""

    def __init__(self, config: Config, rd: RunDir, progress: bool, group: str | None, values: dict | None):
        self.config, self.rd = config, rd
        self._progress, self._group, self._values = progress, group, values
        self._resources = contextlib.ExitStack()
        self.env = environment(device_of(config))
        self._started = 0.0

    def __enter__(self) -> "RunSession":
        config, rd = self.config, self.rd
        fresh_dir = not rd.path.exists()
        with contextlib.ExitStack() as opening:  # undone if anything below fails
            opening.enter_context(rd.lock())
            notes = _open_or_start(config, rd, fresh_dir, self.env)
            rd.drop_partial()
            inspection = rd.inspect(full=True)  # every file against its checksum: a resume never builds on damage
            if inspection.damaged:  # recompute the damaged generation and all after it (stage seeds make it exact)
                notes.append(f"{rd.path}: {inspection.summary()}; recomputing generations {inspection.intact} "
                             f"onwards")
                rd.discard_from(inspection.intact)
            self.experiment = build(config, rd)
            self.done = inspection.intact  # after the discard, every generation left is intact
            rd.write_metrics_jsonl(rd.metrics_rows(self.done))  # repairs a file cut short by a crash
            self.bar = Progress(config.generations, self.done, enabled=self._progress)
            opening.callback(self.bar.close)
            for note in notes:
                self.bar.message(note)
            if self.done:
                self.bar.message(f"resuming {rd.path} after generation {self.done - 1}")
            cap_note = length_cap_note(self.experiment)
            if cap_note:
                self.bar.message(cap_note)
            self.tracked = _trackers(config, rd, self._group, self._values) if self.done < config.generations else None
            if self.tracked is not None:
                opening.callback(self.tracked.finish)
            self._resources = opening.pop_all()
        return self

    def generations_left(self):
        """The generations still to run, in order; a stop requested between two of them ends the loop."""
        for t in range(self.done, self.config.generations):
            stop_signals.raise_if_stopped()  # a Ctrl-C whose KeyboardInterrupt a finaliser swallowed
            self._started = time.perf_counter()
            yield t

    def committed(self, t: int, row: dict) -> None:
        """Generation t is in the directory: its row joins metrics.jsonl, the trackers and the progress bar."""
        self.rd.append_metrics_row(row)
        if self.tracked is not None:  # a copy for the lab's tracker; the directory is the record
            self.tracked.log(t, row)
        self.bar.generation_done(t, row, time.perf_counter() - self._started)

    def __exit__(self, kind, error, traceback) -> bool:
        with self._resources:  # trackers finished, bar closed, lock released, whatever happens below
            if kind is not None and issubclass(kind, KeyboardInterrupt):
                raise self._interrupted() from None
        return False

    def _interrupted(self) -> RunInterrupted:
        # The generation in flight is abandoned: its scratch directory is dropped on the next start. What is
        # committed is read from the directory: the signal may land just after a commit, before the loop has
        # moved on to the next generation.
        n, path = self.rd.inspect().intact, self.rd.path
        if n:
            return RunInterrupted(f"interrupted: {path} has generations 0-{n - 1} committed; generation {n} was in "
                                  f"progress and is abandoned; run the same command again (or lmcollapse run --out "
                                  f"{path}) to resume")
        return RunInterrupted(f"interrupted during generation 0 of {path} (abandoned); run the same command again "
                              f"to start it over")


def _trackers(config: Config, rd: RunDir, group: str | None, values: dict | None):
    """The config's trackers, started for this run (warnings on stderr, whatever the progress setting)."""
    if not config.trackers:
        return None
    from lmcollapse.trackers import open_trackers

    warn = lambda message: print(f"[lmcollapse] {message}", file=sys.stderr, flush=True)  # noqa: E731
    return open_trackers(config.trackers, rd, config.model_dump(mode="json", exclude={"trackers"}), warn, group,
                         values)


NOTHING_TO_TRAIN_ON = "has no document to train on"  # what a run whose gates passed nothing fails with


def fewer_note(path: Path, has: int, asked: int) -> str:
    return f"{path} is a run of {has} generations; asking for {asked} adds nothing (its generations are kept)"


def finished(config: Config, rd: RunDir) -> bool:
    """Whether rd holds this run with every asked-for generation committed and intact (checksums) and its
    metrics.jsonl whole."""
    if not rd.exists():
        return False
    try:
        rd.check_format()
        same = identity_difference(stored_config(rd.path), config) is None
    except LmcollapseError:
        return False  # the locked path below says what is wrong
    if not same or rd.inspect().intact < config.generations:  # sizes first: a run to extend hashes nothing here
        return False
    inspection = rd.inspect(full=True)
    return (not inspection.damaged and inspection.intact >= config.generations
            and rd.metrics_file_problem(inspection.intact) is None)


def length_cap_note(experiment: Experiment) -> str | None:
    """A warning when generated documents will be cut shorter than real ones are (end-token corpora)."""
    real, cap = experiment.real, experiment.sampler.max_tokens
    if real.eos_id is None or not len(real):
        return None
    longer = float((real.lengths > cap).mean())
    if longer == 0:
        return None
    quantile = float((real.lengths <= cap).mean())
    return (f"warning: sampler.max_tokens={cap} is shorter than {longer:.0%} of the real training documents (the cap "
            f"sits at their {quantile:.0%} quantile; the longest has {int(real.lengths.max())} tokens): generated "
            f"documents are cut there (the capped_fraction metric counts them); raise sampler.max_tokens to keep "
            f"them whole")


def _open_or_start(config: Config, rd: RunDir, fresh_dir: bool, env: dict) -> list[str]:
    """Check an existing run against config (or prepare a new one); the notes to print."""
    if not rd.exists():
        try:
            prepare(config, rd, env)
        except BaseException:
            if fresh_dir:  # leave nothing behind for a run that never started
                shutil.rmtree(rd.path, ignore_errors=True)
            raise
        return []
    notes = []
    written_by = rd.check_format().get("lmcollapse_version")
    if written_by != __version__:
        notes.append(f"{rd.path} was started by lmcollapse {written_by}; generations added by {__version__} "
                     f"may differ from what {written_by} would have produced")
    previous = stored_config(rd.path)
    _check_same_experiment(previous, config, rd.path)
    if config.generations > previous.generations:  # extending a run: its config now asks for more
        rd.write_config(config)
    elif config.generations < previous.generations:  # never shrink a run's record of what it was asked to do
        notes.append(fewer_note(rd.path, previous.generations, config.generations))
    return notes


def _check_same_experiment(old: Config, new: Config, path: Path) -> None:
    difference = identity_difference(old, new)
    if difference is not None:
        raise LmcollapseError(f"{path} holds a run with a different config ({difference}); use another --out, or "
                              f"run it again without a config to resume it")


def run_generation(experiment: Experiment, state: RunState, rd: RunDir, t: int, data: DataState, bar: Progress,
                   env: dict) -> tuple[dict, DataState]:
    """One generation of the loop: train on D_t, sample and gate, measure, build D_t+1, commit."""
    cfg, root = experiment.config, experiment.config.seed
    seconds: dict[str, float] = {}

    def stage(name: str, work: Callable[[], T]) -> T:
        bar.stage(t, name)
        start = time.perf_counter()
        result = work()
        seconds[name] = round(time.perf_counter() - start, 4)
        return result

    def report(name: str, done: int, total: int) -> None:  # long stages (neural) say how far they have got
        bar.within(t, name, done, total)

    # M_t = fit(a fresh model, D_t), or from M_t-1's weights (init: previous), or from the base (init: base)
    init = state.starting_model(t)
    if t > 0 and not len(data.train):  # gates that passed nothing under a policy that keeps only new documents
        raise LmcollapseError(f"generation {t} {NOTHING_TO_TRAIN_ON}: the gates passed none of those drawn at "
                              f"generation {t - 1} (its acceptance_rate is 0); loosen the gates or raise "
                              f"oversample_max")
    # what the learner sees: D_t, or at t >= 1 a resample of it (a resampling gate); D_t itself stays as built
    learner_set, resampled = data.train, {}
    if t > 0 and experiment.gates.resampler is not None:
        resample_context = GateContext(t, None, data.train, experiment.real, experiment.held_out, experiment.truth,
                                       run=state, sampler=experiment.sampler)
        learner_set, resampled = stage("resample", lambda: experiment.gates.resampler.resample(
            data.train, resample_context, seeding.rng(root, t, "resample")))
    calibrated = state.model_parameters(t)
    model = stage("fit", lambda: experiment.new_model(t, **calibrated).fit(
        learner_set, seed=seeding.derived_seed(root, t, "fit"), progress=report, init=init))
    state.fitted(t, model)
    # S_t and K_t: sample (or produce) candidates and filter them until the contribution is full
    n_new = experiment.paradigm.n_synthetic(len(experiment.real))
    gate_context = GateContext(t, model, data.train, experiment.real, experiment.held_out, experiment.truth, run=state,
                               sampler=experiment.sampler)
    drawn = stage("sample", lambda: draw_gated(
        n_new, model, experiment.gates, gate_context, root=root, t=t, sampler=experiment.sampler,
        producer=f"{cfg.model.name}@gen-{t}", oversample_max=cfg.oversample_max, decode=experiment.decode,
        progress=report))
    kept = drawn.candidates.take(np.flatnonzero(drawn.keep))
    if len(kept) < n_new:
        bar.message(f"generation {t}: only {len(kept)} of {n_new} documents passed the gates after drawing "
                    f"{len(drawn.candidates)} (oversample_max={cfg.oversample_max:g}); this model contributes fewer")
    # metrics(t) on M_t, D_t, S_t, K_t, E
    row = stage("metrics", lambda: measure(_view(experiment, state, t, model, data, drawn, kept, n_new),
                                           cfg.metrics or default_metrics(),
                                           seed=root, rounds=cfg.ci_rounds).to_json())
    # D_t+1 = paradigm(D_t, K_t, R)
    next_data = stage("paradigm", lambda: experiment.paradigm.next_state(
        data, kept, experiment.real, seeding.rng(root, t, "paradigm"), experiment.fresh_supply(), t + 1))
    # commit generation t: all of its files or none
    calibrated = {f"model.{k}": v for k, v in calibrated.items() if k == "tce_gamma"}
    for gate in (*experiment.gates.filters, experiment.gates.producer, experiment.gates.resampler):
        calibrated.update({f"gates.{gate.name}.{k}": v for k, v in gate.calibrated().items()} if gate else {})
    rd.commit_generation(t, _record(experiment, t, model, data, next_data, drawn, kept, row, seconds, env,
                                    learner_set, resampled, calibrated))
    return row, next_data


def _view(experiment: Experiment, state: RunState, t: int, model: LanguageModel, data: DataState,
          drawn: GatedSamples, kept: Corpus, n_new: int) -> GenerationView:
    """What the metrics see. They look at the model's first n_new documents (round 0 of the sampling): the
    same amount with or without gates."""
    first = drawn.candidates if len(drawn.candidates) <= n_new else drawn.candidates.take(np.arange(n_new))
    return GenerationView(t, model, data.train, data.pool, first, kept, experiment.real, experiment.held_out,
                          truth=experiment.truth, doc_length=experiment.config.corpus.doc_length,
                          real_stats=state.real_stats, probe=state.probe, max_tokens=experiment.sampler.max_tokens,
                          acceptance=drawn.acceptance_rate if experiment.gates else None,
                          sampler=experiment.sampler, seed=experiment.config.seed,
                          next_learner=_next_learner(experiment, state, t))


def _next_learner(experiment: Experiment, state: RunState, t: int) -> Callable | None:
    """Training as generation t+1 will train, for a metric that draws the next generation (direction_forecast):
    its config, the weights it starts from (none, M_t, or the base) and the learner set as given (a resampling
    gate is not applied). None under a calibrated tce: its gamma is read from generation 0's committed samples,
    which do not exist yet while generation 0 is measured."""
    if getattr(experiment.config.model, "tce_masked_share", None) is not None:
        return None
    return lambda corpus, seed: experiment.new_model(t + 1).fit(corpus, seed=seed, init=state.starting_model(t + 1))


def _record(experiment: Experiment, t: int, model: LanguageModel, data: DataState, next_data: DataState,
            drawn: GatedSamples, kept: Corpus, row: dict, seconds: dict, env: dict, learner_set: Corpus,
            resampled: dict, calibrated: dict) -> GenerationRecord:
    columns = {"kept": drawn.keep, **{f"score_{name}": v for name, v in drawn.scores.items()}}
    if experiment.gates:
        columns["rejected_by"] = drawn.rejected_by.astype(str)
    pool = next_data.pool
    fresh = pool.take(np.flatnonzero((pool.origin == REAL) & (pool.generation == t + 1)))
    manifest = GenerationManifest(generation=t, n_train=len(data.train), n_sampled=len(drawn.candidates),
                                  n_kept=len(kept), gates=drawn.counts, sampling_rounds=drawn.rounds,
                                  composition=data.train.composition(), seconds=seconds,
                                  activity={**generation_activity(drawn, experiment.gates, model), **resampled},
                                  calibrated=calibrated, real_token_share=_real_token_share(learner_set),
                                  environment=env)
    return GenerationRecord(train_ids=data.train.doc_id, pool_ids=None if data.pool is data.train else data.pool.doc_id,
                            samples=drawn.candidates, sample_columns=columns, fresh=fresh,
                            model=model if experiment.config.save_models else None, metrics=row, manifest=manifest)


def _real_token_share(train: Corpus) -> float | None:
    """The share of the training set's tokens that are real text (None for an empty set)."""
    total = int(train.lengths.sum())
    return float(train.lengths[train.origin == REAL].sum()) / total if total else None
