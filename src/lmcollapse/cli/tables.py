"""What the commands print about results: metrics tables, seed groups, sweep summaries, verdict lines and
early warnings (one place, so `run`, `sweep` and `show` print the same thing the same way)."""
from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from lmcollapse.analysis.aggregation import MIN_SEEDS_FOR_INTERVAL, aggregate_rows
from lmcollapse.analysis.early_warning import ALPHA, p_text
from lmcollapse.analysis.verdict import judge
from lmcollapse.cli.output import console, err_console
from lmcollapse.metrics import MetricsRow
from lmcollapse.sweep import Sweep, summarise


TABLE_COLUMNS = {"generation": "gen", "seeds": "seeds", "real_fraction": "real", "heldout_ppl": "ppl", "kl_to_truth": "KL",
                 "tv_to_truth": "TV", "model_entropy": "entropy", "support_fraction": "support",
                 "tail_mass_2": "tail-2", "distinct_2": "distinct-2", "self_bleu": "self-BLEU",
                 # the fit diagnostics of neural models (count models have none: the columns stay out)
                 "train_loss": "train loss", "validation_loss": "val loss", "epochs_run": "epochs",
                 "target_prob_p50": "p(target)", "dispersion_gap": "gap"}


def metrics_table(rows: list[dict], title: str | None = None) -> Table:
    """The headline metrics (every metric is in metrics.jsonl; `show --json` prints them all)."""
    present = [c for c in TABLE_COLUMNS if any(c in r for r in rows)]
    table = Table(title=title)
    for column in present:
        table.add_column(TABLE_COLUMNS.get(column, column), justify="right")
    for row in rows:
        table.add_row(*[_cell(row.get(c, "")) for c in present])
    return table


def with_seed_counts(rows: list[dict]) -> list[dict]:
    """Aggregated rows with how many seeds each generation's mean is over (unfinished seeds have fewer rows)."""
    return [{**row, "seeds": max(MetricsRow.from_json(row).counts.values(), default=0)} for row in rows]


def seeds_title(rows: list[dict], n_seeds: int) -> str:
    if all(row["seeds"] == n_seeds for row in rows):
        return f"mean over {n_seeds} seeds"
    return f"mean over up to {n_seeds} seeds (the seeds column: how many have each generation)"


def print_departures(departures) -> None:
    if not departures:
        print(f"early warning: no metric departs from generation 0 (false-flag rate <= {ALPHA:.0%} per metric)")
        return
    print(f"early warning, first generation departing from generation 0 ({departures[0].test}; "
          f"Bonferroni over generations, false-flag rate <= {ALPHA:.0%} per metric):")
    for d in sorted(departures, key=lambda d: (d.generation, d.metric)):
        print(f"  {d.metric:<20} generation {d.generation:<3} {d.direction:<4} {p_text(d.p_value)}")


def _cell(value) -> str:
    if value is None:
        return "inf/NA"
    if isinstance(value, float):
        return f"{int(value)}" if value.is_integer() and abs(value) > 1 else f"{value:.4g}"
    return str(value)


def warn_of_damaged_runs(sweep: "Sweep") -> None:
    """One line on stderr when runs of a sweep are damaged: its tables may show numbers of damaged files."""
    damaged = sweep.damaged_runs()
    if damaged:
        path, why = damaged[0]
        err_console.print(f"warning: {len(damaged)} of {len(sweep.started_runs())} runs of {sweep.path} are damaged "
                          f"(first: {path}: {why}); lmcollapse check {sweep.path} lists them; running the sweep's "
                          f"command again recomputes them", markup=False, soft_wrap=True)


def print_seed_table(sweep: "Sweep") -> None:
    """A sweep of one point (several seeds of one config): the mean over seeds per generation, early warning."""
    per_seed = [rows for rows in sweep.points[0].per_seed_rows() if rows]
    if not per_seed:
        print(f"{sweep.path}: no generation committed yet")
        return
    rows = with_seed_counts(aggregate_rows(per_seed))
    console.print(metrics_table(rows, title=seeds_title(rows, len(sweep.seeds))))
    verdict, departures = judge(str(sweep.path), per_seed)
    print(f"verdict: {verdict.line()}")
    print_departures(departures)


def print_sweep_summary(out: Path) -> None:
    """One line per point: its seeds, the final value of the watched metrics with intervals, early warning."""
    watched, summaries = summarise(out)
    table = Table(title=f"{out}: final generation, mean over seeds (95% interval, from "
                        f"{MIN_SEEDS_FOR_INTERVAL} seeds on)")
    table.add_column("point")
    table.add_column("seeds", justify="right")
    table.add_column("gens", justify="right")
    for m in watched:
        table.add_column(TABLE_COLUMNS.get(m, m), justify="right")
        table.add_column("warns at", justify="right")
    for p in summaries:
        cells = [escape(p.label), f"{p.seeds_done}/{p.seeds}", str(p.generations)]
        for m in watched:
            value = p.finals.get(m)
            if value is None:
                cells += ["", ""]
                continue
            mean, lo, hi = value
            cells.append(_cell(mean) + (f" ({_cell(lo)} to {_cell(hi)})" if lo is not None else ""))
            cells.append("" if p.departs.get(m) is None else str(p.departs[m]))
        table.add_row(*cells)
    console.print(table)
    for point in Sweep(out).points:  # the same verdict as the report's, per point
        per_seed = [rows for rows in point.per_seed_rows() if rows]
        if per_seed:
            print(f"verdict: {judge(point.label, per_seed)[0].line()}")
