"""The `lmcollapse` command: parses options, calls the library, and prints its tables; what a path holds
(a run or a sweep) is decided once, by api.open_results."""
from __future__ import annotations

import errno
import hashlib
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from lmcollapse import plugins
from lmcollapse.running import stop_signals
from lmcollapse.api import load_run, open_results, resolve_config
from lmcollapse.config import to_yaml
from lmcollapse.config import validate as validate_config
from lmcollapse.analysis.verdict import judge
from lmcollapse.errors import LmcollapseError, RunInterrupted
from lmcollapse.running.parts import load_config, load_source, preflight
from lmcollapse.studies import load_spec as load_experiment_spec
from lmcollapse.studies.base import study_named, study_of
from lmcollapse.gates import GATES
from lmcollapse.metrics import METRICS, NEEDS
from lmcollapse.models import MODELS
from lmcollapse.paradigms import PARADIGMS
from lmcollapse.analysis.report import build_report
from lmcollapse.running.rundir import RunDir
from lmcollapse.running.loop import execute
from lmcollapse.sources import SOURCES
from lmcollapse.sweep import (Sweep, SweepDir, is_sweep, load_spec, make_executor, plan, run_sweep, seeds_base,
                              seeds_spec, tables)
from lmcollapse.sweep.legacy import upgrade as upgrade_legacy
from lmcollapse.sweep.folder import table_problem
from lmcollapse.sweep.spec import parse_seeds
from lmcollapse.studies.execution import SHARED_BASES, against_folder, uses_study_bases
from lmcollapse.sweep.sweepdir import TABLES
from lmcollapse.tokenizers import TOKENIZERS
from lmcollapse.cli.output import console, err_console
from lmcollapse.cli.tables import (
    metrics_table, print_departures, print_seed_table, print_sweep_summary, warn_of_damaged_runs)
from lmcollapse.version import __version__

app = typer.Typer(add_completion=False, no_args_is_help=False, help="Study model collapse: train language "
                  "models generation after generation on data their predecessors generated.")

def executor_option():
    return typer.Option("local", "--executor", help="where runs go: local (a process pool) or ray")


def address_option():
    return typer.Option(None, "--address", help="ray: auto or HOST:PORT of a running cluster (default: start a "
                                                "local one)")


def gpus_option():
    return typer.Option(None, "--gpus-per-run", help="GPUs per run; 0.5 packs two runs on a GPU")


def cpus_option():
    return typer.Option(None, "--cpus-per-run", help="ray: CPUs per run (default 1)")


def tracker_option():
    return typer.Option([], "--tracker", help="also log every generation to mlflow, tensorboard or wandb "
                                              "(repeatable; offline by default; a failing tracker is a warning)")


def with_trackers(overrides: list[str], trackers: list[str]) -> list[str]:
    """--set overrides plus the --tracker list (a config key that is not part of the run's identity)."""
    return [*overrides, f"trackers=[{', '.join(trackers)}]"] if trackers else list(overrides)


def plugin_option():
    return typer.Option([], "--plugin", help="a .py file or module registering your own components (a gate...), "
                                             "imported first (repeatable)")


