"""`lmcollapse reproduce mitigations`: the mitigation benchmark. Every mitigation (data-quality gates, a
learner-side loss, decodings, and any gate a `--plugin` registers) under the same protocol (spec:
studies/mitigations.yaml), ranked on one leaderboard.

The study is a sweep whose points are tagged (model, setting, mitigation): each mitigation's overrides laid
over each model's base config under each hard setting (replace, accumulate-subsample r = 1), plus the
reference policies without a mitigation (setting "reference"). A mitigation that a model or setting cannot
take (the config check refuses it: a verifier without a known truth, reweight without a pool to subsample,
tce on a count model) is listed as not applying, with the check's reason.

The leaderboard's numbers and verdicts: leaderboard.py.
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmcollapse.config import apply_overrides, parse_config
from lmcollapse.errors import LmcollapseError
from lmcollapse import extras
from lmcollapse.running.parts import load_config, optional_modules
from lmcollapse.gates import GATES
from lmcollapse.analysis.report import sweep_data, write_report
from lmcollapse.sweep import SweepDir
from lmcollapse.sweep.plan import read_manifest
from lmcollapse.sweep.engine import ExpectedEnd
from lmcollapse.running.loop import NOTHING_TO_TRAIN_ON
from lmcollapse.studies.base import STUDIES, Study, StudyPlan
from lmcollapse.studies.leaderboard import (  # noqa: F401 - the leaderboard's names, also read from here
    BASELINE, COLUMNS, CUT_REASON, EQUIVALENCE_MARGIN, INACTIVE, REFERENCE, STARVES, UNCERTAIN, _mark_power,
    _with_verifier_rates, calibrated_text, leaderboard, leaderboard_text, print_leaderboard, reproduce_first,
    row_numbers, seeds_needed, starved_numbers, summary_plot, verdict, verdict_text, write_leaderboard)
from lmcollapse.studies.execution import merged, run_study_tolerating, with_study_bases

MODELS = ("gpt", "ngram", "ngram-markov", "gpt-finetune", "gpt-markov")  # the rows a spec defines, in this order


@dataclass
class Point:
    model: str
    setting: str  # a hard setting's label, or REFERENCE
    mitigation: str  # a mitigation's label, or a reference policy's
    config: dict

    @property
    def tags(self) -> dict[str, str]:
        return {"model": self.model, "setting": self.setting, "mitigation": self.mitigation}


def effective_spec(spec: dict, quick: bool = False, scale: str = "cpu") -> dict:
    """The spec at a scale (a scale's models replace those of the same name), shrunk when quick."""
    spec = copy.deepcopy(spec)
    if scale != "cpu":
        if scale not in spec.get("scales", {}):
            raise LmcollapseError(f"--scale {scale!r}: choose cpu or one of {', '.join(spec.get('scales', {}))}")
        chosen = copy.deepcopy(spec["scales"][scale])
        spec["models"].update(chosen.pop("models", {}))
        spec.update(chosen)
    if quick:
        spec = merged(spec, spec.get("quick", {}))
    return spec


def check_reproduce_first(spec: dict) -> None:
    """A one-line error for a `reproduce_first` entry the leaderboard could not read (a spec of the user's)."""
    for label, claim in spec.get("reproduce_first", {}).items():
        regime = claim.get("regime") if isinstance(claim, dict) else None
        if not isinstance(claim, dict) or not {"paper", "claim"} <= set(claim) or not isinstance(regime, list) \
                or len(regime) != 2 or claim.get("expects", "lower") not in ("lower", "higher"):
            raise LmcollapseError(f"reproduce_first: {label!r} needs paper, claim, regime: [model, setting] and "
                                  f"optionally expects: lower or higher; got {claim!r}")


def plugin_mitigations() -> dict[str, dict]:
    """A mitigation per gate registered from outside the package (--plugin), at its defaults."""
    return {name: {"gates": [name]} for name in GATES.names() if not GATES.shipped(name)}


def points(spec: dict, models: tuple[str, ...] = MODELS,
           out_dir: str | Path | None = None) -> tuple[list[Point], list[tuple[str, str, str, str]]]:
    """(the points to run, (model, setting, mitigation, reason) for each combination that does not apply), for
    the chosen models the spec defines; a model with model.base: study fine-tunes bases pretrained into
    out_dir/bases."""
    check_reproduce_first(spec)
    mitigations = {**spec["mitigations"], **plugin_mitigations()}
    chosen, skipped, lacking = [], [], {}
    for model in (m for m in models if m in spec["models"]):
        base = with_study_bases(apply_overrides(spec["models"][model]["base"], {"generations": spec["generations"]}),
                                spec, out_dir, "runs/reproduce-mitigations")
        candidates = [(setting, label, merged(base, {"paradigm": paradigm, **overrides}))
                      for setting, paradigm in spec["settings"].items() for label, overrides in mitigations.items()]
        references = spec["models"][model].get("references", list(spec["references"]))  # a model may run fewer
        candidates += [(REFERENCE, label, merged(base, {"paradigm": paradigm}))
                       for label, paradigm in spec["references"].items() if label in references]
        runs_only = spec["models"][model].get("runs_only", {})  # setting -> the mitigations it runs (a cut)
        for setting, label, config in candidates:
            cut = setting in runs_only and label not in runs_only[setting]
            missing = _missing_modules(config)
            if missing:  # a library not installed: the whole command is refused below, unless the row is cut
                if cut:
                    skipped.append((model, setting, label, CUT_REASON))
                else:
                    lacking.setdefault(missing[0], []).append(f"{model} / {setting} / {label}")
                continue
            try:
                load_config(config)
            except LmcollapseError as exc:  # does not apply: said so even where the cut would leave it out
                if label == BASELINE or setting == REFERENCE:
                    raise LmcollapseError(f"{model} / {setting} / {label}: {exc}") from None
                skipped.append((model, setting, label, str(exc)))
                continue
            if cut:
                skipped.append((model, setting, label, CUT_REASON))
                continue
            chosen.append(Point(model, setting, label, config))
    if lacking:
        module, rows = next(iter(lacking.items()))
        what, extra = extras.EXTRAS[module]
        raise LmcollapseError(f"{len(rows)} rows of the benchmark need {what}, which is not installed (the first: "
                              f"{rows[0]}): pip install 'lmcollapse[{extra}]'{extras.HINTS.get(extra, '')}; the benchmark "
                              f"runs every row of the models it is given or none (--model chooses the models)")
    return chosen, skipped


def _missing_modules(config: dict) -> list[str]:
    """The optional libraries a row's components import that are not installed ([] for a config that does not
    parse: load_config then says what is wrong with it)."""
    try:
        parsed = parse_config(config)
    except LmcollapseError:
        return []
    return [m for _, modules in optional_modules(parsed) for m in modules if not extras.installed(m)]


def validate(spec: dict, models: tuple[str, ...] = MODELS, out_dir: str | Path | None = None) -> list[Point]:
    return points(spec, models, out_dir)[0]


def reproduce(spec: dict, out: str | Path, quick: bool = False, workers: int | None = None, progress: bool = True,
              models: tuple[str, ...] = MODELS, scale: str = "cpu", executor=None) -> Path:
    """Run every (model, setting, mitigation) x seed into out, then the leaderboard from its results table."""
    spec = effective_spec(spec, quick, scale)
    out = Path(out)
    chosen, skipped = points(spec, models, out)
    models = tuple(dict.fromkeys(p.model for p in chosen))
    spec["seeds"] = starting_seeds(spec, out)
    while True:  # with seeds "auto", until every row's MDE reaches its target or the seeds reach the budget
        sweep, starved_runs = run_study_tolerating(MitigationStudy.name, [(p.tags, p.config) for p in chosen],
                                                   spec["seeds"], out, executor, workers, progress, tolerate=STARVED,
                                                   trackers=spec.get("trackers", ()))
        groups = sweep.groups("model", "setting", "mitigation")  # -> each seed's rows
        starved = _starved_points(sweep, starved_runs)
        facts = _manifest_facts(sweep)
        board = leaderboard(spec, chosen, groups, seconds=facts.seconds, starved=starved, kept=facts.kept,
                            activity=facts.activity, real_share=facts.real_share, calibrated=facts.calibrated)
        more = seeds_needed(board, spec) if spec.get("seeds_auto") else len(spec["seeds"])
        if more <= len(spec["seeds"]):
            break
        if progress:
            print(f"[lmcollapse] seeds by power: {len(spec['seeds'])} seeds leave rows short of their target MDE; "
                  f"extending every row to {more} seeds", file=sys.stderr, flush=True)
        spec["seeds"] = list(spec["seeds"]) + [max(spec["seeds"]) + 1 + i for i in range(more - len(spec["seeds"]))]
    _mark_power(board, spec)
    board = _with_verifier_rates(board, sweep, chosen)
    write_leaderboard(board, skipped, spec, out)
    png = summary_plot(spec, chosen, groups, out).read_bytes()
    text = SweepDir(out).leaderboard_file(".md").read_text()
    for model in models:
        mine = [p for p in sweep.points if p.tags.get("model") == model]
        write_report(sweep_data(sweep, mine), SweepDir(out).report_file(model), preface=text, preface_png=png)
    return out


def starting_seeds(spec: dict, out: Path) -> list[int]:
    """The seeds a run of the study starts from: the spec's, or under --seeds auto those that power already
    added to the folder (a rerun resumes them rather than dropping them)."""
    if spec.get("seeds_auto") and SweepDir.is_sweep(out):
        held = read_manifest(out).get("seeds", [])
        if set(spec["seeds"]) < set(held):
            return sorted(held)
    return list(spec["seeds"])


# A run that stopped because its gates passed no document: the mitigation's result, not a failure.
STARVED = ExpectedEnd(lambda outcome: NOTHING_TO_TRAIN_ON in (outcome.error or ""), "starved by their gates (a result)")


def _starved_points(sweep, runs) -> dict[tuple, str]:
    """(model, setting, mitigation) -> what the leaderboard says of a mitigation some seeds could not run."""
    failed = {str(r.run_dir): r.error for r in runs}
    out = {}
    for point in sweep.points:
        errors = [failed[str(d)] for d in point.run_dirs if str(d) in failed]
        if errors:
            key = (point.tags["model"], point.tags["setting"], point.tags["mitigation"])
            if key[2] == BASELINE or key[1] == REFERENCE:
                raise LmcollapseError(f"{' / '.join(key)}: {errors[0]}")
            out[key] = f"starves the model in {len(errors)} of {len(point.run_dirs)} seeds ({errors[0]})"
    return out


@dataclass
class ManifestFacts:
    """Per point (model, setting, mitigation), from its runs' manifests, read once."""

    seconds: dict[tuple, float]  # generation work in process-seconds, all seeds summed (as generation_seconds)
    kept: dict[tuple, float | None]  # mean synthetic documents entering per generation (n_kept)
    activity: dict[tuple, list[dict]]  # every generation's mitigation activity (running/activity.py)
    real_share: dict[tuple, float | None]  # mean real-token share of what the learner saw, generations 1 on
    calibrated: dict[tuple, dict[str, list[float]]]  # parameter -> the value each seed calibrated (calibration.py)


def _manifest_facts(sweep) -> ManifestFacts:
    from lmcollapse.api import load_run

    facts = ManifestFacts({}, {}, {}, {}, {})
    for point in sweep.points:
        work, kept, records, shares, calibrated = 0.0, [], [], [], {}
        for path in point.started():
            run = load_run(path)
            manifests = [run.manifest(t) for t in range(run.generations_done)]
            work += sum(m.work_seconds for m in manifests)
            kept += [m.n_kept for m in manifests]
            records += [m.activity for m in manifests]
            # generation 0 trains on R in every row: the share that differs between rows is the later ones'
            shares += [m.real_token_share for m in manifests[1:] if m.real_token_share is not None]
            for name, value in (manifests[-1].calibrated if manifests else {}).items():  # set once, kept
                calibrated.setdefault(name, []).append(float(value))
        key = (point.tags["model"], point.tags["setting"], point.tags["mitigation"])
        facts.seconds[key], facts.activity[key], facts.calibrated[key] = work, records, calibrated
        facts.kept[key] = float(np.mean(kept)) if kept else None
        facts.real_share[key] = float(np.mean(shares)) if shares else None
    return facts


def _first_few(names: list[str], shown: int = 5) -> str:
    """"a, b, c and 4 more": a list a line can hold (--dry-run lists every row that does run)."""
    rest = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {rest} more" if rest > 0 else "")


@STUDIES.register("mitigations", "the mitigation benchmark: every mitigation against none, one leaderboard")
class MitigationStudy(Study):
    models = MODELS
    tags = ("model", "setting", "mitigation")

    def reproduce(self, spec, out, *, quick, progress, executor, models, scale):
        return reproduce(spec, out, quick=quick, progress=progress, models=models, scale=scale, executor=executor)

    def planned(self, spec, *, quick, scale, models):
        spec = effective_spec(spec, quick, scale)
        chosen, skipped = points(spec, models)
        cut: dict[str, list[str]] = {}
        for m, s, g, why in skipped:
            if why == CUT_REASON:
                cut.setdefault(f"{m} / {s}", []).append(g)
        left_out = [f"not run: {len(rows)} rows cut from the CPU run under {where} ({_first_few(rows)}; "
                    f"docs/mitigations.md says why)" for where, rows in cut.items()]
        inapplicable = len(skipped) - sum(len(rows) for rows in cut.values())
        if inapplicable:
            left_out.append(f"not run: {inapplicable} rows whose mitigation does not apply to their model or corpus "
                            f"(the leaderboard lists them with the reason)")
        return StudyPlan(["/".join(p.tags.values()) for p in chosen], list(spec["seeds"]), left_out)

    def planned_runs(self, spec, *, quick, scale, models, out):
        spec = effective_spec(spec, quick, scale)
        return [(p.tags, p.config) for p in points(spec, models, out)[0]], starting_seeds(spec, Path(out))

    def outcome_file(self, folder):
        return folder.leaderboard_file(".md")

    def closing_line(self, folder):
        return f"results: {folder.leaderboard_file('.csv')} (.json, .md), reports: {folder.reports_glob}"

    def show(self, sweep, console):
        if not SweepDir(sweep.path).leaderboard_file(".csv").is_file():
            return False  # interrupted before its analysis: the sweep's summary says how far it got
        print_leaderboard(sweep.path, console)
        return True
