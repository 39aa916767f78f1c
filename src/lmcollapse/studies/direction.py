"""The direction study (`lmcollapse reproduce direction`, P22): which way collapse goes in each cell of a grid of
learners and decodings, forecast from generation 0 before any run goes further, then measured.

How it runs, in two passes over the same sweep folder:
1. every run of every cell commits generation 0 only (a run resumes when its length is raised);
2. predictions.json is written from those generation-0 rows (metrics/forecast.py) while no run holds a
   generation 1: for each cell the forecast and what it rests on. A cell already in the file keeps its
   entry, never rewritten; a cell whose runs had passed generation 0 before it was forecast is marked so
   and left out of the score;
3. every run goes on to the spec's generations.

The forecast of a cell (mean over its seeds at generation 0; below 0 "repetition", above "noise"):
- count models: entropy_step, the next generation's entropy minus the model's, drawn four times, exactly (the
  learner, its smoothing and the decoding);
- neural models: writes_minus_reads, the entropy of the law the model samples with minus its held-out
  cross-entropy. Their entropy_step (one next generation, trained as the run will train generation 1) is
  written and scored beside it as the forecast of the first step: it foresees the first step (0.008 to 0.026
  nats off on average per study), and it called the direction in 5 of the 9 GPT cells forecast both ways,
  where writes_minus_reads called 8 (docs/direction.md; benchmarks/direction_scores.py).
Every cell is forecast both ways where it has both values, and each way is scored. A cell keeps the forecast
and the rule it was written under (predictions.json): folders forecast before this rule keep entropy_step's.

Measured: the slope of model_entropy over generations, per seed, its mean across seeds with a 95% Student-t
interval: "repetition" when the interval lies below 0, "noise" when above, "unclear" when it holds 0 (with
fewer than MIN_SEEDS_FOR_INTERVAL seeds there is no interval and no measured direction). Beside it, claim (e)'s
rule of `reproduce paper` on the length-controlled measures (repetition_32, self-BLEU_32), and the share of
samples cut at the length cap. A cell is forecast right when the forecast equals a measured direction; the
share right counts the cells with a measured direction.
"""
from __future__ import annotations

import copy
import datetime
import itertools
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmcollapse.analysis.aggregation import MIN_SEEDS_FOR_INTERVAL, mean_over_seeds, metric_matrix
from lmcollapse.analysis.report import sweep_data, write_report
from lmcollapse.config import apply_overrides
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config
from lmcollapse.studies.base import STUDIES, Study, StudyPlan
from lmcollapse.studies.execution import merged, run_study, with_study_bases
from lmcollapse.sweep import Sweep, SweepDir

MODELS = ("ngram", "gpt")
PREDICTIONS = "predictions.json"
FORECAST_COLUMNS = ("decoded_entropy", "writes_minus_reads", "lambda_eff", "entropy_step", "model_entropy",
                    "heldout_ppl", "capped_fraction")
LENGTH_CONTROLLED = ("repetition_32", "self_bleu_32")  # claim (e)'s measures on each document's first 32 tokens
DEFAULT_OUT = "runs/reproduce-direction"


@dataclass
class Cell:
    model: str
    label: str  # e.g. "alpha 1e-05, temperature 0.85"
    config: dict

    @property
    def tags(self) -> dict[str, str]:
        return {"model": self.model, "cell": self.label}

    @property
    def key(self) -> str:
        return f"{self.model} / {self.label}"


def effective_spec(spec: dict, quick: bool, scale: str = "cpu") -> dict:
    """The spec at a scale ("cpu", or one under `scales`: an axis the scale names replaces the model's axis
    whole, so that a scale can leave levels out), shrunk to its quick version when asked."""
    spec = copy.deepcopy(spec)
    if scale != "cpu":
        if scale not in spec.get("scales", {}):
            raise LmcollapseError(f"--scale {scale!r}: choose cpu or one of {', '.join(spec.get('scales', {}))}")
        section = spec["scales"][scale]
        spec = merged(spec, {k: v for k, v in section.items() if k != "models"})
        for model, override in section.get("models", {}).items():
            spec["models"][model] = merged(spec["models"][model], {k: v for k, v in override.items() if k != "axes"})
            spec["models"][model].setdefault("axes", {}).update(override.get("axes", {}))
    return merged(spec, spec.get("quick", {})) if quick else spec


