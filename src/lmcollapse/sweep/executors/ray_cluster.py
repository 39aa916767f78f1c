"""The Ray executor: each run a Ray task with its CPU and GPU resources, on any node of a cluster.

Why Ray Core tasks and not Ray Tune: a run already has everything Tune's trials would add (its own
directory, checkpoints in the form of committed generations, exact resume, results files), and a sweep
here is a fixed grid, not a search. A task with `max_retries` is what remains: Ray places it where its
resources are free and, when the node under it dies, runs it again elsewhere; the retried run resumes
from its last committed generation because the output folder is on storage every node sees, which is
checked at start (each node writes and reads a probe file there).

`ray` is imported only here, only when this executor is chosen (`pip install 'lmcollapse[ray]'`).
"""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Callable, Sequence

from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.errors import LmcollapseError, RunInterrupted
from lmcollapse.sweep.task import RunOutcome, RunTask, execute_task, one_line
from lmcollapse.sweep.executors.base import EXECUTORS, Executor

PROBE = ".lmcollapse-storage-probe"


def _import_ray():
    try:
        import ray
    except ImportError:
        raise LmcollapseError("--executor ray needs Ray: pip install 'lmcollapse[ray]' (on every node)") from None
    return ray


def _ray_task(task: RunTask, cpus: float) -> RunOutcome:
    """What a Ray worker runs: the task, with torch held to the threads of its CPUs (Ray itself sets the
    numeric libraries' thread variables of its workers), and the node it ran on."""
    import ray

    return execute_task(task, max(1, int(cpus)), node=ray.get_runtime_context().get_node_id()[:8])


def _probe_storage(folder: str, token: str) -> str | None:
    """On one node: read the driver's probe file and write this node's; None, or what went wrong."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    try:
        seen = (Path(folder) / PROBE).read_text()
    except OSError as exc:
        return f"node {node[:8]} cannot read {folder}/{PROBE}: {exc.strerror or exc}"
    if seen != token:
        return f"node {node[:8]} sees another {folder} (its probe file holds something else)"
    try:
        (Path(folder) / f"{PROBE}-{node}").write_text(token)
    except OSError as exc:
        return f"node {node[:8]} cannot write to {folder}: {exc.strerror or exc}"
    return None


CONNECT_TIMEOUT_S = 5.0


def cluster_address(address: str | None) -> str | None:
    """The HOST:PORT ray.init would dial: the given one, or for `auto` RAY_ADDRESS or the address the last
    `ray start` on this machine recorded; None when there is nothing to dial (a new local cluster)."""
    if address != "auto":
        return address
    if os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    recorded = Path(os.environ.get("RAY_TMPDIR", "/tmp")) / "ray" / "ray_current_cluster"
    return recorded.read_text().strip() or None if recorded.is_file() else None


def probe_address(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, within `timeout` seconds and in one line, a cluster address where nothing accepts connections."""
    target = cluster_address(address)
    if target is None or target.startswith("ray://"):
        return
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise LmcollapseError(f"--address {address}: write HOST:PORT (the head node's GCS address, e.g. "
                              f"10.0.0.5:6379) or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        where = f"{target} (from --address auto)" if address == "auto" else target
        raise LmcollapseError(f"--executor ray: no Ray cluster answers at {where} within {timeout:g} s "
                              f"({exc.strerror or type(exc).__name__}); start one with `ray start --head`, or "
                              f"check --address") from None


class RayExecutorConfig(Section):
    address: str | None = Field(None, description="auto or HOST:PORT of a running cluster (default: start one)")
    cpus_per_run: float = Field(1.0, gt=0, description="CPUs a run's task asks for")
    gpus_per_run: float = Field(0.0, ge=0, description="GPUs a run's task asks for")
    max_retries: int = Field(3, ge=0, description="runs again on another node after a node dies")
    storage: str | None = Field(None, description="the sweep folder every node must see (probed at start)")


@EXECUTORS.register("ray", "a Ray cluster (--address auto|HOST:PORT, or a local one): each run a Ray task")
class RayExecutor(Executor):
    config_class = RayExecutorConfig

    def __init__(self, config: RayExecutorConfig | None = None):
        super().__init__(config)
        _import_ray()  # a missing Ray is said before anything is planned or written
        c = self.config
        self.address, self.cpus_per_run, self.gpus_per_run, self.max_retries = (c.address, c.cpus_per_run,
                                                                                c.gpus_per_run, c.max_retries)
        self.storage = c.storage
        self._where = "ray"

    def start(self, n_tasks: int) -> str:
        ray = self.connect()
        if self.storage is not None:
            self.check_storage(ray, self.storage)
        return self._where

    def connect(self):
        ray = _import_ray()
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not ray.is_initialized():
            probe_address(self.address)  # ray.init waits without limit for an address where nothing listens
            try:
                ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                         configure_logging=True, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise LmcollapseError(f"--executor ray: cannot reach a Ray cluster at {self.address or 'a new local one'}"
                                      f" ({one_line(exc)}); start one with `ray start --head` or check --address") \
                    from None
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = sum(n.get("Resources", {}).get("CPU", 0) for n in nodes)
        self._where = f"ray cluster of {len(nodes)} node{'s' if len(nodes) > 1 else ''}, {cpus:g} CPUs"
        return ray

    def check_storage(self, ray, folder: str | Path) -> None:
        """Refuse a folder some node cannot read or write (one line naming the node)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        folder = str(Path(folder).resolve())
        token = uuid.uuid4().hex
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / PROBE).write_text(token)
        probe = ray.remote(num_cpus=0)(_probe_storage)
        nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(folder, token)
                for node in nodes]
        try:
            problems = [p for p in ray.get(refs, timeout=120) if p]
            for node in nodes:
                written = Path(folder) / f"{PROBE}-{node}"
                if not problems and (not written.is_file() or written.read_text() != token):
                    problems.append(f"node {node[:8]} wrote its probe file where this machine cannot see it")
        finally:
            for path in Path(folder).glob(f"{PROBE}*"):
                path.unlink(missing_ok=True)
        if problems:
            raise LmcollapseError(f"--out {folder} is not on storage every Ray node sees: {problems[0]}; put --out on "
                                  f"a file system shared by all nodes (NFS, a cluster file system)")

    def run(self, tasks: Sequence[RunTask], report: Callable[[RunOutcome], None]) -> None:
        ray = self.connect()
        remote = ray.remote(_ray_task).options(num_cpus=self.cpus_per_run, num_gpus=self.gpus_per_run,
                                               max_retries=self.max_retries, retry_exceptions=False)
        pending = {remote.remote(task, self.cpus_per_run): task for task in tasks}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for ref in ready:
                    task = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # retries used up, or the task itself crashed
                        outcome = RunOutcome(task.run_dir, False, f"on Ray: {one_line(exc)}")
                    report(outcome)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise RunInterrupted("runs in progress were abandoned") from None
