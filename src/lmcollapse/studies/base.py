"""The study contract: a named experiment that `lmcollapse reproduce` runs end to end (a sweep plus an
analysis, study.py), and that `show` and `report` recognise in the folder it wrote (sweep.json records its
name). Each study registers itself in STUDIES under the `kind` its spec file names."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from lmcollapse.errors import LmcollapseError
from lmcollapse.registry import Registry
from lmcollapse.sweep import SweepDir
from lmcollapse.sweep.spec import seeds_text

if TYPE_CHECKING:
    from rich.console import Console

    from lmcollapse.sweep import Sweep


@dataclass(frozen=True)
class StudyPlan:
    """What `reproduce --dry-run` prints: every point (its config checked), the seeds each runs with, and
    what the study leaves out and why."""

    points: list[str]  # each point's label
    seeds: list[int]
    left_out: list[str] = field(default_factory=list)  # one line per kind of row not run, with the reason

    @property
    def runs(self) -> int:
        return len(self.points) * len(self.seeds)

    def lines(self, name: str, out: Path) -> list[str]:
        """The dry run's report: a headline with the counts and the folder, then a line per point."""
        head = (f"{name}: {len(self.points)} points x {len(self.seeds)} seeds ({seeds_text(self.seeds)}) = "
                f"{self.runs} runs, every config valid; --out {out}")
        return [head, *self.left_out, *(f"  {label}" for label in self.points)]


class Study(abc.ABC):
    """One kind of study. Built without arguments; every method takes the spec or the folder it works on."""

    #: the registered name (set by the registry): the spec's `kind`, recorded in sweep.json
    name: ClassVar[str]
    #: what `--model` chooses among; () when the study has no such choice
    models: ClassVar[tuple[str, ...]] = ()
    #: the tag columns of its variants in the results table (how a folder from before sweep.json named its
    #: study is recognised)
    tags: ClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def reproduce(self, spec: dict, out: Path, *, quick: bool, progress: bool, executor, models: tuple[str, ...],
                  scale: str) -> Path:
        """Run (or resume) every variant and seed into out, then write the analysis; returns out."""

    @abc.abstractmethod
    def planned(self, spec: dict, *, quick: bool, scale: str, models: tuple[str, ...]) -> StudyPlan:
        """`--dry-run`: every variant's config checked (one line for the first problem); what would run."""

    def planned_runs(self, spec: dict, *, quick: bool, scale: str, models: tuple[str, ...],
                     out: Path) -> tuple[list[tuple[dict, dict]], list[int]] | None:
        """The (tags, config) variants and seeds `reproduce` would run into out, so that `--dry-run` can check
        them against a folder that already holds the study; None (the default) skips that check."""
        return None

    @abc.abstractmethod
    def outcome_file(self, folder: SweepDir) -> Path:
        """The written outcome (Markdown) that `reproduce` prints when it ends and `report` opens with."""

    def figure_file(self, folder: SweepDir) -> Path:
        """The outcome's figure, which `report` shows under it."""
        return folder.summary_file(".png")

    def closing_line(self, folder: SweepDir) -> str:
        """Where the results are, printed after the outcome."""
        return f"results: {self.outcome_file(folder)}, reports: {folder.reports_glob}"

    def show(self, sweep: "Sweep", console: "Console") -> bool:
        """Print what `lmcollapse show FOLDER` prints for this study's folder; False: the sweep's summary."""
        return False


STUDIES = Registry("study", contract=Study)


def study_named(spec: dict) -> Study:
    """The study a spec asks for (its `kind`; a spec without one names its study by `name`)."""
    kind = spec.get("kind", spec.get("name"))
    if kind not in STUDIES:
        raise LmcollapseError(f"experiment spec: kind {kind!r} is not a study; set kind: to one of: "
                              f"{', '.join(STUDIES.names())}")
    return STUDIES.get(kind)()


def study_of(sweep: "Sweep") -> Study | None:
    """The study that wrote a sweep folder (None for a plain sweep or seeds). Folders written before sweep.json
    recorded it (lmcollapse 0.4.0) are recognised by their tag columns."""
    if "study" in sweep.manifest:
        name = sweep.manifest["study"]
    else:
        name = next((n for n in STUDIES.names() if tuple(sweep.tag_columns) == STUDIES.get(n).tags), None)
    return STUDIES.get(name)() if name in STUDIES else None