@app.command()
def run(
    config: Optional[Path] = typer.Argument(None, help="YAML/TOML config; omit for the built-in demo"),
    set_: List[str] = typer.Option([], "--set", help="override a key: --set model.order=3 (repeatable)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory (default runs/<corpus>-<paradigm>-<hash>)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="run several seeds, e.g. 0-9 or 1,4,7, and aggregate"),
    workers: Optional[int] = typer.Option(None, "--workers", help="--seeds: parallel processes (default: one per "
                                                                   "core; 1 = one after another)"),
    executor: str = executor_option(),
    address: Optional[str] = address_option(),
    gpus_per_run: Optional[float] = gpus_option(),
    cpus_per_run: Optional[float] = cpus_option(),
    plugin: List[str] = plugin_option(),
    tracker: List[str] = tracker_option(),
):
    """Run an experiment, or resume it if --out already holds a run of it."""
    plugins.load_all(plugin)
    set_ = with_trackers(set_, tracker)
    if seeds is not None:
        return _run_seeds(config, set_, out, quiet, seeds, workers, executor, address, gpus_per_run, cpus_per_run)
    if executor != "local" or address or gpus_per_run or cpus_per_run:
        raise LmcollapseError("--executor, --address, --gpus-per-run and --cpus-per-run apply to several runs: "
                              "use them with --seeds, or `lmcollapse sweep`")

    resolved, resuming = resolve_config(config, out, set_)
    out = out or RunDir.for_config(resolved).path
    if config is None and not set_ and not quiet and not resuming:
        print(f"[lmcollapse] no config given: running the built-in demo ({resolved.corpus.name}, "
              f"{resolved.model.name} order {resolved.model.order}, {resolved.paradigm.name}, "
              f"{resolved.generations} generations)", file=sys.stderr)
    path = execute(resolved, out, progress=not quiet)
    rd = RunDir(path)
    console.print(metrics_table(rd.read_metrics_jsonl(), title=str(path)))
    print(f"results: {rd.metrics_file}  (lmcollapse show {path})")


def _run_seeds(config, set_, out, quiet, seeds_text, workers, executor, address, gpus_per_run, cpus_per_run):
    """Several seeds of one config: a sweep of one point (resumed, or extended by more seeds, on its --out)."""
    seeds = parse_seeds(seeds_text)
    if any(o.split("=", 1)[0].strip() == "seed" for o in set_):
        raise LmcollapseError("--set seed does not apply with --seeds: each run's seed is one of --seeds; give "
                              "--seeds 7 (or 7-9) instead")
    if config is None and out is not None and is_sweep(out):
        base, stored_seeds = seeds_base(out)
        resolved, seeds = load_config(base, set_), sorted(set(seeds) | set(stored_seeds))
    else:
        resolved = load_config(config, set_)
    out = out or Path(f"{RunDir.for_config(resolved.model_copy(update={'seed': 0})).path}-seeds")
    chosen = make_executor(executor, workers=workers, address=address, gpus_per_run=gpus_per_run,
                           cpus_per_run=cpus_per_run, storage=out)
    the_plan, outcome = run_sweep(seeds_spec(resolved, seeds), out, chosen, progress=not quiet)
    done = Sweep(the_plan.out)
    print_seed_table(done)
    print(f"results: {done.table_file('aggregate')} (.csv; mean over seeds with 95% intervals), every seed's rows "
          f"in {done.table_file('results').name} (lmcollapse report {the_plan.out})")
    exit_on_failures(outcome)


def exit_on_failures(outcome) -> None:
    """After a sweep's tables are printed: its failed runs, one line each, and exit 1."""
    if outcome.failures:
        for line in outcome.failure_report():
            err_console.print(line, markup=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command()
def sweep(
    spec: Optional[Path] = typer.Argument(None, help="a config file; its sweep: block (grid, zip, points, seeds) "
                                                     "holds the axes (with --grid, omit it for the demo config)"),
    set_: List[str] = typer.Option([], "--set", help="override a key of the base config (repeatable)"),
    grid: List[str] = typer.Option([], "--grid", help="an axis: key=a,b,c (repeatable; axes multiply)"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="seeds of every point, e.g. 0-9 (default: the "
                                                              "block's seeds, else the config's seed)"),
    executor: str = executor_option(),
    address: Optional[str] = address_option(),
    workers: Optional[int] = typer.Option(None, "--workers", help="local: parallel processes (default: cores)"),
    gpus_per_run: Optional[float] = gpus_option(),
    cpus_per_run: Optional[float] = cpus_option(),
    out: Optional[Path] = typer.Option(None, "--out", help="the sweep folder (default runs/sweep-<hash of spec>)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list the points and the number of runs; run nothing"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
    plugin: List[str] = plugin_option(),
    tracker: List[str] = tracker_option(),
):
    """Run every point of a grid of config keys with every seed, each an ordinary run directory; collect
    results.parquet. Run it again to resume only what is missing."""
    plugins.load_all(plugin)
    set_ = with_trackers(set_, tracker)
    if spec is None and not grid:
        raise LmcollapseError("give a sweep spec (a config with a sweep: block), or --grid key=a,b,c to sweep the "
                              "built-in demo config; lmcollapse sweep --help shows the options")
    the_spec = load_spec(spec, set_, grid, parse_seeds(seeds) if seeds is not None else None)
    if out is None:
        digest = hashlib.sha256(json.dumps([the_spec.base, the_spec.describe()], sort_keys=True,
                                           default=str).encode()).hexdigest()[:8]
        out = Path("runs") / f"sweep-{digest}"
    if dry_run:
        the_plan = plan(the_spec, out)
        preflight_tasks(the_plan.tasks)
        for point in the_plan.points:
            print(f"point {point.index}: {point.label}")
        unique = len({t.run_dir for t in the_plan.tasks})
        print(f"{len(the_plan.points)} points x {len(the_spec.seeds)} seeds = {len(the_plan.tasks)} runs"
              + (f" ({unique} distinct)" if unique != len(the_plan.tasks) else "")
              + f", every config valid; --out {out}")
        return
    chosen = make_executor(executor, workers=workers, address=address, gpus_per_run=gpus_per_run,
                           cpus_per_run=cpus_per_run, storage=out)
    the_plan, outcome = run_sweep(the_spec, out, chosen, progress=not quiet)
    print_sweep_summary(the_plan.out)
    done = Sweep(the_plan.out)
    print(f"results: {done.table_file('results')} (.csv), per point: {done.table_file('aggregate')} "
          f"(lmcollapse report {the_plan.out})")
    exit_on_failures(outcome)


def preflight_tasks(tasks) -> None:
    """preflight every distinct corpus the tasks read (once each), naming the point that asks too much."""
    seen = set()
    for task in tasks:
        config = validate_config(task.config)
        key = json.dumps([config.corpus.model_dump(), config.probe.model_dump()], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            preflight(config)
        except LmcollapseError as exc:
            raise LmcollapseError(f"sweep point {task.label or 'base'}: {exc}") from None


@app.command()
def show(run_dir: Path = typer.Argument(..., help="a run directory, a --seeds directory or a sweep folder"),
         as_json: bool = typer.Option(False, "--json", help="print metrics as JSON lines"),
         samples: int = typer.Option(0, "--samples", help="also print this many generated documents from the "
                                                         "first and the last generation"),
         plugin: List[str] = plugin_option()):
    """Show a run's metrics per generation and early warnings; for a sweep, one line per point, or for seeds
    of one config (run --seeds) the mean over seeds per generation (--json: the aggregate rows)."""
    plugins.load_all(plugin)
    r = open_results(run_dir)
    if isinstance(r, Sweep):
        if samples:
            first = next((d for d in r.started_runs()), None)
            raise LmcollapseError("--samples shows one run's documents; give one of the sweep's runs"
                                  + (f" (lmcollapse show {first} --samples {samples})" if first else ""))
        warn_of_damaged_runs(r)
        if as_json:
            for row in tables(run_dir)[1]:
                print(json.dumps(row))
        elif len(r.points) == 1:
            print(run_dir)
            print_seed_table(r)
        else:
            study = study_of(r)  # a study's folder shows what the study says (the benchmark: its leaderboard)
            if study is None or not study.show(r, console):
                print_sweep_summary(run_dir)
        return
    inspection = r.inspect(full=True)  # every file against its checksum: a changed byte is damage too
    if inspection.damaged:
        err_console.print(f"warning: {run_dir}: {inspection.summary()}; showing {inspection.intact_range()}; "
                          f"lmcollapse run --out {run_dir} recomputes the rest", markup=False, soft_wrap=True)
    rows = r.metrics[:inspection.intact]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    console.print(metrics_table(rows, title=f"{run_dir} ({inspection.intact}/{r.config.generations} generations)"))
    c = r.config
    settings = " ".join(f"{k}={v}" for k, v in c.model.model_dump(exclude={"name"}).items()
                        if k in ("order", "smoothing", "n_layer", "n_embd", "hf_config", "block_size", "epochs"))
    print(f"corpus {c.corpus.name} N={c.corpus.n_train}, model {c.model.name} {settings}, "
          f"paradigm {c.paradigm.name}, seed {c.seed}")
    if len(rows) > 1:
        verdict, departures = judge(str(run_dir), [rows])
        print(f"verdict: {verdict.line()}")
        print_departures(departures)
    if samples and inspection.intact:
        for t in sorted({0, inspection.intact - 1}):
            docs = r.samples(t)
            print(f"\n-- generated by model {t} --")
            for i in range(min(samples, len(docs))):
                text = docs.text[i] if docs.text is not None else " ".join(map(str, docs.doc(i)))
                print(f"  {text}")


@app.command()
def report(run_dirs: List[Path] = typer.Argument(..., help="run directories and/or sweep folders (--seeds, "
                                                            "reproduce)"),
           out: Path = typer.Option(Path("report.html"), "--out", help="the HTML file to write"),
           plugin: List[str] = plugin_option()):
    """One self-contained HTML report comparing runs (plots also as PNGs in OUT_files/); a study's folder's
    report opens with the study's written outcome and figure."""
    plugins.load_all(plugin)
    preface = figure = None
    study = study_of(Sweep(run_dirs[0])) if len(run_dirs) == 1 and is_sweep(run_dirs[0]) else None
    if study is not None:
        folder = SweepDir(run_dirs[0])
        text_file, figure_file = study.outcome_file(folder), study.figure_file(folder)
        preface = text_file.read_text() if text_file.is_file() else None
        figure = figure_file.read_bytes() if figure_file.is_file() else None
    path = build_report(run_dirs, out, preface, figure)
    print(f"report: {path} (plots also in {path.with_name(path.stem + '_files')}/)")


@app.command()
def reproduce(name: str = typer.Argument(..., help="experiment name (paper, quality-vs-quantity, mitigations, direction) or a spec YAML"),
              out: Optional[Path] = typer.Option(None, "--out", help="where to put runs and reports "
                                                                     "(default runs/reproduce-NAME[-quick])"),
              quick: bool = typer.Option(False, "--quick", help="the small version (minutes)"),
              workers: Optional[int] = typer.Option(None, "--workers", help="parallel processes (default: cores)"),
              model: Optional[str] = typer.Option(None, "--model", help="paper: gpt, ngram or both; mitigations: gpt, ngram, ngram-markov; direction: ngram, gpt (comma-separated; default all)"),
              scale: Optional[str] = typer.Option(None, "--scale", help="paper: cpu (default), cpu-large (a "
                                                                        "1.9M-parameter GPT, 40 generations: hours) or "
                                                                        "paper (the paper's preset: GPU and internet)"),
              dry_run: bool = typer.Option(False, "--dry-run", help="check every run's config, run nothing"),
              seeds: Optional[str] = typer.Option(None, "--seeds", help="seeds instead of the spec's (0-9 or "
                                                  "0,3,7); mitigations: auto extends every row until its MDE "
                                                  "reaches the spec's target or its seed budget"),
              bases: Optional[Path] = typer.Option(None, "--bases", help="the folder of pretrained bases for the "
                                                   "fine-tuning rows (model.base: study), shared between studies: "
                                                   "a base already there is reused (default OUT/bases); give it again "
                                                   "when resuming"),
              quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output"),
              executor: str = executor_option(),
              address: Optional[str] = address_option(),
              gpus_per_run: Optional[float] = gpus_option(),
              cpus_per_run: Optional[float] = cpus_option(),
              plugin: List[str] = plugin_option(),
              tracker: List[str] = tracker_option()):
    """Run a named experiment end to end: every variant and seed, reports, and a written summary. Killed? Run
    the same command again: committed generations are kept."""
    plugins.load_all(plugin)

    spec = load_experiment_spec(name)
    from lmcollapse.trackers import TRACKERS

    unknown = [t for t in tracker if t not in TRACKERS]
    if unknown:
        raise LmcollapseError(f"--tracker {unknown[0]!r}: choose one of: {', '.join(TRACKERS.names())}")
    spec["trackers"] = list(tracker)
    study = study_named(spec)
    if model is not None and not study.models:
        raise LmcollapseError(f"--model applies to the studies that run several models, not {study.name}")
    if scale not in (None, "cpu") and scale not in spec.get("scales", {}):
        raise LmcollapseError(f"--scale {scale!r}: {study.name} runs at "
                              f"{', '.join(['cpu', *spec.get('scales', {})])}")
    if seeds == "auto":
        if "power" not in spec:
            raise LmcollapseError(f"--seeds auto needs a power section in the spec (a target MDE per model and a "
                                  f"seed budget); {study.name}'s has none: give the seeds, e.g. --seeds 0-9")
        spec["seeds_auto"] = True
    elif seeds is not None:
        spec["seeds"] = parse_seeds(seeds)
        # the seeds asked for, at either size and every scale (a scale's own seeds would otherwise win)
        for section in (spec.get("quick", {}), *spec.get("scales", {}).values()):
            section.pop("seeds", None)
    models = study.models if model in (None, "both", "all") else tuple(model.split(","))
    unknown = [m for m in models if m not in study.models]
    if unknown:
        raise LmcollapseError(f"--model {unknown[0]!r}: choose {', '.join(study.models)} (comma-separated) or all")
    if bases is not None:
        if not uses_study_bases(spec, models):
            raise LmcollapseError(f"--bases applies to rows that fine-tune a study's base (model.base: study); "
                                  f"{study.name} runs none{' among --model ' + model if model else ''}: leave it out")
        spec[SHARED_BASES] = str(bases.resolve())  # absolute: every run's config names the same folder
    suffix = ("-quick" if quick else "") + (f"-{scale}" if scale and scale != "cpu" else "")
    out = out or Path("runs") / f"reproduce-{spec['name']}{suffix}"
    if dry_run:
        the_plan = study.planned(spec, quick=quick, scale=scale or "cpu", models=models)
        print("\n".join(the_plan.lines(f"{spec['name']}{suffix.replace('-', ' ')}", out)))
        runs = study.planned_runs(spec, quick=quick, scale=scale or "cpu", models=models, out=out)
        held = against_folder(study.name, *runs, out) if runs is not None else None
        if held:
            print(held)
        return
    executor_ = make_executor(executor, workers=workers, address=address, gpus_per_run=gpus_per_run,
                              cpus_per_run=cpus_per_run, storage=out)
    root = study.reproduce(spec, out, quick=quick, progress=not quiet, executor=executor_, models=models,
                           scale=scale or "cpu")
    folder = SweepDir(root)
    print(study.outcome_file(folder).read_text())
    print(study.closing_line(folder))


@app.command()
def check(run_dir: Path = typer.Argument(..., help="a run directory, a --seeds directory or a sweep folder"),
          plugin: List[str] = plugin_option()):
    """Verify every committed generation against the checksums recorded when it was committed; say what is
    damaged and how to repair it. Exit 0 when all is intact, 1 otherwise."""
    plugins.load_all(plugin)
    results = open_results(run_dir)
    # a sweep: every run it has started
    runs = [load_run(p) for p in results.started_runs()] if isinstance(results, Sweep) else [results]
    damaged = False
    if isinstance(results, Sweep):  # the folder's tables, which the runs' files rebuild
        for name in TABLES:
            problem = table_problem(results.path, name)
            if problem is not None:
                damaged = True
                print(f"{results.path}: {problem}; running the sweep's command again rebuilds it from the runs "
                      f"(no run is recomputed)")
    for r in runs:
        path = r.path
        inspection = r.inspect(full=True)
        table = r.metrics_file_problem(inspection.intact)
        if not inspection.damaged and table is None:
            print(f"{path}: {inspection.present} generations, all intact")
            continue
        damaged = True
        for t, why in inspection.problems:
            print(f"{path}: generation {t}: {why}")
        if table is not None:
            print(f"{path}: {table}; lmcollapse run --out {path} rewrites it from the generations (nothing is lost)")
        if inspection.damaged:
            verb = "are" if inspection.intact else "is"
            print(f"{path}: {inspection.intact_range()} {verb} intact; lmcollapse run --out {path} recomputes "
                  f"generation {inspection.intact} onwards (exactly: every draw comes from the run's seeds)")
    if damaged:
        raise typer.Exit(1)


@app.command()
def upgrade(path: Path = typer.Argument(..., help="a --seeds or reproduce folder written by lmcollapse 0.3")):
    """Convert a folder of many runs written by lmcollapse 0.3 into the sweep format, in place: runs are moved,
    not recomputed. Safe to run again after an interruption."""
    upgraded = upgrade_legacy(path)
    sweep = Sweep(upgraded)
    print(f"{upgraded}: now a sweep folder of {len(sweep.points)} point(s) x {len(sweep.seeds)} seed(s) "
          f"(lmcollapse show {upgraded})")


@app.command()
def validate(config: Optional[Path] = typer.Argument(None, help="a YAML/TOML config; omit for the built-in demo"),
             set_: List[str] = typer.Option([], "--set", help="override a key (as in run)"),
             plugin: List[str] = plugin_option()):
    """Check a config without running it (every check `run` makes before it starts); print the resolved config."""
    plugins.load_all(plugin)
    resolved = load_config(config, set_)
    preflight(resolved)
    console.print(to_yaml(resolved), end="", markup=False)
    err_console.print(f"{config or 'the built-in demo'}: valid")


@app.command()
def pretrain(config: Optional[Path] = typer.Argument(None, help="the config of the runs that will fine-tune the base "
                                                               "(its corpus, tokenizer, seed and model section)"),
             out: Path = typer.Option(..., "--out", help="where base models live; the base goes to OUT/base-<hash>"),
             set_: List[str] = typer.Option([], "--set", help="override a key (as in run), e.g. model.epochs=auto"),
             documents: Optional[int] = typer.Option(None, "--documents", min=1, help="pretrain on at most this many "
                                                     "of the left-over documents (default: all)"),
             plugin: List[str] = plugin_option()):
    """Train a base model once on the corpus's real text that no run of CONFIG sees (for the fine-tuning regime,
    model.init: base); a base already pretrained for the same config is reused."""
    from lmcollapse.running.base_model import pretrain as pretrain_base

    plugins.load_all(plugin)
    resolved = load_config(config, set_, for_pretraining=True)
    folder = pretrain_base(resolved, out, lambda: load_source(resolved), documents,
                           progress=lambda line: print(line, file=sys.stderr))
    print(folder)


@app.command("ls")
def list_components(kind: Optional[str] = typer.Argument(None, help="corpora, models, tokenizers, paradigms, gates, metrics")):
    """List the registered components with a one-line description each."""
    kinds = {"corpora": SOURCES, "models": MODELS, "tokenizers": TOKENIZERS, "paradigms": PARADIGMS,
             "gates": GATES, "metrics": METRICS}
    if kind is not None and kind not in kinds:
        raise LmcollapseError(f"unknown kind {kind!r}; choose one of: {', '.join(kinds)}")
    for name, registry in kinds.items():
        if kind is not None and name != kind:
            continue
        table = Table(title=name, show_header=False, title_justify="left")
        table.add_column("name", style="bold")
        table.add_column("description")
        for entry, text in registry.describe().items():
            if registry is METRICS:
                spec = METRICS.get(entry)
                direction = {True: "↑", False: "↓", None: ""}[spec.higher_is_better]
                needs = f" (needs {'; '.join(NEEDS[n] for n in spec.needs)})" if spec.needs else ""
                text = f"{direction} {text}{needs}".strip()
            table.add_row(escape(entry), escape(text))  # descriptions hold brackets ("[hf]"), not markup
        console.print(table)


from lmcollapse.cli.theory import app as theory_app  # noqa: E402

app.add_typer(theory_app, name="theory")


# The exception classes of whichever click typer runs on (recent typer ships its own copy, so the real
# click's classes never match what it raises): found from typer's own public names.
CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def version_callback(value: bool) -> None:
    if value:
        print(f"lmcollapse {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                      help="print the version and exit")):
    """Study model collapse: train language models generation after generation on data their predecessors
    generated."""


INTERRUPTED = "interrupted: committed generations are kept; run the same command again to resume"
# The storage refused a write: said in one line at the boundary, whichever command met it (nothing committed
# is lost: a generation is only ever renamed into place whole).
STORAGE_ERRORS = {errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                  errno.EPERM: "permission denied", errno.ENOTDIR: "a path on the way is a file, not a folder",
                  errno.EISDIR: "it is a folder", errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is full"}


FULL = (errno.ENOSPC, errno.EDQUOT)  # storage that is writable, only full: the same --out resumes once there is room


def storage_problem(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno in FULL:
        return (f"cannot write{where}: {STORAGE_ERRORS[exc.errno]}; free some space and run the same command "
                f"again: it goes on from what is committed (committed results are intact)")
    return (f"cannot write{where}: {STORAGE_ERRORS[exc.errno]}; choose a writable --out (committed results, "
            f"if any, are intact)")


def main() -> None:
    stopped_by = stop_signals.install()  # SIGTERM (kill, a scheduler's timeout) stops a run as Ctrl-C does
    try:
        code = app(standalone_mode=False, prog_name="lmcollapse")
    except LmcollapseError as exc:
        print(f"error: {exc}", file=sys.stderr)  # one line, never wrapped
        sys.exit(2)
    except RunInterrupted as exc:  # Ctrl-C inside a run: it says where it stopped
        print(str(exc), file=sys.stderr)
        sys.exit(stopped_by.exit_code())
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        sys.exit(stopped_by.exit_code())
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except CLICK_ERROR as exc:  # usage errors: the usage line and one line naming the problem, exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:
        if exc.errno not in STORAGE_ERRORS:
            raise
        print(f"error: {storage_problem(exc)}", file=sys.stderr)
        sys.exit(1)
    if code == 130:  # typer turns a Ctrl-C outside a run into Exit(130) and, here, returns its code
        print(INTERRUPTED, file=sys.stderr)
    if isinstance(code, int) and code:  # a command's typer.Exit(code) comes back as its return value
        sys.exit(code)
