"""TensorBoard event files in the run directory (`tensorboard --logdir` on a run or a sweep folder), written
with TensorBoard's own writer, no TensorFlow or PyTorch needed. That writer has scalars only: the config is
the run directory's config.yaml beside them."""
from __future__ import annotations

from lmcollapse.trackers.base import TRACKERS, TrackedRun, Tracker

FOLDER = "tensorboard"  # inside the run directory


@TRACKERS.register("tensorboard", "TensorBoard event files in RUN_DIR/tensorboard")
class TensorboardTracker(Tracker):
    module = "tensorboard"

    def start(self, run: TrackedRun) -> str | None:
        from pathlib import Path

        from tensorboard.summary import Writer

        self.writer = Writer(str(Path(run.run_dir) / FOLDER))  # a resumed run adds an event file beside the first
        return FOLDER

    def log(self, generation: int, values: dict[str, float]) -> None:
        for key, value in sorted(values.items()):
            self.writer.add_scalar(key, float(value), generation)
        self.writer.flush()

    def finish(self) -> None:
        self.writer.close()
