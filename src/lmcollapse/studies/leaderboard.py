"""The mitigation benchmark's leaderboard (studies/mitigations.py runs the study): each row's numbers, its
paired comparison with its baseline through the statistics layer (analysis/statistics.py), and the tables.

Leaderboard rules, per (model, setting, mitigation), from the results table; W is the model's watched
metric (held-out perplexity, or KL to the truth on the Markov chain), ratio_t = W_t / W_0 per seed:
- final_ratio: the geometric mean over seeds of the last generation's ratio, its 95% interval on the log
  scale (aggregation.mean_over_seeds; none with fewer than 3 seeds);
- collapse_generation: the first generation whose geometric-mean ratio exceeds BOUND (None: never);
- area_log_ratio: the area under the mean log-ratio curve over generations (trapezoids, one per step): the
  damage summed over the run, 0 for a model that never departs from generation 0;
- downstream_gap: the probe's accuracy minus the random-init baseline's at the last generation (GPT);
- repetition_change, distinct_2_change: last generation minus generation 0, means over seeds;
- acceptance_rate: the share of drawn documents the gates passed, over all generations (None without gates);
- activity: the mitigation's activity measures, means over generations and seeds (running/activity.py);
- contribution: synthetic documents entering per generation over those of `none` (1 when the gates filled
  the contribution; less when `oversample_max` ran out first);
- cost_ratio: generation process-seconds (recorded in the manifests) over those of `none` in the same model
  and setting (references: over replace's `none`);
- effect, p, p_adjusted, mde, stability: the row against its baseline B = `none` in the same model and
  setting (references: replace's `none`), seed by seed: the ratio of final ratios, the sign-flip p-value,
  Holm over every compared row of the leaderboard (the family), the minimal detectable effect at that level,
  and the share of seed resamples keeping the verdict (analysis/statistics.py, docs/statistics.md);
- verdict: *prevents*, *delays* or *harms* where the paired test finds a difference at the row's Holm level
  (prevents: the row's own interval below BOUND where B's is not); *no effect* where equivalence within the
  spec's margin is shown; *not detected* otherwise; *inactive* where every seed's numbers equal B's, or the
  mitigation's activity measures (running/activity.py: acceptance 1 with no document changed, no token
  edited, no target masked) sit at their idle values in every generation and seed: the mitigation changed
  nothing the learner saw; *uncertain* where fewer than 90% of seed resamples keep the
  verdict (`tentative` holds it); *baseline* for B; *too few seeds* under 3 paired seeds; *starves the
  model* for a mitigation whose gates pass no document, leaving the model nothing to train on in some seed
  (its note says in how many; no numbers, no comparison). `verdict_0_4` keeps 0.4's rule (unpaired
  intervals against B's, collapse generations compared without uncertainty) for re-analysis;
- power: where seeds by power (--seeds auto) stopped short of the model's target MDE.
- real_share: the realised share of real text in the tokens the learner saw, generations 1 on (manifests);
  detector_auc: the mean held-out AUC of a detector gate's detector; calibrated: the parameters a calibration
  rule set from generation 0 (calibration.py), with their range over seeds;
- vs_mix (a control, for every row that keeps more real data than its baseline): the row's final ratio over
  that of `mix` at the row's realised real share, seed by seed. `mix` runs at a grid of real shares (the
  reference rows named "mix ..."; `replay` is the share-1 end and replace's `none` the share-0 end), and the
  matched value is interpolated per seed, linearly in the measured shares, on the log scale. An effect here
  is what the mitigation adds beyond keeping that much real data; p is the unadjusted sign-flip p-value;
- the verifiers (known truth only): phi and psi, the shares of good and of bad candidates they keep, and the
  breakdown point Feng et al. (2024) derive from them, p* = 1 / (1 + psi / phi). Good: per-token truth
  log-probability at least a quantile of the real documents'. For `verifier` that quantile is its own
  acceptance threshold, so with error rate e, phi = 1 - e and psi = e by construction (a tautology the table
  flags);
  `oracle-rejection` accepts by a different rule (rejection sampling towards the truth), so its phi and psi
  are measured;
- reproduce_first (the spec's `reproduce_first`): each peer's headline claim checked in its paper's regime
  (model and setting) before its rows are read elsewhere: "yes" where the row's verdict goes the paper's way
  (`expects: lower`, the default: prevents or delays; `expects: higher`: harms), "no" where it goes the
  other way or is shown equivalent, otherwise the verdict that stopped it (not detected, uncertain, inactive,
  not run).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lmcollapse.analysis import statistics
from lmcollapse.analysis.aggregation import (
    MIN_SEEDS_FOR_INTERVAL, aggregate_rows, mean_over_seeds, metric_matrix, too_few_seeds)
from lmcollapse.analysis.verdict import BOUND
from lmcollapse.running.activity import never_acted, summary as activity_summary
from lmcollapse.sweep import SweepDir

if TYPE_CHECKING:
    from lmcollapse.studies.mitigations import Point

NAN = float("nan")
REFERENCE = "reference"  # the setting column of the reference policies
STARVES = "starves the model"  # the verdict of a row whose gates left the model nothing to train on
INACTIVE = "inactive"  # a row whose mitigation changed nothing the learner saw: not evidence, not ranked
UNCERTAIN = "uncertain"  # a verdict that fewer than STABLE_SHARE of the seed resamples reproduce
EQUIVALENCE_MARGIN = 0.10  # "no effect" needs the effect shown within +-10% of the baseline's ratio
BASELINE = "none"
COLUMNS = ("model", "setting", "mitigation", "final_ratio", "final_ratio_lo", "final_ratio_hi",
           "collapse_generation", "area_log_ratio", "downstream_gap", "repetition_change", "distinct_2_change",
           "acceptance_rate", "cost_ratio", "verdict", "seeds", "watch", "keep_good", "keep_bad",
           "breakdown_point", "contribution", "note", "effect", "effect_lo", "effect_hi", "p", "p_adjusted", "mde",
           "stability", "paired_seeds", "test", "tentative", "verdict_0_4", "sd", "power", "activity", "real_share",
           "detector_auc", "calibrated", "matched_share", "vs_mix", "vs_mix_lo", "vs_mix_hi", "vs_mix_p",
           "work_seconds")
DATA_KEEPING = 0.05  # a row keeps real data when its realised real share exceeds its baseline's by this much
# reproduce-first: a verdict against the paper's expected direction on the watched metric -> "yes" or "no"
REPRODUCES = {"lower": {"prevents": "yes", "delays": "yes", "harms": "no", "no effect": "no"},
              "higher": {"harms": "yes", "prevents": "no", "delays": "no", "no effect": "no"}}


CUT_REASON = "not run: cut from the CPU run to fit one working session (docs/mitigations.md)"


# ---- the numbers of one row --------------------------------------------------------------------------------
def _ratios(per_seed: list[list[dict]], watch: str) -> np.ndarray:
    """(seeds, generations) W_t / W_0 per seed."""
    values = metric_matrix(per_seed, watch)
    return values / values[:, :1]


def row_numbers(per_seed: list[list[dict]], watch: str) -> dict:
    ratio = _ratios(per_seed, watch)
    final, low, high = mean_over_seeds(ratio[:, -1], log=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_curve = np.array([np.nanmean(np.log(ratio[:, t])) if np.isfinite(ratio[:, t]).any() else np.nan
                              for t in range(ratio.shape[1])])
    above = np.flatnonzero(np.exp(log_curve) > BOUND)
    rows = aggregate_rows(per_seed)
    first, last = rows[0], rows[-1]

    def change(metric: str):
        return None if first.get(metric) is None or last.get(metric) is None else last[metric] - first[metric]

    acceptance = [r["acceptance_rate"] for seed in per_seed for r in seed if r.get("acceptance_rate") is not None]
    finite = log_curve[np.isfinite(log_curve)]
    return {"final_ratio": final, "final_ratio_lo": low, "final_ratio_hi": high,
            "collapse_generation": int(above[0]) if len(above) else None,
            "area_log_ratio": float(np.sum((finite[1:] + finite[:-1]) / 2)) if len(finite) > 1 else 0.0,
            "downstream_gap": last.get("downstream_gap"), "repetition_change": change("repetition"),
            "distinct_2_change": change("distinct_2"),
            "acceptance_rate": float(np.mean(acceptance)) if acceptance else None,
            "seeds": len(per_seed), "generations": ratio.shape[1]}


def power_settings(spec: dict) -> tuple[dict[str, float], int]:
    """(model -> target MDE as a ratio, seed budget) of the spec's `power` section."""
    power = spec.get("power", {})
    return dict(power.get("target_mde", {})), int(power.get("seed_budget", len(spec["seeds"])))


