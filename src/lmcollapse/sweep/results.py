"""A sweep's results as tidy tables, and the per-point summary that `show` prints.

results: a row per (point, seed, generation) with the point's tags and varied keys as columns (dotted names;
values that are lists or mappings written as JSON text), the seed, the run directory and every metric.
aggregate: a row per (point, generation): per metric the mean over the seeds that have it, a Student-t
95% interval (NAME_lo, NAME_hi) and the number of seeds (NAME_n), as `run --seeds` writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lmcollapse.analysis.aggregation import aggregate_rows
from lmcollapse.config import Config
from lmcollapse.analysis.early_warning import warnings_for_run, warnings_for_seeds
from lmcollapse.metrics.row import MetricsRow
from lmcollapse.sweep.folder import Sweep
from lmcollapse.sweep.sweepdir import TABLES, SweepDir

# The metrics `show SWEEP` watches, in order of preference; the first two a sweep has are shown.
WATCHED = ("kl_to_truth", "heldout_ppl", "downstream_acc", "support_loss", "distinct_2", "model_entropy")


def tables(out: str | Path) -> tuple[list[dict], list[dict]]:
    """(results rows, aggregate rows) of the sweep in out, from its run directories."""
    sweep = Sweep(out)
    aggregate = []
    for point in sweep.points:
        per_seed = point.per_seed_rows()
        if any(per_seed):
            aggregate += [{**sweep.point_keys(point), **row} for row in aggregate_rows([r for r in per_seed if r])]
    return sweep.rows_from_runs(), aggregate


def write_tables(out: str | Path) -> tuple[Path, Path]:
    """results.parquet/.csv and aggregate.parquet/.csv in out; returns the two parquet paths."""
    folder = SweepDir(out)
    written = []
    for name, rows in zip(TABLES, tables(out)):
        columns = list(dict.fromkeys(k for row in rows for k in row))
        table = pa.table({c: [row.get(c) for row in rows] for c in columns}) if rows else pa.table({})
        for suffix, write in ((".parquet", pq.write_table), (".csv", pacsv.write_csv)):
            target = folder.table_file(name, suffix)
            tmp = target.with_name(f".{target.name}.tmp")
            try:
                write(table, tmp)
            except OSError as exc:  # pyarrow's errors name no file: the message at the boundary should
                tmp.unlink(missing_ok=True)
                raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from None
            tmp.replace(target)
        written.append(folder.table_file(name))
    return written[0], written[1]


@dataclass
class PointSummary:
    label: str
    seeds_done: int  # seeds whose run has every generation
    seeds: int
    generations: int  # generations of the point's aggregate
    finals: dict[str, tuple[float, float | None, float | None]]  # metric -> (mean, lo, hi) at the last generation
    departs: dict[str, int | None]  # metric -> early-warning generation


def summarise(out: str | Path) -> tuple[list[str], list[PointSummary]]:
    """(watched metrics, one summary per point) for `show SWEEP`."""
    sweep = Sweep(out)
    base_generations = sweep.manifest["base"].get("generations", Config.model_fields["generations"].default)
    points = sweep.points
    per_point = [(p, p.per_seed_rows()) for p in points]
    present = {k for _, rows in per_point for seed_rows in rows for r in seed_rows for k in r}
    watched = [m for m in WATCHED if m in present][:2]
    summaries = []
    for p, per_seed in per_point:
        have = [rows for rows in per_seed if rows]
        finals, departs = {}, {}
        agg = aggregate_rows(have) if have else []
        if agg:
            last = MetricsRow.from_json(agg[-1])
            warnings = warnings_for_seeds(have) if len(have) >= 2 else warnings_for_run(have[0])
            for m in watched:
                if m in last.values:
                    finals[m] = (last.values[m], *last.interval(m))
                departs[m] = next((w.generation for w in warnings if w.metric == m), None)
        target = int(p.values.get("generations", base_generations))
        done = sum(len(rows) >= target for rows in have)
        summaries.append(PointSummary(p.label, done, len(p.seeds), len(agg), finals, departs))
    return watched, summaries
