"""`lmcollapse reproduce paper`: the paper's language-model experiments on one grid of data policies, for
a neural model (gpt) and the count model (ngram) side by side, several seeds each, and a claims table.

Rules (written into summary.md beside the numbers). Per seed, each policy's watched metric is held-out
perplexity; across seeds, means get 95% Student-t intervals (aggregation.mean_over_seeds: none with fewer
than MIN_SEEDS_FOR_INTERVAL seeds, and then every verdict is "too few seeds").
- (a) replace: the slope of log perplexity over generations, per seed; the claim holds when the interval
  of the mean slope lies above 0 (contradicted below 0, unclear otherwise).
- States of a policy, from the ratio of the last generation's perplexity to generation 0 (its geometric
  mean across seeds, the interval taken on the log scale) and the slope of log perplexity over the second half of the run: *collapsing* (ratio above
  BOUND and still rising), *levelled off* (ratio above BOUND, no longer rising), *bounded* (ratio below
  BOUND), *unclear* (otherwise).
- (b) accumulate-subsample: per rate r, each seed's first generation whose perplexity exceeds BOUND times
  its generation 0 ("crosses"; a seed that never does counts as the last generation, a lower bound). The
  claim agrees when every rate is collapsing and the mean crossing generations do not decrease as r
  falls; *partly* when every rate rises (ratio interval above 1) but not all collapse within the run or
  the order fails; *contradicts* when some rate does not rise. For the count model the crossing that
  theory/heldout.py predicts from each seed's own R and E stands beside the measured one (it replaced a
  two-point fit of a + b / r).
- (c) accumulate, mix 0.5, fresh: the state.
- (d) replace, downstream probe: the first generation from which the interval of downstream_gap (accuracy
  minus the random-init baseline's, per seed) contains 0 or lies below it; the claim needs generation 0
  itself to beat the baseline (else the probe cannot tell them apart and the table says so).
- (e) replace, repetitiveness: the slopes of repetition and self-BLEU over generations (intervals across
  seeds): more repetitive when at least one rises beyond its interval and neither falls; less repetitive
  (contradicting the paper) when at least one falls and neither rises; mixed or unclear otherwise.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmcollapse.analysis.aggregation import (
    MIN_SEEDS_FOR_INTERVAL, aggregate_rows, few_seeds_note, mean_over_seeds, metric_matrix, too_few_seeds)
from lmcollapse.config import apply_overrides
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config
from lmcollapse.analysis.report import sweep_data, write_report
from lmcollapse.sweep import SweepDir
from lmcollapse.analysis.verdict import BOUND, late_slopes, state_of
from lmcollapse.analysis import statistics
from lmcollapse.studies.base import STUDIES, Study, StudyPlan
from lmcollapse.studies.execution import generation_seconds, merged, run_study, with_study_bases
from lmcollapse.theory.heldout import heldout_for

MODELS = ("gpt", "ngram", "gpt-finetune", "gpt-markov")  # the rows a scale's spec defines, in this order
PROBE_EQUIVALENCE_MARGIN = 0.02  # claim (d): "no better than random init" means within +-2 points of accuracy


@dataclass
class Point:
    model: str  # "gpt" or "ngram": which base config
    label: str  # the policy, e.g. "accumulate-subsample r=0.3"
    paradigm: dict
    config: dict

    @property
    def tags(self) -> dict[str, str]:
        """The point's columns in the study's results table."""
        return {"model": self.model, "policy": self.label}


def effective_spec(spec: dict, quick: bool = False, scale: str = "cpu") -> dict:
    """The spec at a scale ("cpu", or one under `scales`), shrunk to its quick version when asked."""
    spec = copy.deepcopy(spec)
    if scale != "cpu":
        if scale not in spec.get("scales", {}):
            raise LmcollapseError(f"--scale {scale!r}: choose cpu or one of {', '.join(spec.get('scales', {}))}")
        spec = merged({k: v for k, v in spec.items() if k not in ("models", "quick")}, spec["scales"][scale]) | \
            {"quick": spec.get("quick", {})}
    if quick:
        spec = merged(spec, spec.get("quick", {}))
    return spec


def points(spec: dict, models: tuple[str, ...] = MODELS, out_dir: str | Path | None = None) -> list[Point]:
    """Every (model, policy) of the spec, for the chosen models the spec defines (a scale may define fewer).
    A model with model.base: study fine-tunes bases the study pretrains into out_dir/bases."""
    out = []
    for model in (m for m in models if m in spec["models"]):
        base = with_study_bases(apply_overrides(spec["models"][model], {"generations": spec["generations"]}),
                                spec, out_dir, "runs/reproduce-paper")
        for entry in spec["paradigms"]:
            out.append(Point(model, entry["label"], entry["paradigm"],
                             apply_overrides(base, {"paradigm": entry["paradigm"]})))
    return out


def validate(spec: dict, models: tuple[str, ...] = MODELS, out_dir: str | Path | None = None) -> list[Point]:
    """Every point's config, checked (one line for the first problem) before anything runs."""
    chosen = points(spec, models, out_dir)
    for p in chosen:
        try:
            load_config(p.config)
        except LmcollapseError as exc:
            raise LmcollapseError(f"{p.model} / {p.label}: {exc}") from None
    return chosen


