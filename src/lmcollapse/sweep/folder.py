"""Reading a sweep folder back: its points, the run directory of every (point, seed), and the results table
it wrote. The one reader of the many-runs format, used by show, check, report, the Python API and the
studies' analyses."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lmcollapse.running.rundir import RunDir
from lmcollapse.sweep.plan import read_manifest
from lmcollapse.sweep.sweepdir import SweepDir

# Columns of a results row that describe it rather than measure anything.
ROW_KEYS = ("point", "seed", "run")


@dataclass
class PointRuns:
    index: int
    label: str
    values: dict  # dotted key -> value, every varied key
    tags: dict[str, str]  # column -> label, for the axes that name their values
    seeds: list[int]
    run_dirs: list[Path]  # one per seed, in the order of seeds

    def per_seed_rows(self) -> list[list[dict]]:
        """Each seed's rows from its intact committed generations (runs not started give none)."""
        return [RunDir(d).intact_rows() for d in self.run_dirs]

    def started(self) -> list[Path]:
        """The run directories that exist (a run has written its setup)."""
        return [d for d in self.run_dirs if RunDir.is_run(d)]


def _cell(value):
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)


def table_problem(folder: str | Path, name: str) -> str | None:
    """What is wrong with one of a sweep folder's tables (missing, or a Parquet file that does not read), or
    None when it is whole."""
    import pyarrow.parquet as pq

    path = SweepDir(folder).table_file(name)
    if not path.is_file() or not SweepDir(folder).table_file(name, ".csv").is_file():
        return f"{path.name} (or its .csv) is missing"
    try:
        pq.read_metadata(path)
    except Exception:  # noqa: BLE001 - whatever pyarrow raises for a cut or overwritten file
        return f"{path.name} is damaged (it does not read as Parquet)"
    return None


class Sweep:
    """A sweep folder, read-only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.manifest = read_manifest(self.path)

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r}, points={len(self.manifest['points'])}, seeds={self.seeds})"

    @property
    def seeds(self) -> list[int]:
        return list(self.manifest.get("seeds", []))

    @property
    def varied(self) -> list[str]:
        return list(self.manifest.get("varied", []))

    @property
    def tag_columns(self) -> list[str]:
        return list(self.manifest.get("tag_columns", []))

    @property
    def points(self) -> list[PointRuns]:
        runs = self.manifest["runs"]
        out = []
        for p in self.manifest["points"]:
            mine = sorted((r for r in runs if r["point"] == p["index"]), key=lambda r: r["seed"])
            out.append(PointRuns(p["index"], p["label"], p["values"], p.get("tags", {}), [r["seed"] for r in mine],
                                 [self.path / r["dir"] for r in mine]))
        return out

    def run_dirs(self) -> list[Path]:
        """Every run directory the sweep asks for, once (two points may share a run)."""
        return list(dict.fromkeys(d for p in self.points for d in p.run_dirs))

    def started_runs(self) -> list[Path]:
        return [d for d in self.run_dirs() if RunDir.is_run(d)]

    def table_file(self, name: str, suffix: str = ".parquet") -> Path:
        """OUT/results.parquet, OUT/aggregate.csv, ..."""
        return SweepDir(self.path).table_file(name, suffix)

    def results(self) -> list[dict]:
        """The rows of the results table (a row per point, seed and generation): the one the sweep wrote, or,
        where that file is missing or damaged, the same rows read from the run directories (nothing is
        written: the folder may be read-only)."""
        import pyarrow.parquet as pq

        if table_problem(self.path, "results") is None:
            return pq.read_table(self.table_file("results")).to_pylist()
        return self.rows_from_runs()

    def point_keys(self, point: "PointRuns") -> dict:
        """The columns that name a point in the tables: its index, tags and varied keys (lists or mappings as
        JSON text)."""
        return {"point": point.index, **{c: point.tags.get(c) for c in self.tag_columns},
                **{k: _cell(point.values.get(k)) for k in self.varied}}

    def rows_from_runs(self) -> list[dict]:
        """The results table's rows, read from the run directories: a row per point, seed and generation."""
        rows = []
        for point in self.points:
            keys = self.point_keys(point)
            for seed, run_dir, metrics in zip(point.seeds, point.run_dirs, point.per_seed_rows()):
                rows += [{**keys, "seed": seed, "run": run_dir.name, **row} for row in metrics]
        return rows

    def damaged_runs(self) -> list[tuple[Path, str]]:
        """(run directory, what is wrong) for each started run whose committed files do not match their
        sizes (a quick look; `lmcollapse check` compares checksums)."""
        out = []
        for path in self.started_runs():
            inspection = RunDir(path).inspect()
            if inspection.damaged:
                out.append((path, inspection.summary()))
        return out

    def seeds_of(self, *columns: str) -> dict[tuple, list[int]]:
        """Per value of the tag columns, the seeds in the results table, in the order groups() lists them."""
        seeds: dict[tuple, set[int]] = {}
        for row in self.results():
            seeds.setdefault(tuple(row.get(c) for c in columns), set()).add(row["seed"])
        return {key: sorted(values) for key, values in seeds.items()}

    def groups(self, *columns: str) -> dict[tuple, list[list[dict]]]:
        """From the results table: per value of the tag columns, each seed's metrics rows (by generation, the
        seeds in order; absent values dropped, as a run's own rows leave them out)."""
        skip = set(ROW_KEYS) | set(self.tag_columns) | set(self.varied)
        by_run: dict[tuple, dict[int, list[dict]]] = {}
        for row in self.results():
            key = tuple(row.get(c) for c in columns)
            metrics = {k: v for k, v in row.items() if k not in skip and v is not None}
            by_run.setdefault(key, {}).setdefault(row["seed"], []).append(metrics)
        return {key: [sorted(rows, key=lambda r: r["generation"]) for _, rows in sorted(seeds.items())]
                for key, seeds in by_run.items()}