def seeds_needed(board: list[dict], spec: dict) -> int:
    """How many seeds every row should have for each compared row's MDE to reach its model's target, at the
    row's Holm level, from the measured spreads; at most the budget (statistics.seeds_for)."""
    targets, budget = power_settings(spec)
    family = sum(1 for r in board if r.get("p") is not None and np.isfinite(r["p"]))
    needed = len(spec["seeds"])
    for r in board:
        target, sd = targets.get(r["model"]), r.get("sd")
        if target is None or r.get("mde") is None or r["mde"] <= target:
            continue
        enough = statistics.seeds_for(target, sd, family, budget) if sd is not None and np.isfinite(sd) else None
        needed = max(needed, budget if enough is None else enough)
    return min(needed, budget)


def _mark_power(board: list[dict], spec: dict) -> None:
    """Each row's `power` note: where seeds by power stopped at the budget short of the row's target."""
    targets, budget = power_settings(spec)
    for r in board:
        target = targets.get(r["model"])
        if target is not None and r.get("mde") is not None and r["mde"] > target:
            r["power"] = (f"MDE {_mde_text(r['mde'], 3)} short of the target {target:g}x at {len(spec['seeds'])} seeds"
                          + (" (the budget)" if len(spec["seeds"]) >= budget else ""))