def reproduce(spec: dict, out: str | Path, quick: bool = False, workers: int | None = None, progress: bool = True,
              models: tuple[str, ...] = MODELS, scale: str = "cpu", executor=None) -> Path:
    """A sweep of every (model, policy) x seed into out, then the claims read from its results table.
    executor: where the runs go (sweep.make_executor); default a local pool of `workers`."""
    spec = effective_spec(spec, quick, scale)
    out = Path(out)
    chosen = validate(spec, models, out)
    models = tuple(dict.fromkeys(p.model for p in chosen))
    started = time.perf_counter()
    sweep = run_study(PaperStudy.name, [(p.tags, p.config) for p in chosen], spec["seeds"], out, executor, workers,
                      progress,
                      trackers=spec.get("trackers", ()))
    groups = sweep.groups("model", "policy")  # (model, policy) -> each seed's rows
    seeds = sweep.seeds_of("model", "policy")  # (model, policy) -> the seeds of those rows
    claims = {model: measure_claims(spec, [p for p in chosen if p.model == model], groups, seeds) for model in models}
    claims_time = {model: generation_seconds(sweep, model=model) / 60 for model in models}
    text = summary(spec, claims, out, time.perf_counter() - started, claims_time)
    SweepDir(out).summary_file(".md").write_text(text)
    SweepDir(out).summary_file(".json").write_text(json.dumps(claims, indent=1, default=float))
    png = summary_plot(chosen, groups, out, models).read_bytes()
    for model in models:
        points = [p for p in sweep.points if p.tags.get("model") == model]
        write_report(sweep_data(sweep, points), SweepDir(out).report_file(model), preface=text, preface_png=png)
    return out


# ---- statistics across seeds ---------------------------------------------------------------------------
def _values(per_seed: list[list[dict]], metric: str) -> np.ndarray:
    """(seeds, generations) of one metric of a policy's seeds; NaN where a seed has no value."""
    return metric_matrix(per_seed, metric)


def _slopes(values: np.ndarray, log: bool = False) -> np.ndarray:
    """Per seed, the least-squares slope over generations."""
    t = np.arange(values.shape[1])
    out = []
    for row in values:
        ok = np.isfinite(row) & ((row > 0) if log else True)
        y = np.log(row[ok]) if log else row[ok]
        out.append(np.polyfit(t[ok], y, 1)[0] if ok.sum() >= 2 else np.nan)
    return np.array(out)


def _sign(low: float, high: float) -> int:
    """+1 when the interval lies above 0, -1 below, 0 when it contains 0 (or is undefined)."""
    return 1 if low > 0 else -1 if high < 0 else 0


