"""The executor suite (sweep/executors/base.py): an executor decides only where runs happen, so a sweep
run through it gives the results table of the same sweep run by one local worker, and a failing run is an
outcome, not an exception."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterator

from lmcollapse.sweep import Executor, Sweep, SweepSpec, load_spec, run_sweep
from lmcollapse.sweep.executors.local import LocalExecutor
from lmcollapse.testing._suite import bound

# The factory gets the sweep folder (an executor on several machines checks that every node sees it).
Factory = Callable[[Path], Executor]
SPEC = {"corpus": {"name": "markov", "vocab_size": 5, "doc_length": 6, "n_train": 60, "n_eval": 30},
        "generations": 2, "ci_rounds": 5, "save_models": False,
        "sweep": {"grid": {"model.order": [1, 2]}, "seeds": [0, 1]}}


def check_executor(factory: Factory) -> Iterator[Callable[[], None]]:
    return bound([check_results_equal_those_of_one_worker, check_a_failing_run_is_an_outcome], factory)


def _results(executor: Executor, spec: SweepSpec, out: Path) -> list[dict]:
    run_sweep(spec, out, executor, progress=False)
    return [{k: v for k, v in row.items() if k != "run"} for row in Sweep(out).results()]


def check_results_equal_those_of_one_worker(factory: Factory) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_spec(SPEC)
        reference = _results(LocalExecutor(LocalExecutor.config_class(workers=1)), spec, Path(tmp) / "one")
        got = _results(factory(Path(tmp) / "it"), spec, Path(tmp) / "it")
    assert len(got) == 2 * 2 * 2 and got == reference, "the executor's results differ from one worker's"


def check_a_failing_run_is_an_outcome(factory: Factory) -> None:
    # 10**6 verses exceed the KJV: that run fails when it starts, the other one runs
    failing = {**SPEC, "corpus": {"name": "kjv", "n_train": 60, "n_eval": 30},
               "sweep": {"grid": {"corpus.n_train": [60, 10**6]}, "seeds": [0]}}
    with tempfile.TemporaryDirectory() as tmp:
        _, outcome = run_sweep(load_spec(failing), Path(tmp) / "f", factory(Path(tmp) / "f"), progress=False)
    assert len(outcome.outcomes) == 2 and len(outcome.failures) == 1, "one run fails, the other is done"
    assert "exceeds" in outcome.failures[0].error and "\n" not in outcome.failures[0].error