def compare_with_baselines(rows: list[dict], ratios: dict[tuple, dict[int, float]], margin: float) -> None:
    """Every measured row against its baseline (row["baseline"]), seed by seed: p, Holm's adjustment over the
    whole leaderboard (the family), effect, mde, stability and the verdict, written into the rows."""
    compared = [r for r in rows if r["verdict"] is None]
    pairs = {id(r): statistics.differences(ratios[_key(r)], ratios[r["baseline"]]) for r in compared}
    results = {id(r): statistics.paired(pairs[id(r)]) for r in compared}
    pvalues = [results[id(r)].p for r in compared]
    for r, adjusted, factor in zip(compared, statistics.holm(pvalues), statistics.holm_factors(pvalues)):
        d, result = pairs[id(r)], results[id(r)]
        factor = 1.0 if not np.isfinite(factor) else factor
        r.update(effect=result.effect, effect_lo=result.low, effect_hi=result.high, p=result.p, p_adjusted=adjusted,
                 sd=result.sd,
                 mde=statistics.mde(result.sd, result.n, factor), paired_seeds=result.n, test=statistics.SIGN_FLIP)
        if result.identical or r["never_acted"]:
            # the same numbers as the baseline in every seed, or its activity measures at their idle values in
            # every generation: the mitigation changed nothing the learner saw
            r["verdict"], r["stability"] = INACTIVE, None
            continue
        bounded = bool(r["final_ratio_hi"] < BOUND)
        base = r["baseline_row"]
        base_bounded = bool(base["final_ratio_hi"] < BOUND)
        decided = lambda sample: statistics.paired_verdict(sample, factor, bounded, base_bounded, margin)  # noqa: E731
        r["verdict"] = decided(d)
        r["stability"] = statistics.stability(d, decided) if r["verdict"] != "too few seeds" else None
        if r["stability"] is not None and r["stability"] < statistics.STABLE_SHARE:
            r["tentative"], r["verdict"] = r["verdict"], UNCERTAIN


def verdict_text(row: dict) -> str:
    """The verdict as the tables print it: an uncertain one with its flip probability."""
    if row.get("verdict") == UNCERTAIN and row.get("stability") not in (None, ""):
        return f"uncertain (p_flip {1 - float(row['stability']):.2f})"
    return str(row.get("verdict"))


def _key(row: dict) -> tuple:
    return row["model"], row["setting"], row["mitigation"]


def verdict(row: dict, baseline: dict) -> str:
    """0.4's rule (unpaired intervals, no multiplicity), kept for comparison: re-analysis tables print both."""
    if row is baseline:
        return "baseline"
    if too_few_seeds(row["seeds"]) or too_few_seeds(baseline["seeds"]):
        return "too few seeds"
    bounded = row["final_ratio_hi"] < BOUND
    base_collapses, collapses = baseline["collapse_generation"], row["collapse_generation"]
    if bounded and not baseline["final_ratio_hi"] < BOUND:
        return "prevents"
    if row["final_ratio_lo"] > baseline["final_ratio_hi"] or (
            collapses is not None and (base_collapses is None or collapses < base_collapses)):
        return "harms"
    if row["final_ratio_hi"] < baseline["final_ratio_lo"] or (
            base_collapses is not None and (collapses is None or collapses > base_collapses)):
        return "delays"
    return "no effect"


def starved_numbers(seeds: int) -> dict:
    """The row of a mitigation under which the model had nothing to train on: no numbers, its own verdict."""
    return {"final_ratio": NAN, "final_ratio_lo": NAN, "final_ratio_hi": NAN, "collapse_generation": None,
            "area_log_ratio": None, "downstream_gap": None, "repetition_change": None, "distinct_2_change": None,
            "acceptance_rate": 0.0, "seeds": seeds}