def policy_numbers(per_seed: list[list[dict]], bound: float) -> dict:
    """Perplexity ratio at the last generation, its state, and the crossing generation per seed."""
    ppl = _values(per_seed, "heldout_ppl")
    ratio = ppl[:, -1] / ppl[:, 0]
    mean, low, high = mean_over_seeds(ratio, log=True)  # geometric mean; the interval stays above 0
    late = mean_over_seeds(late_slopes(ppl))  # is it still rising?
    state = state_of(low, high, late[1] > 0, int(np.isfinite(ratio).sum()), bound)  # the rule reports use
    crossings = []
    for row in ppl:
        above = np.flatnonzero(row > bound * row[0])
        crossings.append(int(above[0]) if len(above) else None)
    crossed = [c for c in crossings if c is not None]
    cross_mean = (mean_over_seeds(np.array(crossed, float), bounds=(0, ppl.shape[1] - 1))
                  if len(crossed) == len(crossings) else None)
    return {"ppl_start": float(np.nanmean(ppl[:, 0])), "ppl_end": float(np.nanmean(ppl[:, -1])),
            "ratio": mean, "ratio_lo": low, "ratio_hi": high, "late_slope": late[0], "late_slope_lo": late[1],
            "late_slope_hi": late[2], "state": state, "crossings": crossings,
            "crossing_bound": float(np.mean([c if c is not None else ppl.shape[1] - 1 for c in crossings])),
            "crossing_mean": None if cross_mean is None else cross_mean[0],
            "crossing_lo": None if cross_mean is None else cross_mean[1],
            "crossing_hi": None if cross_mean is None else cross_mean[2], "generations": int(ppl.shape[1])}


def theory_crossings(point: Point, seeds: list[int]) -> dict:
    """Per seed, the generation at which theory/heldout.py's expected held-out perplexity passes BOUND x
    generation 0 (None: not within the run), from that seed's R and E; or why there is no prediction (the
    theory covers the bigram on a text corpus under pure sampling, not the GPT)."""
    try:
        paths = [heldout_for(load_config(apply_overrides(point.config, {"seed": seed}))) for seed in seeds]
    except LmcollapseError as exc:
        return {"refusal": str(exc)}
    return {"crossings": [path.crossing() for path in paths],
            "ratio_end": float(np.exp(np.mean([np.log(path.ratio[-1]) for path in paths])))}


def measure_claims(spec: dict, chosen: list[Point], groups: dict[tuple, list[list[dict]]],
                   seeds: dict[tuple, list[int]] | None = None) -> dict:
    """One model's claims; groups: (model, policy) -> each seed's rows (Sweep.groups); seeds: the seeds of
    those rows (Sweep.seeds_of; default the spec's first ones)."""
    bound = BOUND
    by_label = {p.label: groups[(p.model, p.label)] for p in chosen}
    policies = {label: policy_numbers(per_seed, bound) for label, per_seed in by_label.items()}
    claims: dict = {"policies": policies, "seeds": min(len(per_seed) for per_seed in by_label.values())}
    replace = by_label.get("replace")
    if replace is not None:  # (a) the trend of log perplexity under replace
        mean, low, high = mean_over_seeds(_slopes(_values(replace, "heldout_ppl"), log=True))
        means = np.nanmean(_values(replace, "heldout_ppl"), axis=0)
        claims["a"] = {"slope": mean, "slope_lo": low, "slope_hi": high, "sign": _sign(low, high),
                       "rises": int((np.diff(means) > 0).sum()), "steps": len(means) - 1}
    rates = sorted(((p.paradigm["rate"], p.label) for p in chosen if p.paradigm["name"] == "accumulate-subsample"),
                   reverse=True)
    if rates:  # (b) accumulate-subsample at every rate
        per_rate = [{"rate": r, **policies[label]} for r, label in rates]
        bounds = [n["crossing_bound"] for n in per_rate]  # seeds that never cross count as the last generation
        points_by_label = {p.label: p for p in chosen}
        for n, (_, label) in zip(per_rate, rates):  # what theory/heldout.py predicts for the run's own R and E
            point = points_by_label[label]
            ran = seeds[(point.model, label)] if seeds else spec["seeds"][:len(by_label[label])]
            n["theory"] = theory_crossings(point, ran)
        claims["b"] = {"rates": per_rate, "all_collapsing": all(n["state"] == "collapsing" for n in per_rate),
                       "all_rise": all(n["ratio_lo"] > 1 for n in per_rate),
                       "some_does_not_rise": any(n["ratio_hi"] <= 1 for n in per_rate),
                       "later_for_smaller": all(x <= y for x, y in zip(bounds, bounds[1:]))}
    claims["c"] = {label: policies[label] for label in policies
                   if label.split()[0] in ("accumulate", "mix", "fresh") and not label.startswith("accumulate-subsample")}
    if replace is not None and np.isfinite(_values(replace, "downstream_gap")).any():  # (d) the probe under replace
        gap = _values(replace, "downstream_gap")
        per_generation = [mean_over_seeds(gap[:, t], column="downstream_gap") for t in range(gap.shape[1])]
        start_beats = per_generation[0][1] > 0
        enters = next((t for t, (_, low, _) in enumerate(per_generation) if not low > 0), None)
        margin = float(spec.get("probe_equivalence_margin", PROBE_EQUIVALENCE_MARGIN))
        claims["d"] = {"equivalent_at_end": statistics.within(gap[:, -1], margin), "margin": margin,
                       "gap": [g[0] for g in per_generation], "gap_lo": [g[1] for g in per_generation],
                       "gap_hi": [g[2] for g in per_generation], "generation_0_beats_baseline": bool(start_beats),
                       "enters_baseline": enters,
                       "baseline_acc": float(np.nanmean(_values(replace, "downstream_baseline_acc")[:, 0])),
                       "acc": [float(v) for v in np.nanmean(_values(replace, "downstream_acc"), axis=0)]}
    if replace is not None:  # (e) repetitiveness under replace
        slopes = {m: mean_over_seeds(_slopes(_values(replace, m))) for m in ("repetition", "self_bleu", "distinct_2")}
        signs = [_sign(slopes[m][1], slopes[m][2]) for m in ("repetition", "self_bleu")]
        direction = 1 if 1 in signs and -1 not in signs else -1 if -1 in signs and 1 not in signs else 0
        claims["e"] = {m: {"slope": s[0], "slope_lo": s[1], "slope_hi": s[2]} for m, s in slopes.items()} | \
            {"direction": direction}
    return claims


