"""MLflow, through its client: the local store `sqlite:///mlflow.db` in the working directory (MLflow's own
default) unless MLFLOW_TRACKING_URI names another. A run of a sweep goes to the experiment named after the
sweep folder, a single run to the experiment `lmcollapse`."""
from __future__ import annotations

import logging
import os
import time

from lmcollapse.trackers.base import TRACKERS, TrackedRun, Tracker

DEFAULT_URI = "sqlite:///mlflow.db"
PARAM_CHARS = 6000  # MLflow refuses longer parameter values


def _creation_lock(uri: str):
    """A lock beside a local SQLite store while a run opens it (its first use creates and migrates the tables);
    nothing for a server, which serialises its own clients."""
    import contextlib

    from filelock import FileLock

    if uri.startswith("sqlite:///"):
        return FileLock(uri.removeprefix("sqlite:///") + ".lock", timeout=120)
    return contextlib.nullcontext()


@TRACKERS.register("mlflow", "MLflow runs (MLFLOW_TRACKING_URI, default sqlite:///mlflow.db here)")
class MlflowTracker(Tracker):
    module = "mlflow"

    def start(self, run: TrackedRun) -> str | None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        for name in ("mlflow", "alembic"):  # no database-migration chatter among the progress lines
            logging.getLogger(name).setLevel(logging.WARNING)

        # a server that does not answer: a warning within seconds, not MLflow's minutes of retries
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI)
        with _creation_lock(uri):  # a sweep's workers would otherwise create the database, or an experiment, twice
            return self._start(MlflowClient(tracking_uri=uri), run, Param)

    def _start(self, client, run: TrackedRun, Param) -> str:
        self.client = client
        if run.previous_id is not None:
            self.run_id = run.previous_id
            self.client.update_run(self.run_id, status="RUNNING")
            return self.run_id
        experiment = run.group or "lmcollapse"
        found = self.client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        created = self.client.create_run(experiment_id, run_name=run.name, tags=run.tags)
        self.run_id = created.info.run_id
        params = [Param(k, str(v)[:PARAM_CHARS]) for k, v in sorted(run.params.items())]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 parameters per batch
            self.client.log_batch(self.run_id, params=params[start:start + 100])
        return self.run_id

    def log(self, generation: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, generation) for k, v in sorted(values.items())]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start:start + 1000])

    def finish(self) -> None:
        self.client.set_terminated(self.run_id)