def leaderboard(spec: dict, chosen: list[Point], groups: dict[tuple, list[list[dict]]],
                seconds: dict[tuple, float], starved: dict[tuple, str] | None = None,
                kept: dict[tuple, float] | None = None, activity: dict[tuple, list[dict]] | None = None,
                real_share: dict[tuple, float | None] | None = None,
                calibrated: dict[tuple, dict[str, list[float]]] | None = None) -> list[dict]:
    """One row per point, in the spec's order, with its verdict against its baseline; starved: the points
    whose gates left the model nothing to train on in some seed, with the note to print; activity: each
    point's mitigation activity records, one per generation and seed (running/activity.py); real_share and
    calibrated: each point's realised real-token share and calibrated parameters (studies/mitigations.py)."""
    starved, activity, real_share, calibrated = starved or {}, activity or {}, real_share or {}, calibrated or {}
    rows = []
    for p in chosen:
        watch = spec["models"][p.model]["watch"]
        key = tuple(p.tags.values())
        numbers = starved_numbers(len(spec["seeds"])) if key in starved else row_numbers(groups[key], watch)
        records = activity.get(key, [])
        aucs = [r["detector_auc"] for r in records if r.get("detector_auc") is not None]
        rows.append({**p.tags, **numbers, "watch": watch, "note": starved.get(key),
                     "activity": activity_summary(records), "never_acted": never_acted(records),
                     "real_share": real_share.get(key), "detector_auc": float(np.mean(aucs)) if aucs else None,
                     "calibrated": calibrated_text(calibrated.get(key, {})),
                     "work_seconds": seconds.get(key)})
    by_key = {(r["model"], r["setting"], r["mitigation"]): r for r in rows}
    first_setting = next(iter(spec["settings"]))
    for r in rows:
        setting = first_setting if r["setting"] == REFERENCE else r["setting"]
        base = by_key[(r["model"], setting, BASELINE)]
        r["baseline"], r["baseline_row"] = _key(base), base
        r["verdict_0_4"] = STARVES if r["note"] else verdict(r, base)
        r["verdict"] = STARVES if r["note"] else ("baseline" if r is base else None)
        spent = seconds.get((base["model"], base["setting"], BASELINE))
        mine = seconds.get((r["model"], r["setting"], r["mitigation"]))
        r["cost_ratio"] = mine / spent if spent and mine is not None else None
        ours, theirs = (kept or {}).get((r["model"], r["setting"], r["mitigation"])), \
            (kept or {}).get((base["model"], base["setting"], BASELINE))
        r["contribution"] = ours / theirs if ours is not None and theirs else None
    ratios = {tuple(p.tags.values()): statistics.final_ratios(groups[tuple(p.tags.values())], spec["models"][p.model]["watch"])
              for p in chosen if tuple(p.tags.values()) not in starved}
    compare_with_baselines(rows, ratios, float(spec.get("equivalence_margin", EQUIVALENCE_MARGIN)))
    compare_with_matched_mix(rows, ratios)
    for r in rows:
        r.pop("baseline_row")
        r.pop("never_acted")
    return rows


def calibrated_text(values: dict[str, list[float]]) -> str:
    """"model.tce_gamma 0.93 (0.91-0.95)": each calibrated parameter's mean over seeds and its range."""
    parts = []
    for name, v in sorted(values.items()):
        spread = f" ({min(v):.3g}-{max(v):.3g})" if max(v) > min(v) else ""
        parts.append(f"{name} {np.mean(v):.3g}{spread}")
    return "; ".join(parts)


# ---- the matched-mix control ---------------------------------------------------------------------------
def _mix_grid(rows: list[dict], ratios: dict[tuple, dict[int, float]], model: str) -> list[tuple[float, dict]]:
    """(measured real share, seed -> final ratio) of the model's share grid, by share: its `mix` references,
    `replay`, and replace's `none` (every generation after the first fully synthetic: share 0)."""
    grid = []
    for r in rows:
        if r["model"] != model or r.get("real_share") is None or _key(r) not in ratios:
            continue
        if (r["setting"] == REFERENCE and (r["mitigation"].startswith("mix") or r["mitigation"] == "replay")) or \
                (r["setting"] == "replace" and r["mitigation"] == BASELINE):
            grid.append((float(r["real_share"]), ratios[_key(r)]))
    return sorted(grid, key=lambda g: g[0])


def matched_mix_ratios(grid: list[tuple[float, dict]], share: float) -> dict[int, float] | None:
    """seed -> the final ratio of `mix` at this real share, interpolated per seed on the log scale between the
    two grid points around it (None outside the grid)."""
    below = [g for g in grid if g[0] <= share]
    above = [g for g in grid if g[0] >= share]
    if not below or not above:
        return None
    (x0, r0), (x1, r1) = below[-1], above[0]
    w = 0.0 if x1 == x0 else (share - x0) / (x1 - x0)
    return {s: float(np.exp((1 - w) * np.log(r0[s]) + w * np.log(r1[s]))) for s in set(r0) & set(r1)
            if r0[s] > 0 and r1[s] > 0}