# ---- the written summary ---------------------------------------------------------------------------------
def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}g}"


def _interval(low, high, seeds: int, label: str = "95% CI ") -> str:
    """An interval as the tables print it, or why there is none."""
    if too_few_seeds(seeds):
        return few_seeds_note(seeds)
    return f"{label}{_fmt(low)} to {_fmt(high)}"


def _claim_d(d: dict, few: bool) -> tuple[str, str]:
    """(what was measured, verdict) of claim (d): downstream accuracy under replace against random init."""
    if few:
        measured, verdict = (f"accuracy {_fmt(d['acc'][0])} at 0, {_fmt(d['acc'][-1])} at {len(d['acc']) - 1}; "
                             f"baseline {_fmt(d['baseline_acc'])}", "unclear")
    elif not d["generation_0_beats_baseline"]:
        measured, verdict = (f"generation 0 does not beat the random-init baseline ({_fmt(d['baseline_acc'])}) "
                             f"beyond its interval: the probe cannot tell them apart at this scale", "untestable")
    else:
        # "no better than random init" is a claim of equality: shown by equivalence (two one-sided tests
        # within the stated margin), not by an interval that merely contains 0
        entered, shown = d["enters_baseline"], d.get("equivalent_at_end", False)
        base = (f"accuracy {_fmt(d['acc'][0])} at 0, {_fmt(d['acc'][-1])} at {len(d['acc']) - 1}; baseline "
                f"{_fmt(d['baseline_acc'])}; ")
        if shown:
            measured, verdict = base + f"equal to it within +-{_fmt(d['margin'])} at the last generation " \
                                       f"(equivalence shown)", "agrees"
        elif entered is not None:
            measured, verdict = base + f"the gap's interval reaches 0 at generation {entered}, but equality " \
                                       f"within +-{_fmt(d['margin'])} is not shown", "not shown"
        else:
            measured, verdict = base + "still above the baseline at the last generation", "not within the run"
    return measured, verdict


