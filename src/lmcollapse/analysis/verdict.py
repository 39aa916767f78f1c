"""Did it collapse? The one rule that every report, `lmcollapse show` and the paper study judge a run or a
seed group by.

The watched metric W is the exact KL to the truth on a known-truth corpus, else held-out perplexity; both
grow as a model degrades. The ratio is W at the last generation over W at generation 0:
- over seeds, the geometric mean of the seeds' ratios with a 95% Student-t interval on the log scale
  (aggregation.mean_over_seeds; none with fewer than MIN_SEEDS_FOR_INTERVAL seeds);
- for one run, the interval from the half-sampling intervals of both ends, (low_T / high_0, high_T / low_0):
  conservative, since both ends are measured on the same held-out documents.
State: *bounded* when the whole interval lies below BOUND; *collapsing* when it lies above and log W still
rises over the second half of the run (the interval of its slope across seeds above 0; for one run, the
ratio of the last generation to the middle one above 1 by the same conservative interval); *levelled off*
when above BOUND but no longer rising; *unclear* otherwise; *infinite* when W is infinite from some
generation on (a token lost: the verdict names the generation and the support and TV, which stay finite). From which generation: the early warning's
first departure of W from generation 0 (analysis/early_warning.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmcollapse.analysis.aggregation import (
    MIN_SEEDS_FOR_INTERVAL, few_seeds_note, mean_over_seeds, metric_matrix, too_few_seeds)
from lmcollapse.analysis.early_warning import Departure, warnings_for_run, warnings_for_seeds
from lmcollapse.metrics.row import MetricsRow

BOUND = 1.25  # the one collapse threshold: a watched metric beyond 1.25x generation 0 (every study uses it)
WATCHED = ("kl_to_truth", "heldout_ppl")  # in order of preference: the first a run measures


@dataclass(frozen=True)
class Verdict:
    label: str
    metric: str | None  # None: the run measures neither watched metric
    ratio: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    state: str = "unclear"
    departs: int | None = None  # the early warning's first departure of the metric
    seeds: int = 1
    generations: int = 0
    finite_seeds: int | None = None  # seeds whose ratio is finite (a starved or infinite seed has none)
    note: str | None = None  # why there is no ratio to judge, when the metric is measured but infinite

    def interval_text(self) -> str:
        if self.note is not None:
            return self.note
        if np.isfinite(self.low):
            return f"95% CI {self.low:.3g} to {self.high:.3g}"
        if self.seeds > 1 and self.finite_seeds is not None and self.finite_seeds < self.seeds:
            return (f"no interval: {self.finite_seeds} of {self.seeds} seeds have a finite ratio, "
                    f"{MIN_SEEDS_FOR_INTERVAL} or more needed")
        return few_seeds_note(self.seeds) if self.seeds > 1 else "no interval"

    def line(self) -> str:
        """One line, as `show` prints it."""
        if self.metric is None:
            return f"{self.label}: no verdict (it measures neither {' nor '.join(WATCHED)})"
        if self.note is not None:
            return f"{self.label}: no verdict ({self.note})"
        if self.generations < 2:
            return f"{self.label}: no verdict yet (one generation)"
        departs = "no early warning" if self.departs is None else f"departs from generation 0 at {self.departs}"
        return (f"{self.label}: {self.state}; {self.metric} {self.ratio:.3g}x generation 0 after "
                f"{self.generations - 1} generations ({self.interval_text()}); {departs}")


def state_of(low: float, high: float, still_rising: bool, seeds: int | None = None, bound: float = BOUND) -> str:
    """The rule of the module docstring, from the ratio's interval; seeds: how many it is across (None: one
    run's half-sampling interval)."""
    if seeds is not None and too_few_seeds(seeds):
        return "too few seeds"
    if high < bound:
        return "bounded"
    if not low > bound:
        return "unclear"
    return "collapsing" if still_rising else "levelled off"


def watched_metric(rows: list[dict]) -> str | None:
    """The first watched metric the rows measure (a row holds the key, with None where it is infinite)."""
    return next((m for m in WATCHED if any(m in r for r in rows)), None)


# What stays finite when a model gives probability 0 to a token: how much of the real support it keeps, and
# the total variation distance to the truth (known-truth corpora).
FINITE_STAND_INS = ("support_fraction", "tv_to_truth")


def infinity_note(per_seed: list[list[dict]], metric: str) -> str | None:
    """Why the rows give no ratio, when the watched metric is measured but infinite from some generation on
    (stored as None: the model gives probability 0 to a token the truth or the held-out text has)."""
    lost = [r["generation"] for rows in per_seed for r in rows if metric in r and r[metric] is None]
    if not lost:
        return None
    first = min(lost)
    whom = "the truth" if metric == "kl_to_truth" else "held-out text"
    note = (f"{metric} is infinite from generation {first}: the model gives probability 0 to tokens {whom} has, "
            f"absent from its training data")
    ends = []
    for name in FINITE_STAND_INS:
        start = [rows[0][name] for rows in per_seed if rows and rows[0].get(name) is not None]
        end = [rows[-1][name] for rows in per_seed if rows and rows[-1].get(name) is not None]
        if start and end:
            ends.append(f"{name} {np.mean(start):.3g} -> {np.mean(end):.3g}")
    return note + (f"; {', '.join(ends)}" if ends else "")


