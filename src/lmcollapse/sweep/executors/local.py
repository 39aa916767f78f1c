"""The local executor: a pool of processes on this machine.

Workers: one per core by default (at most one per run); each run gets cores // workers threads for its
numeric libraries. With --gpus-per-run g, the visible GPUs are cut into slots (g < 1: 1/g runs share a
GPU; g >= 1: ceil(g) GPUs per run) and each worker owns one slot through CUDA_VISIBLE_DEVICES, set before
it imports torch. One worker runs the tasks in this process: no start-up cost, which matters for
thousands of tiny runs.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Sequence

from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.errors import LmcollapseError, RunInterrupted
from lmcollapse.running.stop_signals import raise_if_stopped, watch_parent
from lmcollapse.sweep.task import RunOutcome, RunTask, execute_task, one_line, thread_environment
from lmcollapse.sweep.executors.base import EXECUTORS, Executor


def visible_gpus() -> list[str]:
    """The GPU ids runs may use: CUDA_VISIBLE_DEVICES when set, else what nvidia-smi lists (no torch import)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def gpu_slots(gpus: list[str], per_run: float) -> list[str]:
    """CUDA_VISIBLE_DEVICES values, one per run that may go at once: fractions share a GPU, more take several."""
    if per_run <= 0:
        raise LmcollapseError(f"--gpus-per-run {per_run:g}: give a positive number (0.5: two runs per GPU)")
    if not gpus:
        raise LmcollapseError("--gpus-per-run: no GPU is visible (CUDA_VISIBLE_DEVICES / nvidia-smi); leave it out "
                              "to run on the CPU")
    if per_run < 1:  # round-robin, so that fewer workers than slots still spread over every GPU
        return [g for _ in range(int(math.floor(1 / per_run + 1e-9))) for g in gpus]
    width = math.ceil(per_run - 1e-9)
    if width > len(gpus):
        raise LmcollapseError(f"--gpus-per-run {per_run:g}: only {len(gpus)} GPUs are visible")
    return [",".join(gpus[i:i + width]) for i in range(0, len(gpus) - width + 1, width)]


# In a pool worker: whether it is inside a run now, whether it has been interrupted, and the pool's stop
# event (set by the parent before it signals anyone).
_running = False
_interrupted = False
_stop_event = None


def _worker_start(stop_event, slots) -> None:
    """Pool workers: claim a GPU slot before anything imports torch. Ctrl-C or SIGTERM
    interrupts a run (which says where it stopped) once: later signals do not cut its cleanup short, and an
    interrupted worker starts no other run. An idle worker leaves quietly. A worker whose parent is gone
    interrupts itself."""
    global _stop_event
    _stop_event = stop_event
    if slots is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = slots.get()

    def on_interrupt(signum, frame):
        global _interrupted
        if _interrupted:
            return
        _interrupted = True
        if _running:
            raise KeyboardInterrupt
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, on_interrupt)
    signal.signal(signal.SIGTERM, on_interrupt)
    watch_parent(busy=lambda: _running)  # a parent killed outright (SIGKILL) stops nobody: we stop ourselves


def _pool_task(task: RunTask, threads: int) -> RunOutcome:
    global _running
    # A run handed to a worker's queue cannot be cancelled from the parent: the worker refuses it instead.
    if _interrupted or (_stop_event is not None and _stop_event.is_set()):
        raise RunInterrupted(f"{task.run_dir} was not started: the runs were interrupted")
    _running = True
    try:
        return execute_task(task, threads)
    finally:
        _running = False


class LocalExecutorConfig(Section):
    workers: int | None = Field(None, ge=1, description="parallel processes (default: one per core)")
    gpus_per_run: float | None = Field(None, gt=0, description="GPUs per run; 0.5 packs two runs on a GPU")


@EXECUTORS.register("local", "a process pool on this machine: one run per core, or per GPU slot (default)")
class LocalExecutor(Executor):
    config_class = LocalExecutorConfig

    def __init__(self, config: LocalExecutorConfig | None = None):
        super().__init__(config)
        self.workers = self.config.workers
        self.slots = gpu_slots(visible_gpus(), self.config.gpus_per_run) if self.config.gpus_per_run else None

    def _size(self, n_tasks: int) -> int:
        size = min(n_tasks, self.workers or multiprocessing.cpu_count())
        return max(1, min(size, len(self.slots)) if self.slots is not None else size)

    def start(self, n_tasks: int) -> str:
        size = self._size(n_tasks)
        gpus = f", GPU slots {', '.join(self.slots[:size])}" if self.slots is not None else ""
        return "this process" if size == 1 and self.slots is None else f"a local pool of {size} processes{gpus}"

    def run(self, tasks: Sequence[RunTask], report: Callable[[RunOutcome], None]) -> None:
        size = self._size(len(tasks))
        if size == 1 and self.slots is None:
            for task in tasks:  # in this process: Ctrl-C reaches the run, which says where it stopped
                report(execute_task(task))
            return
        # spawn: a fresh interpreter per worker, safe with torch and threads in the parent
        context = multiprocessing.get_context("spawn")
        _start_resource_tracker_quietly()
        stop_event = context.Event()
        slots = None
        if self.slots is not None:
            slots = context.Queue()
            for slot in self.slots[:size]:
                slots.put(slot)
        threads = max(1, multiprocessing.cpu_count() // size)
        with ProcessPoolExecutor(size, mp_context=context, initializer=_worker_start,
                                 initargs=(stop_event, slots)) as pool:
            with thread_environment(threads):  # the workers start during the submits and inherit it
                futures = {pool.submit(_pool_task, task, threads): task for task in tasks}
            try:
                pending = set(futures)
                while pending:
                    raise_if_stopped()  # a Ctrl-C whose KeyboardInterrupt a finaliser swallowed
                    finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        try:
                            outcome = future.result()
                        except RunInterrupted:
                            raise
                        except Exception as exc:  # noqa: BLE001 - a worker died (killed, out of memory)
                            outcome = RunOutcome(futures[future].run_dir, False, f"its worker died: {one_line(exc)}")
                        report(outcome)
            except (KeyboardInterrupt, RunInterrupted):
                _stop(pool, list(futures), stop_event)
                raise RunInterrupted("runs in progress were abandoned") from None


def _start_resource_tracker_quietly() -> None:
    """Start multiprocessing's resource tracker (the helper process that unlinks the pool's semaphores if this
    process dies) with its stderr on /dev/null. It inherits stderr, and after a SIGKILL of this process it
    cleans up and writes "There appear to be 10 leaked semaphore objects" there: the last line of the log of
    a sweep that then resumes exactly, reading like damage. The clean-up is unchanged; only that line goes.
    A tracker already running (an earlier pool in this process) is left as it is."""
    from multiprocessing import resource_tracker

    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)  # the tracker is started with fd 2 as it is now
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _stop(pool: ProcessPoolExecutor, futures, stop_event, patience: float = 60.0) -> None:
    """Stop a pool after Ctrl-C: no worker starts another run (the event is set before anyone is signalled),
    the runs not yet handed out are dropped, the running ones are interrupted (a terminal sends them SIGINT
    itself, `kill -INT` only this process), and the workers are waited for."""
    stop_event.set()
    for future in futures:
        future.cancel()
    pool.shutdown(wait=False, cancel_futures=True)
    for child in multiprocessing.active_children():
        try:
            os.kill(child.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + patience
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