def claim_rows(claims: dict, bound: float) -> list[tuple[str, str, str, str]]:
    """(claim, the paper says, measured, verdict) for one model's claims. Every verdict rests on intervals
    across seeds: with too few seeds for one, each says so."""
    rows = []
    seeds = claims["seeds"]
    few = too_few_seeds(seeds)
    if "a" in claims:
        a = claims["a"]
        verdict = {1: "agrees", -1: "contradicts", 0: "unclear"}[a["sign"]]
        rows.append(("(a) replace: held-out perplexity rises", "rises every generation",
                     f"log-ppl slope {_fmt(a['slope'])}/generation ({_interval(a['slope_lo'], a['slope_hi'], seeds)}"
                     f"); mean rose in {a['rises']} of {a['steps']} steps", verdict))
    if "b" in claims:
        b = claims["b"]
        parts = []
        for n in b["rates"]:
            crossing = (f"crosses {bound}x at {_fmt(n['crossing_mean'])} "
                        f"({_interval(n['crossing_lo'], n['crossing_hi'], seeds, '')})" if n["crossing_mean"] is not None else
                        f"crosses in {sum(c is not None for c in n['crossings'])} of {len(n['crossings'])} seeds "
                        f"(at {', '.join('-' if c is None else str(c) for c in n['crossings'])})")
            parts.append(f"r={n['rate']:g}: ratio {_fmt(n['ratio'])} ({_interval(n['ratio_lo'], n['ratio_hi'], seeds, '')}), "
                         f"{n['state']}, {crossing}")
        parts.append("crossings " + ("do not come earlier" if b["later_for_smaller"] else "come EARLIER for some "
                                     "smaller r") + " as r falls")
        theory = [n for n in b["rates"] if "crossings" in n.get("theory", {})]
        if theory:  # the crossing each seed's R and E predict (theory/heldout.py), beside the measured
            parts.append("theory (held-out log-loss from each seed's R and E): " + "; ".join(
                f"r={n['rate']:g}: ratio {_fmt(n['theory']['ratio_end'])}, crosses at "
                f"{', '.join('-' if c is None else str(c) for c in n['theory']['crossings'])}" for n in theory))
        verdict = ("agrees" if b["all_collapsing"] and b["later_for_smaller"] else
                   "contradicts" if b["some_does_not_rise"] else "partly" if b["all_rise"] else "unclear")
        rows.append(("(b) accumulate-subsample: rises for every r, later for smaller r",
                     "collapse for every r > 0", "; ".join(parts), verdict))
    for label, n in claims.get("c", {}).items():
        rows.append((f"(c) {label}: stays bounded?", "real data kept or added: no collapse" if label != "accumulate r=0.1"
                     else "real data's share shrinks: collapse eventually",
                     f"ratio {_fmt(n['ratio'])} ({_interval(n['ratio_lo'], n['ratio_hi'], seeds)}), {n['state']}",
                     n["state"]))
    if "d" in claims:
        rows.append(("(d) replace: downstream accuracy falls to the random-init baseline",
                     "collapsed models no better than random init", *_claim_d(claims["d"], few)))
    if "e" in claims:
        e = claims["e"]
        rows.append(("(e) replace: samples grow more repetitive", "more repetitive",
                     "; ".join(f"{m} slope {_fmt(e[m]['slope'])} ({_interval(e[m]['slope_lo'], e[m]['slope_hi'], seeds, '')})"
                               for m in ("repetition", "self_bleu", "distinct_2")),
                     {1: "agrees", -1: "contradicts: less repetitive", 0: "mixed or unclear"}[e["direction"]]))
    if few:  # no interval, no verdict: the rules compare intervals with 0 or with the bound
        rows = [(claim, paper_says, measured, f"too few seeds ({seeds})") for claim, paper_says, measured, _ in rows]
    return rows


