"""Progress: rich bars on a terminal, one plain log line per generation otherwise (logs, CI, pipes)."""
from __future__ import annotations

import sys
import time

LOG_EVERY = 30.0  # seconds between progress lines within a stage when there is no terminal


class Progress:
    def __init__(self, total: int, done: int, enabled: bool = True, label: str = "generations"):
        self.enabled = enabled
        self.total, self.done = total, done
        self.tty = enabled and sys.stderr.isatty()
        self._bar = None
        self._stage_started = self._last_line = time.perf_counter()
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[stage]}"), TimeElapsedColumn(), transient=True)
            self._task = self._bar.add_task(label, total=total, completed=done, stage="")
            self._bar.start()

    def stage(self, generation: int, name: str) -> None:
        self._stage_started = time.perf_counter()
        if self._bar is not None:
            self._bar.update(self._task, stage=f"gen {generation}: {name}")

    def within(self, generation: int, name: str, done: int, total: int) -> None:
        """How far a long stage has got (training steps, documents sampled): shown in the bar's stage field,
        or, without a terminal, a log line at most every LOG_EVERY seconds."""
        now = time.perf_counter()
        if self._bar is not None:
            self._bar.update(self._task, stage=f"gen {generation}: {name} {done:,}/{total:,}")
        elif self.enabled and now - max(self._stage_started, self._last_line) >= LOG_EVERY and done < total:
            self._last_line = now
            print(f"[lmcollapse] generation {generation} ({generation + 1} of {self.total}): {name} {done:,}/{total:,} "
                  f"({now - self._stage_started:.0f}s)", file=sys.stderr, flush=True)

    def generation_done(self, generation: int, row: dict, seconds: float) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif self.enabled:
            shown = ", ".join(f"{k}={_fmt(row[k])}" for k in ("heldout_ppl", "kl_to_truth", "support_fraction", "real_fraction")
                              if k in row)
            print(f"[lmcollapse] generation {generation} done ({self.done} of {self.total}) in {seconds:.1f}s: {shown}",
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
