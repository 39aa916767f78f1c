"""A study (`lmcollapse reproduce NAME`) is a sweep plus an analysis: its variants are the points of one
tagged axis (each tag a column of the results table, e.g. model and policy), every variant runs with every
seed, and the analysis reads the sweep's results table back, grouped by those tags."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

from lmcollapse.api import load_run
from lmcollapse.sweep import Axis, Sweep, SweepSpec, make_executor, raise_failures, run_sweep
from lmcollapse.sweep.engine import ExpectedEnd
from lmcollapse.sweep.task import RunOutcome


STUDY_BASES = "study"  # model.base: study: the study pretrains each seed's base into OUT/bases (init: base)
SHARED_BASES = "bases"  # the spec key `reproduce --bases DIR` sets: the folder of bases instead of OUT/bases


def with_study_bases(config: dict, spec: dict, out: str | Path | None, default_out: str) -> dict:
    """config, its model.base: study pointing at the study's bases: the folder `reproduce --bases` put in the
    spec (bases shared between studies), else OUT/bases (out, else the study's default folder). Each run finds
    its seed's base there, and the first run that misses it pretrains it."""
    if config.get("model", {}).get("base") != STUDY_BASES:
        return config
    folder = spec.get(SHARED_BASES) or Path(out if out is not None else default_out) / "bases"
    return merged(config, {"model": {"base": str(folder)}})


def uses_study_bases(spec: dict, models: tuple[str, ...]) -> bool:
    """Whether any of the chosen models of a study spec fine-tunes a base the study pretrains (model.base: study;
    a paper spec's model section holds the config, a mitigation spec's holds it under `base`, and a direction
    spec's named levels may set it as an override: `model.base: study`)."""
    sections = [spec.get("models", {}).get(m, {}) for m in models]
    levels = [level for section in sections for axis in section.get("axes", {}).values() if "key" not in axis
              for level in axis.values() if isinstance(level, dict)]
    return (any(section.get("base", section).get("model", {}).get("base") == STUDY_BASES for section in sections)
            or any(level.get("model.base") == STUDY_BASES for level in levels))


def merged(base: dict, update: dict) -> dict:
    """base with update's keys laid over it, mappings merged key by key (a spec's quick or scale section)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else copy.deepcopy(value)
    return out


def run_study(study: str, variants: list[tuple[dict[str, str], dict]], seeds: list[int], out: str | Path,
              executor=None, workers: int | None = None, progress: bool = True, trackers: list[str] = ()) -> Sweep:
    """Run (or resume) every (variant, seed) of the study named `study` into the sweep folder out (sweep.json
    records the name); variants: (tags, config) pairs. Failed runs do not stop the others: they are listed,
    then raised as one error (running again retries only them). trackers: experiment trackers every run also
    logs to (--tracker)."""
    return run_study_tolerating(study, variants, seeds, out, executor, workers, progress, trackers=trackers)[0]


def run_study_tolerating(study: str, variants, seeds, out, executor=None, workers=None, progress=True,
                         tolerate: ExpectedEnd | None = None,
                         trackers: list[str] = ()) -> tuple[Sweep, list[RunOutcome]]:
    """run_study, except that failures tolerate accepts are results, not errors (a mitigation whose gates
    pass nothing has failed as a mitigation): they come back with the sweep, the others are raised."""
    if trackers:  # not part of a run's identity: the runs keep their directories
        variants = [(tags, {**config, "trackers": list(trackers)}) for tags, config in variants]
    spec = study_sweep_spec(study, variants, seeds)
    _, outcome = run_sweep(spec, out, executor or make_executor("local", workers=workers), progress=progress,
                           expected_end=tolerate)
    accepted = [f for f in outcome.failures if tolerate is not None and tolerate.applies(f)]
    raise_failures(dataclasses.replace(outcome, outcomes=[o for o in outcome.outcomes if o not in accepted]))
    return Sweep(out), accepted


def study_sweep_spec(study: str, variants, seeds) -> SweepSpec:
    """The sweep a study runs: its variants as the points of one tagged axis, each with every seed."""
    axis = Axis("points", tuple(config for _, config in variants), tuple(tags for tags, _ in variants))
    return SweepSpec({}, [axis], list(seeds), study=study)


def against_folder(study: str, variants, seeds, out: str | Path) -> str | None:
    """`reproduce --dry-run` against --out: the refusal the real command would give (a folder holding something
    else, or a spec or --bases that changes the runs the folder holds, whose directories are named by their
    configs), else how many of the planned runs the folder holds; None for a new or empty folder."""
    from lmcollapse.running.rundir import RunDir
    from lmcollapse.sweep.plan import check_extends, is_sweep, plan

    the_plan = plan(study_sweep_spec(study, variants, seeds), out)
    check_extends(the_plan)  # raises the real run's one-line error
    if not is_sweep(out):
        return None
    held = sum(RunDir.is_run(task.run_dir) for task in the_plan.tasks)
    return (f"{out} holds {held} of these {len(the_plan.tasks)} runs (they resume or are kept); "
            f"{len(the_plan.tasks) - held} start")


def generation_seconds(sweep: Sweep, **tags: str) -> float:
    """Seconds of generation work (fit, sample, metrics, paradigm) recorded in the manifests of the runs of the
    points with these tags, summed: the same however many invocations the work took."""
    total = 0.0
    for point in sweep.points:
        if all(point.tags.get(k) == v for k, v in tags.items()):
            for path in point.started():
                run = load_run(path)
                total += sum(run.manifest(t).work_seconds for t in range(run.generations_done))
    return total
