"""Weights & Biases, offline unless the user is logged in (WANDB_API_KEY) or says otherwise (WANDB_MODE):
the run is written under RUN_DIR/wandb, and `wandb sync RUN_DIR/wandb/offline-run-*` uploads it later. A
run of a sweep is grouped under the sweep folder's name."""
from __future__ import annotations

import hashlib
import os

from lmcollapse.trackers.base import TRACKERS, TrackedRun, Tracker

PROJECT = "lmcollapse"


def mode() -> str:
    return os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")


@TRACKERS.register("wandb", "Weights & Biases, offline unless logged in (RUN_DIR/wandb; wandb sync later)")
class WandbTracker(Tracker):
    module = "wandb"

    def start(self, run: TrackedRun) -> str | None:
        os.environ.setdefault("WANDB_SILENT", "true")  # its banner would break the progress lines
        import wandb

        # the same id for the same run directory, so a resumed run continues its W&B run even without trackers.json
        run_id = run.previous_id or hashlib.sha1(run.run_dir.encode()).hexdigest()[:16]
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", PROJECT), name=run.name, group=run.group,
                              id=run_id, resume="allow", dir=run.run_dir, mode=mode(),
                              config=run.params | run.tags, reinit="create_new")
        return run_id

    def log(self, generation: int, values: dict[str, float]) -> None:
        self.run.log(dict(values), step=generation)

    def finish(self) -> None:
        self.run.finish()