def late_slopes(values: np.ndarray) -> np.ndarray:
    """Per seed, the least-squares slope of log W over the second half of the generations."""
    half = values[:, values.shape[1] // 2:]
    t = np.arange(half.shape[1])
    out = []
    for row in half:
        ok = np.isfinite(row) & (row > 0)
        out.append(np.polyfit(t[ok], np.log(row[ok]), 1)[0] if ok.sum() >= 2 else np.nan)
    return np.array(out)


def judge(label: str, per_seed: list[list[dict]]) -> tuple[Verdict, list[Departure]]:
    """The verdict of one run or of several seeds of one config, with the early warning's departures it names:
    the one entry point, so that every table, `show` line and report says the same about the same rows."""
    if len(per_seed) >= 2:
        departures = warnings_for_seeds(per_seed)
        return judge_seeds(label, per_seed, departures), departures
    departures = warnings_for_run(per_seed[0])
    return judge_run(label, per_seed[0], departures), departures


def judge_seeds(label: str, per_seed: list[list[dict]], departures=()) -> Verdict:
    """The verdict of several seeds of one config (each seed's rows)."""
    metric = watched_metric([r for rows in per_seed for r in rows])
    if metric is None:
        return Verdict(label, None, seeds=len(per_seed))
    note = infinity_note(per_seed, metric)
    if note is not None:
        return Verdict(label, metric, float("inf"), state="infinite", seeds=len(per_seed),
                       generations=max(len(rows) for rows in per_seed), note=note)
    values = metric_matrix(per_seed, metric)  # (seeds, generations)
    ratios = values[:, -1] / values[:, 0]  # (seeds,)
    ratio, low, high = mean_over_seeds(ratios, log=True)
    rising = mean_over_seeds(late_slopes(values))[1] > 0
    finite = int((np.isfinite(ratios) & (ratios > 0)).sum())
    return Verdict(label, metric, ratio, low, high, state_of(low, high, rising, finite), _departure(departures, metric),
                   len(per_seed), values.shape[1], finite_seeds=finite)


def judge_run(label: str, rows: list[dict], departures=()) -> Verdict:
    """The verdict of one run from its rows (half-sampling intervals where it has them)."""
    metric = watched_metric(rows)
    if metric is None:
        return Verdict(label, None)
    note = infinity_note([rows], metric)
    if note is not None:
        return Verdict(label, metric, float("inf"), state="infinite", generations=len(rows), note=note)
    parsed = [MetricsRow.from_json(r) for r in rows if r.get(metric) is not None]
    if len(parsed) < 2:
        return Verdict(label, metric, generations=len(parsed))
    first, middle, last = parsed[0], parsed[len(parsed) // 2], parsed[-1]
    ratio = last.values[metric] / first.values[metric]
    low, high = _ratio_interval(last, first, metric)
    rise_low = _ratio_interval(last, middle, metric)[0]
    rising = rise_low > 1 if np.isfinite(rise_low) else last.values[metric] > middle.values[metric]
    # without half-sampling intervals (ci_rounds: 0) the ratio itself is compared with the bound
    state = state_of(low, high, rising) if np.isfinite(low) else state_of(ratio, ratio, rising)
    return Verdict(label, metric, ratio, low, high, state, _departure(departures, metric), 1, len(parsed))


def _ratio_interval(top: MetricsRow, bottom: MetricsRow, metric: str) -> tuple[float, float]:
    (top_lo, top_hi), (bottom_lo, bottom_hi) = top.interval(metric), bottom.interval(metric)
    if None in (top_lo, top_hi, bottom_lo, bottom_hi) or not bottom_lo > 0:
        return float("nan"), float("nan")
    return top_lo / bottom_hi, top_hi / bottom_lo


def _departure(departures, metric: str) -> int | None:
    return next((d.generation for d in departures if d.metric == metric), None)


NAMED_IN_WORDS = 6  # up to this many runs, the verdicts' paragraph names each; beyond, it counts them


def in_words(verdicts: list[Verdict]) -> str:
    """A short paragraph saying what the verdicts say."""
    judged = [v for v in verdicts if v.metric is not None and v.generations >= 2]
    if not judged:
        return "No run has two generations of a watched metric (held-out perplexity or KL to the truth) yet."
    by_state: dict[str, list[str]] = {}
    for v in judged:
        by_state.setdefault(v.state, []).append(v.label)
    if len(judged) > NAMED_IN_WORDS:  # many runs: the table names them; the paragraph counts them
        parts = [f"{state}: {len(names)} of {len(judged)}" for state, names in by_state.items()]
    else:
        parts = [f"{state}: {', '.join(names)}" if len(judged) > 1 else f"{names[0]} is {state}"
                 for state, names in by_state.items()]
    worst = max(judged, key=lambda v: v.ratio if np.isfinite(v.ratio) else -np.inf)
    first = min((v for v in judged if v.departs is not None), key=lambda v: v.departs, default=None)
    text = (f"Judged by {', '.join(sorted({v.metric for v in judged}))} at the last generation against generation 0 "
            f"(collapsing: the whole 95% interval above {BOUND}x and still rising; levelled off: above but no longer "
            f"rising; bounded: below {BOUND}x"
            + ("; infinite: a token lost, see the table" if "infinite" in by_state else "") + "): " + "; ".join(parts)
            + f". The largest ratio is {worst.label}'s, {worst.ratio:.3g}x.")
    if first is not None:
        text += f" The earliest departure from generation 0 is {first.label}'s, at generation {first.departs}."
    return text