def _axis_levels(name: str, axis: dict) -> list[tuple[str, dict]]:
    """(label, overrides) of each level of one axis: `key` with `values`, or named levels of overrides."""
    if isinstance(axis, dict) and "key" in axis:
        if not axis.get("values"):
            raise LmcollapseError(f"direction spec: axis {name!r} has a key and no values")
        return [(f"{name} {_value_label(v)}", {axis["key"]: v}) for v in axis["values"]]
    if not isinstance(axis, dict) or not axis or not all(isinstance(v, dict) for v in axis.values()):
        raise LmcollapseError(f"direction spec: axis {name!r} needs key and values, or named levels each a "
                              f"mapping of config overrides")
    return [(f"{name} {label}", dict(overrides)) for label, overrides in axis.items()]


def _value_label(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def cells(spec: dict, models: tuple[str, ...] = MODELS, out: str | Path | None = None) -> list[Cell]:
    """Every cell of the chosen models: the product of each model's axes, laid over its base."""
    out_cells = []
    for model in (m for m in models if m in spec["models"]):
        section = spec["models"][model]
        base = apply_overrides(section["base"], {"generations": spec["generations"], "metrics": spec["metrics"]})
        axes = [_axis_levels(name, axis) for name, axis in section.get("axes", {}).items()]
        for combination in itertools.product(*axes):
            overrides = {k: v for _, level in combination for k, v in level.items()}
            config = with_study_bases(apply_overrides(base, overrides), spec, out, DEFAULT_OUT)
            out_cells.append(Cell(model, ", ".join(label for label, _ in combination), config))
    return out_cells


def validate(spec: dict, models: tuple[str, ...], out: str | Path | None) -> list[Cell]:
    chosen = cells(spec, models, out)
    for cell in chosen:
        try:
            load_config(cell.config)
        except LmcollapseError as exc:
            raise LmcollapseError(f"{cell.key}: {exc}") from None
    return chosen


def reproduce(spec: dict, out: str | Path, quick: bool = False, progress: bool = True,
              models: tuple[str, ...] = MODELS, executor=None, scale: str = "cpu") -> Path:
    spec = effective_spec(spec, quick, scale)
    out = Path(out)
    chosen = validate(spec, models, out)
    trackers = spec.get("trackers", ())
    predictions = _stored_predictions(out / PREDICTIONS)
    if any(c.key not in predictions["cells"] for c in chosen):  # cells still to forecast
        # 1. generation 0 of every run, and nothing more
        first = [(c.tags, {**c.config, "generations": 1}) for c in chosen]
        sweep = run_study(DirectionStudy.name, first, spec["seeds"], out, executor, progress=progress,
                          trackers=trackers)
        # 2. the forecasts, written before any run goes on
        predictions = write_predictions(sweep, chosen, out)
    # 3. every run to the spec's length
    sweep = run_study(DirectionStudy.name, [(c.tags, c.config) for c in chosen], spec["seeds"], out, executor,
                      progress=progress, trackers=trackers)
    results = measured(sweep, chosen, predictions)
    folder = SweepDir(out)
    folder.summary_file(".json").write_text(json.dumps(results, indent=1, default=float))
    text = summary(spec, results, predictions)
    folder.summary_file(".md").write_text(text)
    png = regime_map(results, folder.summary_file(".png")).read_bytes()
    for model in dict.fromkeys(c.model for c in chosen):  # each report opens with the map and the table
        points = [p for p in sweep.points if p.tags.get("model") == model]
        write_report(sweep_data(sweep, points), folder.report_file(model), preface=text, preface_png=png)
    return out


# ---- the forecasts, from generation 0 -----------------------------------------------------------------------
RULE = ("'repetition' when the value is below 0, 'noise' above; count models (whose forecast holds lambda_eff) "
        "by entropy_step, drawn exactly; neural models by writes_minus_reads, their one drawn entropy_step scored "
        "beside it as the first step's forecast")


def forecast_of(means: dict) -> dict:
    """The cell's forecasts from its generation-0 means: by entropy_step (the next generation drawn) and by
    writes_minus_reads (every model); `forecast` follows `basis_of`, or the other where the cell lacks it."""
    way = lambda x: None if x is None or not np.isfinite(x) else ("repetition" if x < 0 else "noise")  # noqa: E731
    called = {"entropy_step": way(means.get("entropy_step")),
              "writes_minus_reads": way(means.get("writes_minus_reads"))}
    basis = basis_of(means)
    if called[basis] is None:  # e.g. a count model's sampler left no positions to draw from
        basis = next(b for b in called if b != basis)
    return {"forecast": called[basis], "basis": basis, "by_entropy_step": called["entropy_step"],
            "by_writes_minus_reads": called["writes_minus_reads"]}


def basis_of(means: dict) -> str:
    """Which generation-0 value forecasts a cell's direction. A count model's entropy_step is the next
    generation drawn four times, exactly, and its sign held for ten generations in the count-model map. A
    neural model's is one trained draw: it foresees the first step, but where the decoding sharpens even
    slightly (temperature 0.95 to 0.98) the first step rose and the entropy then fell, which its
    writes_minus_reads (the decoding's pull, felt again every generation) foresaw (docs/direction.md). Only a
    count model's forecast holds lambda_eff (metrics/forecast.py)."""
    return "entropy_step" if "lambda_eff" in means else "writes_minus_reads"


def write_predictions(sweep: Sweep, chosen: list[Cell], out: Path) -> dict:
    """predictions.json: each cell's generation-0 values per seed, their means and its forecast, written once per
    cell. A cell already there keeps its entry. A cell whose runs hold more than generation 0 when it is first
    forecast is marked `late` (its forecast could have seen the run) and is not scored."""
    path = out / PREDICTIONS
    stored = _stored_predictions(path)
    by_tags = {(p.tags.get("model"), p.tags.get("cell")): p for p in sweep.points}
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    added = False
    for cell in chosen:
        if cell.key in stored["cells"]:
            continue
        point = by_tags[(cell.model, cell.label)]
        runs, committed = {}, []
        for seed, rows in zip(point.seeds, point.per_seed_rows()):
            committed.append(len(rows))
            if rows:
                runs[str(seed)] = {c: rows[0].get(c) for c in FORECAST_COLUMNS if rows[0].get(c) is not None}
        means = {c: float(np.mean(v)) for c in FORECAST_COLUMNS
                 if (v := [r[c] for r in runs.values() if c in r])}
        stored["cells"][cell.key] = {"model": cell.model, "cell": cell.label, "written": now,
                                     "generations_committed": committed, "late": any(n > 1 for n in committed),
                                     "seeds": runs, "means": means, **forecast_of(means), "rule": RULE}
        added = True
    if added:
        stored.setdefault("rule", RULE)  # a folder's first rule; each cell holds its own (the rule may change)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=1))
        tmp.replace(path)
    return stored


def _stored_predictions(path: Path) -> dict:
    if not path.is_file():
        return {"cells": {}}
    try:
        stored = json.loads(path.read_text())
        if not isinstance(stored.get("cells"), dict):
            raise ValueError("no cells")
        return stored
    except (ValueError, AttributeError) as exc:
        raise LmcollapseError(f"{path} is not a forecast file lmcollapse wrote ({exc}): it holds the forecasts made "
                              f"before the runs went on; restore it, or move it away to forecast again (every cell "
                              f"whose runs went on is then marked late)") from None


# ---- what happened --------------------------------------------------------------------------------------
def slope_interval(series: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) over seeds of each seed's least-squares slope per generation; series (seeds, T)."""
    t = np.arange(series.shape[1])
    slopes = [np.polyfit(t[np.isfinite(s)], s[np.isfinite(s)], 1)[0] for s in series if np.isfinite(s).sum() >= 2]
    return mean_over_seeds(np.array(slopes))


def way_of(low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "too few seeds"
    return "repetition" if high < 0 else "noise" if low > 0 else "unclear"


def measured(sweep: Sweep, chosen: list[Cell], predictions: dict) -> list[dict]:
    """Per cell: its forecast (from predictions.json), the measured entropy slope and direction, the
    length-controlled claim (e) rule, and whether each forecast was right."""
    groups = sweep.groups("model", "cell")
    out = []
    for cell in chosen:
        per_seed = groups.get((cell.model, cell.label), [])
        entropy = metric_matrix(per_seed, "model_entropy")
        mean, low, high = slope_interval(entropy)
        way = way_of(low, high)
        signs = []
        for column in LENGTH_CONTROLLED:
            _, lo, hi = slope_interval(metric_matrix(per_seed, column))
            signs.append(1 if lo > 0 else -1 if hi < 0 else 0)
        rule = ("more repetitive" if 1 in signs and -1 not in signs else
                "less repetitive" if -1 in signs and 1 not in signs else "mixed or unclear")
        entry = predictions["cells"][cell.key]
        capped = metric_matrix(per_seed, "capped_fraction")
        first_step = entropy[:, 1] - entropy[:, 0] if entropy.shape[1] > 1 else np.full(len(entropy), np.nan)
        row = {"model": cell.model, "cell": cell.label, "seeds": len(per_seed), "generations": entropy.shape[1],
               "entropy_start": float(np.nanmean(entropy[:, 0])), "entropy_end": float(np.nanmean(entropy[:, -1])),
               "slope": mean, "slope_lo": low, "slope_hi": high, "measured": way, "rule_e_32": rule,
               "capped_start": float(np.nanmean(capped[:, 0])), "capped_end": float(np.nanmean(capped[:, -1])),
               "first_step": float(np.nanmean(first_step)), "late": entry["late"], "means": entry["means"],
               "basis": entry["basis"]}
        called = {basis: entry[basis] for basis in ("forecast", "by_entropy_step", "by_writes_minus_reads")}
        called["joined"] = joined_forecast(entry)  # scored beside the forecast, never in its place
        for basis, forecast in called.items():
            row[basis] = forecast
            row[f"{basis}_right"] = (None if forecast in (None, "unclear") or way not in ("repetition", "noise")
                                     or entry["late"] else forecast == way)
        out.append(row)
    return out


def seeds_agree(entry: dict, basis: str) -> bool | None:
    """Whether every seed's value of a forecast's basis has the same sign (None under 2 seeds)."""
    values = [v[basis] for v in entry["seeds"].values() if v.get(basis) is not None]
    if len(values) < 2:
        return None
    return bool(np.all(np.asarray(values) > 0) or np.all(np.asarray(values) < 0))


def joined_forecast(entry: dict) -> str:
    """The rule read off the earlier GPT cells (docs/direction.md), where each forecast was right wherever its
    seeds agreed in sign and missed only where they straddled 0: the forecast whose seeds agree (entropy_step
    first), 'unclear' where neither's do. The summary scores it on every study; the study's forecast does not
    use it, so that runs it did not see test it (it failed on its first fresh cells: docs/direction.md)."""
    for basis, way in (("entropy_step", "by_entropy_step"), ("writes_minus_reads", "by_writes_minus_reads")):
        if entry.get(way) is not None and seeds_agree(entry, basis):
            return entry[way]
    return "unclear"


def share_right(results: list[dict], key: str = "forecast_right") -> tuple[int, int]:
    """(right, scored): the cells with a measured direction and a forecast made in time."""
    scored = [r[key] for r in results if r[key] is not None]
    return sum(scored), len(scored)


# ---- the written outcome ----------------------------------------------------------------------------------
def _f(x, digits: int = 3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:+.{digits}f}"


def summary(spec: dict, results: list[dict], predictions: dict) -> str:
    right, scored = share_right(results)
    written = sorted({c["written"] for c in predictions["cells"].values()})
    lines = [f"# {spec['name']}: which way collapse goes", "",
             f"Replace, {spec['generations']} generations, seeds {spec['seeds']}. Each cell's forecast was written "
             f"to {PREDICTIONS} from generation 0 alone ({', '.join(written)}), while each of its runs held "
             f"generation 0 only, and is never rewritten. {_rules_written(predictions)} Measured: the mean over "
             f"seeds of each seed's slope of model_entropy per generation, with its 95% interval (given "
             f"{MIN_SEEDS_FOR_INTERVAL} seeds or more): repetition below 0, noise above, unclear where the interval "
             f"holds 0. "
             f"Rule (e), 32 tokens: `reproduce paper`'s rule for claim (e) on repetition_32 and self-BLEU_32.", "",
             f"**Forecast right in {right} of {scored} cells with a measured direction.**", ""]
    for basis, label in (("by_entropy_step_right", "entropy_step (the next generation drawn)"),
                         ("by_writes_minus_reads_right", "writes_minus_reads (every model)")):
        r, n = share_right(results, basis)
        if n:
            lines.append(f"- by {label}: {r} of {n}")
    for model in dict.fromkeys(r["model"] for r in results):
        ways = {r["measured"] for r in results if r["model"] == model and r["forecast_right"] is not None}
        if len(ways) == 1:
            lines.append(f"- every scored {model} cell went towards {ways.pop()}: a forecast that always said so "
                         f"would score as well, so the share right does not test the forecast there")
    for basis in ("entropy_step", "writes_minus_reads"):  # each forecast against the first step it foresees
        steps = [(r["means"][basis], r["first_step"]) for r in results
                 if r["means"].get(basis) is not None and np.isfinite(r["first_step"])]
        if len(steps) >= 2:
            forecast_step, measured_step = np.array(steps).T
            agree = int(np.sum(np.sign(forecast_step) == np.sign(measured_step)))
            # a correlation over 2 cells is +-1 whatever they hold: printed from 3
            correlation = (f", correlation {np.corrcoef(forecast_step, measured_step)[0, 1]:.3f}"
                           if len(steps) >= 3 else "")
            lines.append(f"- the first step ({basis} against the measured model_entropy(1) - model_entropy(0), "
                         f"{len(steps)} cells): signs agree in {agree}; mean absolute difference "
                         f"{np.mean(np.abs(forecast_step - measured_step)):.3f} nats{correlation}")
    joined = [r for r in results if r["measured"] in ("repetition", "noise") and not r["late"]]
    if joined:
        r, n = share_right(joined, "joined_right")
        lines.append(f"- by the joined rule (the forecast whose seeds all agree in sign, entropy_step first; "
                     f"'unclear' where neither's do; read off earlier GPT cells, scored here and not used): right in "
                     f"{r} of the {n} cells it called, unclear in {len(joined) - n}")
    unclear = [r for r in results if r["measured"] not in ("repetition", "noise")]
    late = [r for r in results if r["late"]]
    if unclear:
        lines.append(f"- {len(unclear)} cells have no measured direction (unclear or too few seeds): not scored")
    if late:
        lines.append(f"- {len(late)} cells were forecast after their runs had passed generation 0: not scored")
    lines += ["", "| model | cell | entropy_step | first step | writes - reads | lambda_eff | forecast | joined rule | "
              "entropy 0 -> end | slope (95% CI) | measured | right | rule (e), 32 tokens | capped 0 -> end |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        m = r["means"]
        right_mark = {True: "yes", False: "**no**", None: "not scored"}[r["forecast_right"]]
        lam = m.get("lambda_eff")
        lines.append(
            f"| {r['model']} | {r['cell']} | {_f(m.get('entropy_step'))} | {_f(r['first_step'])} | "
            f"{_f(m.get('writes_minus_reads'))} | "
            f"{'n/a' if lam is None else f'{lam:.3f}'} | {r['forecast']} | {r['joined']} | "
            f"{r['entropy_start']:.2f} -> "
            f"{r['entropy_end']:.2f} | {_f(r['slope'])} ({_f(r['slope_lo'])} to {_f(r['slope_hi'])}) | "
            f"{r['measured']} | {right_mark} | {r['rule_e_32']} | {r['capped_start']:.2f} -> {r['capped_end']:.2f} |")
    return "\n".join(lines) + "\n"


def _rules_written(predictions: dict) -> str:
    """The forecast rule each cell was written under, as predictions.json holds it: a cell without its own was
    written before cells held one, under the folder's rule (entropy_step first, for every model)."""
    rules = Counter(cell.get("rule") or predictions.get("rule") for cell in predictions["cells"].values())
    if len(rules) == 1:
        return f"Rule: {next(iter(rules))}."
    return "Rules: " + " ".join(f"{n} cells: {rule}." for rule, n in rules.items())


def regime_map(results: list[dict], path: Path) -> Path:
    """summary.png: per model, each cell's forecast value (x: the value its forecast rests on) against its
    measured entropy slope with the 95% interval (y). The forecast is right in the white quadrants (both below
    0: repetition; both above: noise) and wrong in the shaded ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in results))
    fig, axes = plt.subplots(1, len(models), figsize=(9.6 * len(models), 5.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        mine = [r for r in results if r["model"] == model]
        basis = " or ".join(dict.fromkeys(r["basis"] for r in mine))
        x = np.array([r["means"].get(r["basis"], np.nan) for r in mine], dtype=float)  # each cell's own forecast
        y = np.array([r["slope"] for r in mine], dtype=float)
        low, high = (np.array([r[k] for r in mine], dtype=float) for k in ("slope_lo", "slope_hi"))
        span_x = np.nanmax(np.abs(x)) * 1.15 if np.isfinite(x).any() else 1.0
        span_y = np.nanmax(np.abs(np.r_[y, low, high])) * 1.15 if np.isfinite(y).any() else 1.0
        ax.fill_between([-span_x, 0], 0, span_y, color="#f2dede")  # forecast repetition, measured noise
        ax.fill_between([0, span_x], -span_y, 0, color="#f2dede")  # forecast noise, measured repetition
        for i, r in enumerate(mine):  # numbered points, named in the legend: cells' names overlap where they crowd
            err = None if not np.isfinite(low[i]) else [[y[i] - low[i]], [high[i] - y[i]]]
            ax.errorbar(x[i], y[i], yerr=err, fmt="o", color=f"C{i % 10}", capsize=3, markersize=5,
                        label=f"{i + 1}: {r['cell']}")
            ax.annotate(str(i + 1), (x[i], y[i]), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6.5, frameon=False)
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_xlim(-span_x, span_x)
        ax.set_ylim(-span_y, span_y)
        ax.set_xlabel(f"forecast from generation 0: {basis} (nats)")
        ax.set_ylabel("measured: model_entropy slope per generation (95% CI)")
        right, scored = share_right(mine)
        ax.set_title(f"{model}: forecast right in {right} of {scored} scored cells\n(shaded: forecast wrong; "
                     f"below 0 repetition, above noise)", fontsize=9)
    fig.set_layout_engine("constrained")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@STUDIES.register("direction", "which way collapse goes per cell, forecast from generation 0 before the run")
class DirectionStudy(Study):
    models = MODELS
    tags = ("model", "cell")

    def reproduce(self, spec, out, *, quick, progress, executor, models, scale):
        return reproduce(spec, out, quick=quick, progress=progress, models=models, executor=executor, scale=scale)

    def planned(self, spec, *, quick, scale, models):
        spec = effective_spec(spec, quick, scale)
        chosen = validate(spec, models, None)
        return StudyPlan([c.key for c in chosen], list(spec["seeds"]),
                         [f"generation 0 of every run first; then {PREDICTIONS}; then every run to "
                          f"{spec['generations']} generations"])

    def planned_runs(self, spec, *, quick, scale, models, out):
        spec = effective_spec(spec, quick, scale)
        return [(c.tags, c.config) for c in validate(spec, models, out)], list(spec["seeds"])

    def outcome_file(self, folder):
        return folder.summary_file(".md")

    def show(self, sweep, console):
        """The map as a table: each cell's forecast from generation 0 against what its runs did."""
        path = SweepDir(sweep.path).summary_file(".json")
        if not path.is_file():
            return False  # interrupted before its analysis: the sweep's summary says how far it got
        from rich.table import Table

        results = json.loads(path.read_text())
        right, scored = share_right(results)
        table = Table(title=f"{sweep.path}: forecast from generation 0 against measured (right in {right} of "
                            f"{scored} scored cells)")
        for column in ("model", "cell", "forecast", "entropy_step", "writes - reads", "measured",
                       "slope (95% CI)", "right"):
            table.add_column(column)
        for r in results:
            m = r["means"]
            table.add_row(r["model"], r["cell"], str(r["forecast"]), _f(m.get("entropy_step")),
                          _f(m.get("writes_minus_reads")), r["measured"],
                          f"{_f(r['slope'])} ({_f(r['slope_lo'])} to {_f(r['slope_hi'])})",
                          {True: "yes", False: "no", None: "not scored"}[r["forecast_right"]])
        console.print(table)
        return True
