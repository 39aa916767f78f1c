"""The tracker suite (trackers/base.py): start returns an id to reopen the tracked run with, log takes a
generation's values, finish closes it, and a second start with that id neither fails nor asks for another
id. The factory returns a fresh tracker; checks run in a temporary run directory, offline (the caller sets
the tracker's environment: a local MLflow store, W&B offline)."""
from __future__ import annotations

import tempfile
from typing import Callable, Iterator

from lmcollapse.trackers import TrackedRun
from lmcollapse.testing._suite import bound

Factory = Callable[[], object]


def check_tracker(factory: Factory) -> Iterator[Callable[[], None]]:
    return bound([check_a_tracker_logs_and_reopens_the_same_run], factory)


def check_a_tracker_logs_and_reopens_the_same_run(factory: Factory) -> None:
    with tempfile.TemporaryDirectory() as folder:
        run = TrackedRun(folder, "conformance", None, {"model.name": "ngram", "seed": "0"}, None,
                         {"lmcollapse.run_dir": folder})
        tracker = factory()
        first = tracker.start(run)
        assert first is None or isinstance(first, str), "start returns the id to reopen the run with, or None"
        for t in range(2):
            tracker.log(t, {"heldout_ppl": 10.0 + t, "heldout_ppl_lo": 9.0 + t})
        tracker.finish()
        again = factory()
        second = again.start(TrackedRun(folder, "conformance", None, run.params, first, run.tags))
        assert second == first, "a run reopened with its id is the same tracked run"
        again.log(2, {"heldout_ppl": 12.0})
        again.finish()
