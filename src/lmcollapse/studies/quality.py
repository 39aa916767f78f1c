"""The quality-vs-quantity experiment: the contribution rate swept without gates, each gate at one rate,
in a known-truth setting (exact KL) and on kjv; several seeds each; a report and a written verdict.

Verdict rules (stated in summary.md beside the numbers); the watched metrics grow as models degrade:
- a variant *crosses* at the first generation where the mean over seeds of its watched metric exceeds
  BOUND times the generation-0 mean;
- at the last generation it is *collapsing* when the whole 95% interval lies above BOUND x generation 0,
  *bounded* when the whole interval lies below, and *unclear* otherwise (*too few seeds* with fewer than
  MIN_SEEDS_FOR_INTERVAL: no interval);
- *departs* (for reference) is the early-warning generation: a paired t-test across seeds against
  generation 0, Bonferroni over generations (analysis/early_warning.py), conservative with few seeds.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lmcollapse.analysis.aggregation import (
    MIN_SEEDS_FOR_INTERVAL, aggregate_rows, few_seeds_note, metric_matrix, too_few_seeds)
from lmcollapse.config import apply_overrides
from lmcollapse.analysis.early_warning import paired_t_departure
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config
from lmcollapse.metrics.row import MetricsRow
from lmcollapse.analysis.report import sweep_data, write_report
from lmcollapse.sweep import SweepDir
from lmcollapse.analysis import statistics
from lmcollapse.analysis.verdict import BOUND
from lmcollapse.studies.base import STUDIES, Study, StudyPlan
from lmcollapse.studies.execution import run_study


@dataclass
class Variant:
    setting: str
    label: str  # e.g. "rate 0.1" or "rate 1 + verifier(error_rate=0.2)"
    rate: float
    gate: object | None  # a gates entry, as the spec writes it
    config: dict
    comparison: dict = field(default_factory=dict)  # against ungated rate 1, paired (compare_gates)

    @property
    def tags(self) -> dict[str, str]:
        """The variant's columns in the study's results table."""
        return {"setting": self.setting, "variant": self.label}


def _gate_label(entry) -> str:
    if isinstance(entry, str):
        return entry
    params = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "name")
    return f"{entry['name']}({params})" if params else entry["name"]


def effective_spec(spec: dict, quick: bool) -> dict:
    spec = copy.deepcopy(spec)
    if quick:
        q = spec.get("quick", {})
        for key in ("seeds", "generations", "rates"):
            spec[key] = q.get(key, spec[key])
        for name, override in q.get("settings", {}).items():
            spec["settings"][name].update(override)
    return spec


def variants(spec: dict) -> list[Variant]:
    out = []
    for setting, s in spec["settings"].items():
        base = apply_overrides(s["base"], {"generations": spec["generations"],
                                           "paradigm.name": "accumulate-subsample"})
        for rate in spec["rates"]:
            config = apply_overrides(base, {"paradigm.rate": rate})
            out.append(Variant(setting, f"rate {rate:g}", rate, None, config))
        for entry in s.get("gates", []):
            config = apply_overrides(base, {"paradigm.rate": spec["gated_rate"], "gates": [entry]})
            label = _gate_label(entry)
            out.append(Variant(setting, f"rate {spec['gated_rate']:g} + {label}", spec["gated_rate"], entry, config))
    return out


def reproduce(spec: dict, out: str | Path, quick: bool = False, workers: int | None = None,
              progress: bool = True, executor=None) -> Path:
    """A sweep of every (setting, variant) x seed into out, then the verdicts read from its results table.
    executor: where the runs go (sweep.make_executor); default a local pool of `workers`."""
    spec = effective_spec(spec, quick)
    out = Path(out)
    chosen = variants(spec)
    sweep = run_study(QualityStudy.name, [(v.tags, v.config) for v in chosen], spec["seeds"], out, executor, workers,
                      progress,
                      trackers=spec.get("trackers", ()))
    groups = sweep.groups("setting", "variant")  # (setting, variant) -> each seed's rows
    text = summary(spec, chosen, groups, out)
    SweepDir(out).summary_file(".md").write_text(text)
    png = summary_plot(spec, chosen, groups, out).read_bytes()
    for setting in spec["settings"]:  # each report opens with the written verdict and the summary plot
        points = [p for p in sweep.points if p.tags.get("setting") == setting]
        write_report(sweep_data(sweep, points), SweepDir(out).report_file(setting), preface=text, preface_png=png)
    return out


def summary_plot(spec: dict, chosen: list[Variant], groups: dict[tuple, list[list[dict]]], out: Path) -> Path:
    """summary.png: per setting, the watched metric over generations (mean over seeds) of every variant;
    ungated rates in shades of blue, gates in other colours, the BOUND line dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = list(spec["settings"])
    gate_labels = sorted({_gate_label(v.gate) for v in chosen if v.gate is not None})
    colour = {label: f"C{i % 10}" for i, label in enumerate(gate_labels)}  # one colour per gate in every panel
    fig, axes = plt.subplots(1, len(settings), figsize=(7.4 * len(settings), 4.2), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        watch = spec["settings"][setting]["watch"]
        mine = [v for v in chosen if v.setting == setting]
        ungated = [v for v in mine if v.gate is None]
        start = None
        for i, v in enumerate(mine):
            rows = aggregate_rows(groups[(v.setting, v.label)])
            t = [r["generation"] for r in rows if r.get(watch) is not None]
            y = [r[watch] for r in rows if r.get(watch) is not None]
            start = y[0] if start is None else start
            if v.gate is None:
                shade = plt.cm.Blues(0.35 + 0.65 * (1 - ungated.index(v) / max(len(ungated) - 1, 1)))
                ax.plot(t, y, color=shade, linewidth=2, label=v.label)
            else:
                ax.plot(t, y, "--", color=colour[_gate_label(v.gate)], linewidth=1.5, label=v.label)
        if start is not None:
            ax.axhline(BOUND * start, color="grey", linestyle=":", linewidth=1, label=f"{BOUND}x generation 0")
        ax.set_title(f"{setting}: {watch}", fontsize=10)
        ax.set_xlabel("generation")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle("accumulate-subsample: contribution rate without gates (blue) vs gates at rate "
                 f"{spec['gated_rate']:g} (dashed)", fontsize=10)
    fig.set_layout_engine("constrained")  # makes room for outside legends; tight_layout warns
    path = SweepDir(out).summary_file(".png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _variant_numbers(variant: Variant, per_seed: list[list[dict]], watch: str) -> dict:
    rows = aggregate_rows(per_seed)
    values = metric_matrix(per_seed, watch)
    generations = values.shape[1]
    departure = paired_t_departure(values)
    first, last = rows[0], rows[-1]
    means = np.array([r.get(watch, np.nan) if r.get(watch) is not None else np.nan for r in rows])
    above = np.flatnonzero(means > BOUND * first.get(watch, np.nan))
    end = MetricsRow.from_json(last)
    end_lo, end_hi = end.interval(watch)
    limit = BOUND * first[watch]
    state = ("too few seeds" if too_few_seeds(end.counts.get(watch, 0)) else
             "collapsing" if end_lo is not None and end_lo > limit else
             "bounded" if end_hi is not None and end_hi < limit else "unclear")
    return {"variant": variant.label, "setting": variant.setting, "rate": variant.rate,
            "gate": None if variant.gate is None else _gate_label(variant.gate),
            "start": first.get(watch), "end": last.get(watch), "end_lo": end_lo,
            "end_hi": end_hi, "acceptance": last.get("acceptance_rate"),
            "crosses": int(above[0]) if len(above) else None, "state": state,
            "departs": None if departure is None else departure[0],
            "direction": None if departure is None else departure[2], "generations": generations,
            "seeds": end.counts.get(watch, 0)}


def summary(spec: dict, chosen: list[Variant], groups: dict[tuple, list[list[dict]]], out: Path) -> str:
    lines = [f"# {spec['name']}: results", "",
             f"Accumulate-subsample, {spec['generations']} generations, seeds {spec['seeds']}; every variant's "
             f"numbers are means over seeds with 95% Student-t intervals (from {MIN_SEEDS_FOR_INTERVAL} seeds on; with "
             f"fewer, no interval and no state). *Crosses*: first generation whose mean "
             f"exceeds {BOUND}x generation 0. *State* at the last generation: collapsing (the whole interval "
             f"above {BOUND}x generation 0), bounded (the whole interval below), unclear (otherwise). "
             f"*Departs*: early warning, a paired t-test across seeds with Bonferroni over generations "
             f"(conservative with few seeds).", ""]
    results = []
    own = {(v.setting, v.label): _variant_numbers(v, groups[(v.setting, v.label)], spec["settings"][v.setting]["watch"])
           for v in chosen}
    # paired, Holm over every gate of every setting (statistics.py)
    compare_gates(spec, chosen, groups, {key: n["state"] for key, n in own.items()})
    for setting, s in spec["settings"].items():
        watch = s["watch"]
        numbers = [{**own[(v.setting, v.label)], **v.comparison} for v in chosen if v.setting == setting]
        results += numbers
        lines += [f"## {setting} (watching `{watch}`)", "",
                  f"| variant | {watch} at 0 | at {numbers[0]['generations'] - 1} (95% CI) | ratio | state | crosses | "
                  f"departs | acceptance |", "|---|---|---|---|---|---|---|---|"]
        for n in numbers:
            ratio = n["end"] / n["start"] if n["start"] else float("nan")
            interval = (f" ({few_seeds_note(n['seeds'])})" if n["end_lo"] is None else
                        f" ({n['end_lo']:.4g} to {n['end_hi']:.4g})")
            departs = "no" if n["departs"] is None else f"{n['departs']} ({n['direction']})"
            acceptance = "" if n["acceptance"] is None else f"{n['acceptance']:.2f}"
            crosses = "no" if n["crosses"] is None else str(n["crosses"])
            lines.append(f"| {n['variant']} | {n['start']:.4g} | {n['end']:.4g}{interval} | {ratio:.2f} | "
                         f"{n['state']} | {crosses} | {departs} | {acceptance} |")
        lines += [""] + _verdict(numbers) + [""]
    SweepDir(out).summary_file(".json").write_text(json.dumps(results, indent=1))
    return "\n".join(lines) + "\n"


EQUIVALENCE_MARGIN = 0.10  # "no effect" of a gate: its paired effect shown within +-10%


def spec_margin(numbers: list[dict]) -> float:
    return next((n["margin"] for n in numbers if n.get("margin") is not None), EQUIVALENCE_MARGIN)


def compare_gates(spec: dict, chosen: list, groups: dict[tuple, list[list[dict]]], states: dict[tuple, str]) -> None:
    """Each gated variant against the ungated variant of the highest rate in its setting, seed by seed: the
    effect, p, Holm over every gated variant of the study, MDE and verdict, set as variant.comparison. states:
    (setting, label) -> the variant's state at the last generation; a gate found lower than its baseline
    *prevents* where it is bounded and the baseline is not, else *delays*."""
    margin = float(spec.get("equivalence_margin", EQUIVALENCE_MARGIN))
    for v in chosen:
        v.comparison = {}
    gated = [v for v in chosen if v.gate is not None]
    pairs, bases = {}, {}
    for v in gated:
        watch = spec["settings"][v.setting]["watch"]
        base = max((b for b in chosen if b.setting == v.setting and b.gate is None), key=lambda b: b.rate)
        bases[v.label, v.setting] = base
        pairs[v.label, v.setting] = (statistics.differences(statistics.final_ratios(groups[(v.setting, v.label)], watch),
                                                            statistics.final_ratios(groups[(base.setting, base.label)], watch)))
    results = {key: statistics.paired(d) for key, d in pairs.items()}
    pvalues = [results[v.label, v.setting].p for v in gated]
    for v, adjusted, factor in zip(gated, statistics.holm(pvalues), statistics.holm_factors(pvalues)):
        d, result = pairs[v.label, v.setting], results[v.label, v.setting]
        factor = 1.0 if not np.isfinite(factor) else factor
        base = bases[v.label, v.setting]
        bounded, base_bounded = (states[x.setting, x.label] == "bounded" for x in (v, base))
        verdict = ("inactive" if result.identical else
                   statistics.paired_verdict(d, factor, bounded, base_bounded, margin))
        v.comparison = {"effect": result.effect, "effect_lo": result.low, "effect_hi": result.high, "p": result.p,
                        "p_adjusted": adjusted, "mde": statistics.mde(result.sd, result.n, factor),
                        "verdict": verdict, "margin": margin}


def _verdict(numbers: list[dict]) -> list[str]:
    ungated = sorted((n for n in numbers if n["gate"] is None), key=lambda n: -n["rate"])
    gated = [n for n in numbers if n["gate"] is not None]
    T = ungated[0]["generations"]
    worst = ungated[0]
    crossed = [n for n in ungated if n["crosses"] is not None]
    out = [f"- Without gates, {len(crossed)} of {len(ungated)} rates cross {BOUND}x generation 0 within {T} "
           f"generations: " + ", ".join(f"rate {n['rate']:g} at {n['crosses']}" if n["crosses"] is not None
                                        else f"rate {n['rate']:g} not within {T}" for n in ungated) + "."]
    times = [n["crosses"] for n in crossed]
    if len(times) >= 2:
        ordered = all(a <= b for a, b in zip(times, times[1:]))
        out.append(f"- Smaller rates cross {'later (or at the same generation)' if ordered else 'NOT later in every case'}"
                   f": limiting the quantity {'delays' if ordered else 'does not consistently delay'} the damage here.")
    if len(crossed) < len(ungated):
        out.append("- Rates that have not crossed may still do so: the run is finite, and the theory "
                   "(docs/theory.md) predicts a collapse time growing like 1/rate for a learner with a bias.")
    for n in gated:
        out.append(f"- {n['variant']}: {n['state']} (ratio {n['end'] / n['start']:.2f}; "
                   f"{'crosses at ' + str(n['crosses']) if n['crosses'] is not None else 'never crosses'}).")
    worst = ungated[0]
    out.append(f"- Reference: ungated rate {worst['rate']:g} ends at ratio {worst['end'] / worst['start']:.2f} "
               f"({worst['state']}).")
    if any(n["state"] == "too few seeds" for n in numbers):
        out.append(f"- No state is given: it compares an interval across seeds with the bound, and that needs "
                   f"{MIN_SEEDS_FOR_INTERVAL} seeds or more.")
    if gated:  # each gate against ungated rate 1, seed by seed (docs/statistics.md)
        out.append(f"- Against ungated rate {worst['rate']:g}, paired by seed ({statistics.SIGN_FLIP} over every "
                   f"gate of every setting; no effect means equivalence within "
                   f"+-{spec_margin(numbers):.0%} shown): " + "; ".join(
                       f"{n['gate']} {n['verdict']} (x{n['effect']:.2f}, p adj. {n['p_adjusted']:.2g}, MDE "
                       f"{'none possible' if not np.isfinite(n['mde']) else format(n['mde'], '.2g') + 'x'})"
                       if n.get("effect") is not None and np.isfinite(n["effect"]) else f"{n['gate']} {n['verdict']}"
                       for n in gated) + ".")
    return out


@STUDIES.register("quality-vs-quantity", "does limiting the synthetic data prevent collapse, and do quality gates?")
class QualityStudy(Study):
    tags = ("setting", "variant")

    def reproduce(self, spec, out, *, quick, progress, executor, models, scale):
        return reproduce(spec, out, quick=quick, progress=progress, executor=executor)

    def planned(self, spec, *, quick, scale, models):
        spec = effective_spec(spec, quick)
        chosen = variants(spec)
        for v in chosen:
            try:
                load_config(v.config)
            except LmcollapseError as exc:
                raise LmcollapseError(f"{v.setting} / {v.label}: {exc}") from None
        return StudyPlan(["/".join(v.tags.values()) for v in chosen], list(spec["seeds"]))

    def outcome_file(self, folder):
        return folder.summary_file(".md")
