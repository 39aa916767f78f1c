"""A sweep or study folder's layout: the one module that names the files in it, as running/rundir.py does for a run.

    OUT/sweep.json                  the spec, the study that wrote the folder (if any), every (point, seed) -> run
    OUT/runs/<corpus>-<paradigm>-<hash>/   an ordinary run directory (running/rundir.py)
    OUT/results.parquet, .csv       a row per (point, seed, generation)
    OUT/aggregate.parquet, .csv     a row per (point, generation): the mean over seeds with 95% intervals
    OUT/failures.json               the runs that failed the last time, with their one-line errors
    a study's analysis (studies/):
    OUT/summary.md, .json, .png     the claims or findings, in words, as numbers and as a figure
    OUT/leaderboard.csv, .json, .md the mitigation benchmark's table
    OUT/report-<label>.html         an HTML report per model or setting (its plots in report-<label>_files/)
"""
from __future__ import annotations

from pathlib import Path

#: The results tables every sweep writes, in the order results.tables returns them.
TABLES = ("results", "aggregate")


class SweepDir:
    """The paths of a sweep folder (nothing is read or written here)."""

    MARKER = "sweep.json"  # its presence makes a folder a sweep
    RUNS = "runs"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def is_sweep(cls, path: str | Path) -> bool:
        return (Path(path) / cls.MARKER).is_file()

    @property
    def manifest_file(self) -> Path:
        return self.path / self.MARKER

    @property
    def runs(self) -> Path:
        """The folder of the sweep's run directories."""
        return self.path / self.RUNS

    @property
    def failures_file(self) -> Path:
        return self.path / "failures.json"

    def table_file(self, name: str, suffix: str = ".parquet") -> Path:
        """OUT/results.parquet, OUT/aggregate.csv, ..."""
        if name not in TABLES:
            raise ValueError(f"a sweep's tables are {', '.join(TABLES)}, not {name!r}")
        return self.path / f"{name}{suffix}"

    # ---- a study's analysis ------------------------------------------------------------------------
    def summary_file(self, suffix: str = ".md") -> Path:
        return self.path / f"summary{suffix}"

    def leaderboard_file(self, suffix: str = ".csv") -> Path:
        return self.path / f"leaderboard{suffix}"

    def report_file(self, label: str) -> Path:
        return self.path / f"report-{label}.html"

    @property
    def reports_glob(self) -> str:
        """The study's reports, as a pattern to print ("OUT/report-*.html")."""
        return str(self.path / "report-*.html")