def compare_with_matched_mix(rows: list[dict], ratios: dict[tuple, dict[int, float]]) -> None:
    """vs_mix for each data-keeping row: its final ratio over mix's at its own realised real share."""
    grids: dict[str, list] = {}
    for r in rows:
        base = r["baseline_row"]
        if r is base or r["setting"] == REFERENCE or r.get("real_share") is None or _key(r) not in ratios or \
                base.get("real_share") is None or r["real_share"] <= base["real_share"] + DATA_KEEPING:
            continue
        grid = grids.setdefault(r["model"], _mix_grid(rows, ratios, r["model"]))
        matched = matched_mix_ratios(grid, r["real_share"])
        if matched is None:
            continue
        result = statistics.paired(statistics.differences(ratios[_key(r)], matched))
        r.update(matched_share=r["real_share"], vs_mix=result.effect, vs_mix_lo=result.low, vs_mix_hi=result.high,
                 vs_mix_p=result.p)


# ---- reproduce first -----------------------------------------------------------------------------------
def reproduce_first(rows: list[dict], spec: dict) -> list[dict]:
    """One line per peer in the spec's `reproduce_first`: its paper's claim, the row in its paper's regime,
    the measured effect against none there, and whether the paper's direction reproduces."""
    by_key = {_key(r): r for r in rows}
    out = []
    for mitigation, claim in spec.get("reproduce_first", {}).items():
        model, setting = claim["regime"]
        r = by_key.get((model, setting, mitigation))
        verdict_ = verdict_text(r) if r else "not run"
        expects = claim.get("expects", "lower")  # the watched metric's direction the paper predicts vs none
        out.append({"mitigation": mitigation, "paper": claim["paper"], "claim": claim["claim"], "model": model,
                    "setting": setting, "expects": expects, "effect": r.get("effect") if r else None,
                    "effect_lo": r.get("effect_lo") if r else None, "effect_hi": r.get("effect_hi") if r else None,
                    "p_adjusted": r.get("p_adjusted") if r else None, "verdict": verdict_,
                    "reproduces": REPRODUCES[expects].get(r["verdict"], verdict_) if r else "not run"})
    return out


# ---- the verifiers' keep rates -------------------------------------------------------------------------
VERIFIERS = {"verifier": "quantile", "oracle-rejection": "good_quantile"}  # gate -> its "good" quantile key
TAUTOLOGY = "verifier"  # good is its own acceptance threshold: phi = 1 - e and psi = e (its error rate) by construction


def _with_verifier_rates(rows: list[dict], sweep, chosen: list[Point]) -> list[dict]:
    """phi, psi and the breakdown point for the rows whose gates include a verifier."""
    from lmcollapse.api import load_run
    from lmcollapse.running.parts import load_source
    from lmcollapse.gates.verifier import good_threshold

    by_tags = {tuple(p.tags.values()): p for p in chosen}
    for r in rows:
        point = by_tags[(r["model"], r["setting"], r["mitigation"])]
        names = [g if isinstance(g, str) else g["name"] for g in point.config.get("gates", [])]
        gate = next((name for name in names if name in VERIFIERS), None)
        if gate is None:
            continue
        good_kept = good = bad_kept = bad = 0
        runs = next(sp for sp in sweep.points if sp.tags == point.tags).started()
        for path in runs:
            run = load_run(path)
            data = load_source(run.config)
            section = next(g for g in run.config.gates if g.name == gate)  # the run's own, defaults filled in
            threshold = good_threshold(data.truth, run.real, getattr(section, VERIFIERS[gate]))
            for t in range(run.generations_done - 1):
                record = run.gate_record(t)
                scores = record[f"score_{gate}"]
                scored = np.isfinite(scores)  # the candidates the verifier saw
                is_good = scores >= threshold
                kept = record["rejected_by"] != gate
                good += int((scored & is_good).sum())
                good_kept += int((scored & is_good & kept).sum())
                bad += int((scored & ~is_good).sum())
                bad_kept += int((scored & ~is_good & kept).sum())
        phi = good_kept / good if good else None
        psi = bad_kept / bad if bad else None
        r.update(keep_good=phi, keep_bad=psi, verifier_gate=gate,
                 breakdown_point=1 / (1 + psi / phi) if phi and psi is not None else None)
    return rows


# ---- writing it ----------------------------------------------------------------------------------------
def _number_or_none(text):
    """A csv cell as a number (None where empty)."""
    return None if text in (None, "") else float(text)


def _numbers(row: dict) -> dict:
    return {k: _number_or_none(row.get(k)) for k in ("effect", "effect_lo", "effect_hi")}