def summary(spec: dict, claims: dict, out: Path, seconds: float, compute: dict[str, float] | None = None) -> str:
    bound = BOUND
    lines = [f"# {spec['name']}: results", "",
             f"{len(spec['seeds'])} seeds x {spec['generations']} generations per policy; intervals are 95% "
             f"Student-t across seeds (from {MIN_SEEDS_FOR_INTERVAL} seeds on; with fewer there is no interval and no "
             f"verdict); *ratio*: held-out perplexity at the last generation over generation 0, the geometric mean "
             f"over seeds, its interval taken on the log scale; "
             f"*collapsing*: the ratio's interval above {bound} and log perplexity still rising over the second half "
             f"of the run, *levelled off*: above {bound} but no longer rising, *bounded*: below {bound}. Generation "
             f"work recorded in the runs: " + ", ".join(f"{m} {v:.1f} process-minutes" for m, v in (compute or {}).items())
             + f"; this invocation took {seconds / 60:.1f} minutes of wall time (runs already committed are not "
             f"redone). The rules are in lmcollapse/studies/paper.py.", ""]
    for model, c in claims.items():
        lines += [f"## Claims, {model}", "", "| claim | the paper | measured | verdict |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {m} | **{v}** |" for a, b, m, v in claim_rows(c, bound)]
        lines += ["", f"### Every policy, {model}", "",
                  "| policy | ppl at 0 | ppl at end | ratio (95% CI) | state | crosses (per seed) |",
                  "|---|---|---|---|---|---|"]
        for label, n in c["policies"].items():
            lines.append(f"| {label} | {_fmt(n['ppl_start'], 4)} | {_fmt(n['ppl_end'], 4)} | {_fmt(n['ratio'])} "
                         f"({_interval(n['ratio_lo'], n['ratio_hi'], c['seeds'], '')}) | {n['state']} | "
                         f"{', '.join('-' if x is None else str(x) for x in n['crossings'])} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def summary_plot(chosen: list[Point], groups: dict[tuple, list[list[dict]]], out: Path, models: tuple[str, ...]) -> Path:
    """summary.png: held-out perplexity over generations (mean over seeds) per policy, one panel per model,
    and the downstream accuracy under replace against its random-init baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probe_roots = [groups[(p.model, p.label)] for p in chosen if p.label == "replace" and
                   np.isfinite(_values(groups[(p.model, p.label)], "downstream_acc")).any()]
    panels = len(models) + bool(probe_roots)
    fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels, 4.0), squeeze=False)
    for ax, model in zip(axes[0], models):
        for i, p in enumerate(x for x in chosen if x.model == model):
            rows = aggregate_rows(groups[(p.model, p.label)])
            t = [r["generation"] for r in rows if r.get("heldout_ppl") is not None]
            ax.plot(t, [r["heldout_ppl"] for r in rows if r.get("heldout_ppl") is not None], "o-", ms=2,
                    color=f"C{i}", label=p.label)
        ax.set_yscale("log")
        ax.set_title(f"{model}: held-out perplexity (mean over seeds)", fontsize=10)
        ax.set_xlabel("generation")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7)
    if probe_roots:
        ax = axes[0][-1]
        acc, base = _values(probe_roots[0], "downstream_acc"), _values(probe_roots[0], "downstream_baseline_acc")
        t = np.arange(acc.shape[1])
        stats = np.array([mean_over_seeds(acc[:, g], column="downstream_acc") for g in t])  # a band inside [0, 1]
        ax.plot(t, stats[:, 0], "o-", color="C0", label="replace: probe accuracy")
        ax.fill_between(t, stats[:, 1], stats[:, 2], color="C0", alpha=0.2, linewidth=0)  # none with too few seeds
        ax.axhline(float(np.nanmean(base)), color="black", linestyle="--", label="random-init baseline")
        ax.set_title("downstream probe under replace", fontsize=10)
        ax.set_xlabel("generation")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7)
    fig.set_layout_engine("constrained")  # makes room for outside legends; tight_layout warns
    path = SweepDir(out).summary_file(".png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@STUDIES.register("paper", "the paper's language-model experiments: every data policy, for the GPT and the count "
                           "model")
class PaperStudy(Study):
    models = MODELS
    tags = ("model", "policy")

    def reproduce(self, spec, out, *, quick, progress, executor, models, scale):
        return reproduce(spec, out, quick=quick, progress=progress, models=models, scale=scale, executor=executor)

    def planned(self, spec, *, quick, scale, models):
        spec = effective_spec(spec, quick, scale)
        return StudyPlan(["/".join(p.tags.values()) for p in validate(spec, models)], list(spec["seeds"]))

    def outcome_file(self, folder):
        return folder.summary_file(".md")
