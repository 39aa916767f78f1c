"""Signals that stop a run: SIGINT (Ctrl-C) and SIGTERM (`kill`, a batch scheduler's time limit) both
interrupt the generation in progress, so committed generations are kept and the same command resumes; the
exit code says which signal it was (130, 143). In a pool worker the same holds, and a worker whose parent
is gone (killed with SIGKILL, so it could not stop anyone) notices within a second and stops as well."""
from __future__ import annotations

import os
import signal
import threading
import time

PARENT_POLL_S = 0.5
# An orphaned worker interrupts its run, then gives the run's cleanup this long before it leaves anyway.
ORPHAN_GRACE_S = 30.0


class Received:
    def __init__(self):
        self.signum: int | None = None

    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


_received = Received()  # this process's: the handler records the signal before it raises


def install() -> Received:
    """In the main process of a command: SIGTERM raises KeyboardInterrupt, as SIGINT does."""
    received = _received

    def on_signal(signum, frame):
        received.signum = signum
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_signal)
    return received


def raise_if_stopped() -> None:
    """KeyboardInterrupt when a stop signal has come. Python runs a signal handler wherever the main thread
    happens to be, and an exception raised inside a finaliser (a __del__, a weakref callback) is printed and
    dropped: a Ctrl-C landing there would be lost, and the run would go on to the end. Loops that commit work
    call this between steps, so such a signal still stops them at the next step."""
    if _received.signum is not None:
        raise KeyboardInterrupt


def watch_parent(busy=lambda: False) -> threading.Thread:
    """In a worker: a daemon thread that, once the process that started this one is gone, interrupts this
    process as Ctrl-C would, waits for the run in progress (busy()) to clean up, at most ORPHAN_GRACE_S, and
    ends the process: nobody is left to hand it another run or to read its result."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + ORPHAN_GRACE_S
        while busy() and time.monotonic() < deadline:
            time.sleep(0.1)
        os._exit(128 + signal.SIGINT)

    thread = threading.Thread(target=watch, name="lmcollapse-parent-watch", daemon=True)
    thread.start()
    return thread