def _paired_text(row: dict) -> str:
    """The row's ratio over its baseline's, paired by seed, with its interval ("-" for the baseline)."""
    effect = row.get("effect")
    if effect is None or not np.isfinite(effect):
        return "-"
    low, high = row.get("effect_lo"), row.get("effect_hi")
    return f"{effect:.3g}x" + (f" ({low:.3g} to {high:.3g})" if low is not None and np.isfinite(low) else "")


def _mde_text(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    return "none possible" if not np.isfinite(value) else f"{value:.{digits}g}x"


def _vs_mix_text(row: dict) -> str:
    """The row's ratio over mix's at its realised real share, with its interval ("-": not a data-keeping row)."""
    effect = row.get("vs_mix")
    if effect in (None, "") or not np.isfinite(float(effect)):
        return "-"
    low, high = row.get("vs_mix_lo"), row.get("vs_mix_hi")
    interval = f" ({float(low):.3g} to {float(high):.3g})" if low not in (None, "") and np.isfinite(float(low)) else ""
    return f"{float(effect):.3g}x{interval}"


def _reproduce_first_text(lines_: list[dict]) -> list[str]:
    """The reproduce-first table: each peer's headline claim in its paper's regime, before the rankings."""
    if not lines_:
        return []
    out = ["## Reproduce first", "", "Before a peer's method is ranked, its paper's headline direction in its paper's "
           "regime: *vs none* is the row's ratio over `none`'s there, paired by seed (95% interval), *reproduces* "
           "yes where the verdict goes the way the paper predicts (*expects*: the watched metric lower or higher "
           "than under none), no where it goes the other way or is shown equivalent, otherwise what stopped it.", "",
           "| mitigation | paper | claim | regime | expects | vs none, paired | p adj. | verdict | reproduces |",
           "|" + "---|" * 9]
    for x in lines_:
        out.append(f"| {x['mitigation']} | {x['paper']} | {x['claim']} | {x['model']} / {x['setting']} | "
                   f"{x['expects']} | {_paired_text(x)} | {_fmt(x['p_adjusted'], 2)} | {x['verdict']} | "
                   f"**{x['reproduces']}** |")
    return out + [""]


def _collapse_text(row: dict) -> str:
    """The collapses-at cell: a generation, "never", or "-" for a starved row, which has no curve to read."""
    if row.get("note") or row.get("verdict") == STARVES:
        return "-"
    return "never" if row["collapse_generation"] in (None, "") else str(row["collapse_generation"])


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def write_leaderboard(rows: list[dict], skipped: list[tuple], spec: dict, out: Path) -> None:
    with open(SweepDir(out).leaderboard_file(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: r.get(k) for k in COLUMNS} for r in rows)
    SweepDir(out).leaderboard_file(".json").write_text(json.dumps({"rows": rows, "does_not_apply": [
        {"model": m, "setting": s, "mitigation": g, "reason": why} for m, s, g, why in skipped],
        "reproduce_first": reproduce_first(rows, spec)}, indent=1, default=float))
    SweepDir(out).leaderboard_file(".md").write_text(leaderboard_text(rows, skipped, spec))


def _table_order(row: dict) -> tuple:
    """Settings in turn, references last; within one, rows by final ratio, the inactive ones (not ranked) last."""
    return (row["setting"] == REFERENCE, row["setting"], row.get("verdict") == INACTIVE,
            np.nan_to_num(row["final_ratio"], nan=np.inf))


def leaderboard_text(rows: list[dict], skipped: list[tuple], spec: dict) -> str:
    seeds = len(spec["seeds"])
    lines = [f"# {spec['name']}: the leaderboard", "",
             f"{seeds} seeds x {spec['generations']} generations per row; the same number of synthetic documents "
             f"enters the data every generation in every row. *ratio*: the watched metric at the last generation "
             f"over generation 0, geometric mean over seeds with its 95% interval on the log scale (from "
             f"{MIN_SEEDS_FOR_INTERVAL} seeds on); *collapses at*: the first generation whose mean ratio exceeds "
             f"{BOUND}; *area*: the area under the mean log-ratio curve; *documents in*: synthetic documents entering per "
             f"generation over `none`'s; *cost*: generation process-seconds over "
             f"`none`'s in the same model and setting. *vs none, paired*: the row's ratio over `none`'s in the same "
             f"setting (references: replace's), seed by seed, with its t-interval; *p adj.*: "
             f"{statistics.SIGN_FLIP} over every row of the leaderboard; *MDE*: the smallest such effect "
             f"detectable with {statistics.POWER:.0%} power at that level (\"none possible\": too few seeds for "
             f"the test to reach it); *stable*: the share of seed resamples giving the same verdict. Verdicts: "
             f"prevents, delays, harms (a difference found), no effect (equivalence within "
             f"+-{spec.get('equivalence_margin', EQUIVALENCE_MARGIN):.0%} shown), not detected (neither), inactive "
             f"(the same numbers as `none` in every seed, or no document filtered, token edited or target masked: "
             f"the mitigation changed nothing the learner saw; not ranked), uncertain (stable in "
             f"fewer than {statistics.STABLE_SHARE:.0%} of resamples), starves the model (its gates passed no "
             f"document; no numbers). *real share*: the realised share of real text in the tokens the learner saw "
             f"(generations 1 on); *vs mix*: for a row that keeps more real data than `none`, its ratio over `mix`'s "
             f"at that same real share (interpolated per seed between the mix rows; unadjusted p in the notes); "
             f"*calibrated*: parameters a calibration rule set from generation 0, mean over seeds (range). "
             f"Rules: lmcollapse/studies/leaderboard.py and docs/statistics.md.",
             ""]
    lines += _reproduce_first_text(reproduce_first(rows, spec))
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        lines += [f"## {model} (watching `{mine[0]['watch']}`)", "",
                  "| setting | mitigation | ratio (95% CI) | vs none, paired (95% CI) | p adj. | MDE | stable | "
                  "collapses at | area | probe gap | repetition | distinct-2 | acceptance | documents in | cost | "
                  "real share | vs mix | calibrated | verdict |", "|" + "---|" * 19]
        for r in sorted(mine, key=_table_order):
            interval = (f" ({_fmt(r['final_ratio_lo'])} to {_fmt(r['final_ratio_hi'])})"
                        if np.isfinite(r["final_ratio_lo"]) else "")
            collapse = _collapse_text(r)
            lines.append(f"| {r['setting']} | {r['mitigation']} | {_fmt(r['final_ratio'])}{interval} | "
                         f"{_paired_text(r)} | {_fmt(r.get('p_adjusted'), 2)} | {_mde_text(r.get('mde'))} | "
                         f"{_fmt(r.get('stability'), 2)} | {collapse} | "
                         f"{_fmt(r['area_log_ratio'])} | {_fmt(r['downstream_gap'])} | "
                         f"{_fmt(r['repetition_change'])} | {_fmt(r['distinct_2_change'])} | "
                         f"{_fmt(r['acceptance_rate'], 2)} | {_fmt(r.get('contribution'), 2)} | "
                         f"{_fmt(r['cost_ratio'], 2)} | {_fmt(r.get('real_share'), 2)} | "
                         f"{_vs_mix_text(r)} | {r.get('calibrated') or '-'} | **{verdict_text(r)}** |")
        notes = [f"- {r['setting']} / {r['mitigation']}: {r['note']}" for r in mine if r.get("note")]
        notes += [f"- {r['setting']} / {r['mitigation']}: {r['power']}" for r in mine if r.get("power")]
        notes += [f"- {r['setting']} / {r['mitigation']}: activity (mean over generations and seeds): {r['activity']}"
                  for r in mine if r.get("activity")]
        notes += [f"- {r['setting']} / {r['mitigation']}: vs mix at real share {_fmt(r['matched_share'], 2)}: "
                  f"{_fmt(r['vs_mix'])}x, unadjusted p {_fmt(r['vs_mix_p'], 2)}" for r in mine
                  if r.get("vs_mix") is not None]
        lines += [""] + notes if notes else []
        verifiers = [r for r in mine if r.get("keep_good") is not None]
        if verifiers:
            lines += ["", "Verifiers: the share of good (phi) and bad (psi) candidates kept, and the breakdown point "
                          "p* = 1 / (1 + psi / phi) that Feng et al. (2024) derive from them:", ""]
            lines += [f"- {r['setting']} / {r['mitigation']}: phi {_fmt(r['keep_good'])}, psi {_fmt(r['keep_bad'])}, "
                      f"p* {_fmt(r['breakdown_point'])}; measured: {r['verdict']}"
                      + (" (phi and psi by construction: good is this verifier's own threshold)"
                         if r.get("verifier_gate") == TAUTOLOGY else "") for r in verifiers]
        lines.append("")
    changed = [r for r in rows if r.get("verdict_0_4") not in (None, r["verdict"])]
    if changed:  # what the paired, multiplicity-corrected rules say differently from 0.4's unpaired intervals
        lines += ["## Verdicts that differ from 0.4's rule", "",
                  f"{len(changed)} of {len(rows)} rows: 0.4 compared unpaired 95% intervals, one row at a time, "
                  f"and called an undetected difference \"no effect\" (docs/statistics.md).", ""]
        lines += [f"- {r['model']} / {r['setting']} / {r['mitigation']}: {r['verdict_0_4']} -> {verdict_text(r)}"
                  for r in changed]
        lines.append("")
    cut = [(m, s, g) for m, s, g, why in skipped if why == CUT_REASON]
    if cut:
        lines += ["## Not run (the CPU run's cut)", "", "These rows were left out of the CPU run so that it fits one working session on 2 cores "
                  "(docs/mitigations.md says why these):", ""]
        lines += [f"- {m} / {s} / {g}" for m, s, g in cut]
        lines.append("")
    if len(cut) < len(skipped):
        lines += ["## Does not apply", ""]
        lines += [f"- {m} / {s} / {g}: {why}" for m, s, g, why in skipped if why != CUT_REASON]
        lines.append("")
    return "\n".join(lines)


def summary_plot(spec: dict, chosen: list[Point], groups: dict[tuple, list[list[dict]]], out: Path) -> Path:
    """summary.png: per model and setting, the mean ratio to generation 0 over generations of every row (log
    scale), the baseline in black, the bound dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(m, s) for m in dict.fromkeys(p.model for p in chosen) for s in spec["settings"]]
    fig, axes = plt.subplots(len(panels) // len(spec["settings"]), len(spec["settings"]),
                             figsize=(6.4 * len(spec["settings"]), 3.8 * len(panels) // len(spec["settings"])),
                             squeeze=False)
    labels = list(dict.fromkeys(p.mitigation for p in chosen if p.setting != REFERENCE))
    colour = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    for ax, (model, setting) in zip(axes.flat, panels):
        watch = spec["models"][model]["watch"]
        for p in (x for x in chosen if x.model == model and x.setting == setting):
            ratio = _ratios(groups[tuple(p.tags.values())], watch)
            with np.errstate(divide="ignore", invalid="ignore"):
                curve = np.exp(np.nanmean(np.log(ratio), axis=0))
            style = {"color": "black", "linewidth": 2.2} if p.mitigation == BASELINE else \
                {"color": colour[p.mitigation], "linewidth": 1.2, "linestyle": "--" if labels.index(p.mitigation) >= 10
                 else "-"}
            ax.plot(np.arange(len(curve)), curve, label=p.mitigation, **style)
        ax.axhline(BOUND, color="grey", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_title(f"{model}, {setting}: {watch} / generation 0", fontsize=10)
        ax.set_xlabel("generation")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=6, ncol=2)
    fig.set_layout_engine("constrained")  # makes room for outside legends; tight_layout warns
    path = SweepDir(out).summary_file(".png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def print_leaderboard(out: Path, console) -> None:
    """The leaderboard, one table per model, best final ratio first (what `lmcollapse show OUT` prints)."""
    import csv

    from rich.markup import escape
    from rich.table import Table

    with open(SweepDir(out).leaderboard_file(".csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    number = lambda text: float(text) if text not in ("", None) else float("nan")  # noqa: E731
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = sorted((r for r in rows if r["model"] == model),
                      key=lambda r: (r["setting"] == REFERENCE, r["setting"], number(r["final_ratio"])))
        table = Table(title=f"{out}: {model}, {mine[0]['watch']} at the last generation / generation 0 "
                            f"(geometric mean over seeds, 95% interval)")
        for column in ("setting", "mitigation", "ratio", "vs none", "p adj.", "MDE", "cost", "real share", "vs mix",
                       "verdict"):
            table.add_column(column, justify="left" if column in ("setting", "mitigation", "verdict") else "right")
        for r in mine:
            lo, hi = number(r["final_ratio_lo"]), number(r["final_ratio_hi"])
            interval = f" ({lo:.3g} to {hi:.3g})" if lo == lo else ""  # NaN: too few seeds
            cost = f"{number(r['cost_ratio']):.2g}x" if r["cost_ratio"] else ""
            ratio = "starved" if r.get("note") else f"{number(r['final_ratio']):.3g}{interval}"
            table.add_row(escape(r["setting"]), escape(r["mitigation"]), ratio, _paired_text(_numbers(r)),
                          _fmt(_number_or_none(r.get("p_adjusted")), 2), _mde_text(_number_or_none(r.get("mde"))),
                          cost, _fmt(_number_or_none(r.get("real_share")), 2), _vs_mix_text(r), verdict_text(r))
        console.print(table)
    board = json.loads(SweepDir(out).leaderboard_file(".json").read_text())
    first = board.get("reproduce_first", [])
    if first:
        table = Table(title="Reproduce first: each peer's headline direction in its paper's regime")
        for column in ("mitigation", "paper", "regime", "vs none", "verdict", "reproduces"):
            table.add_column(column)
        for x in first:
            table.add_row(escape(x["mitigation"]), escape(x["paper"]), escape(f"{x['model']} / {x['setting']}"),
                          _paired_text(x), escape(x["verdict"]), x["reproduces"])
        console.print(table)
