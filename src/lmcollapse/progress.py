"""Progress: rich bars on a terminal, one plain log line per generation otherwise (logs, CI, pipes)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, done: int, enabled: bool = True, label: str = "generations"):
        self.enabled = enabled
        self.total, self.done = total, done
        self.tty = enabled and sys.stderr.isatty()
        self._bar = None
        self._stage_started = time.perf_counter()
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

            self._bar = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[stage]}"), TimeElapsedColumn(), transient=True)
            self._task = self._bar.add_task(label, total=total, completed=done, stage="")
            self._bar.start()

    def stage(self, generation: int, name: str) -> None:
        self._stage_started = time.perf_counter()
        if self._bar is not None:
            self._bar.update(self._task, stage=f"gen {generation}: {name}")

    def generation_done(self, generation: int, row: dict, seconds: float) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif self.enabled:
            shown = ", ".join(f"{k}={_fmt(row[k])}" for k in ("heldout_ppl", "kl_to_truth", "support_fraction", "real_fraction")
                              if k in row)
            print(f"[lmcollapse] generation {generation + 1}/{self.total} done in {seconds:.1f}s: {shown}",
                  file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        if self.enabled:
            (self._bar.console.print if self._bar is not None else lambda t: print(t, file=sys.stderr, flush=True))(
                f"[lmcollapse] {text}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _fmt(value) -> str:
    return "null" if value is None else f"{value:.4g}"
