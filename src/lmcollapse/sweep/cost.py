"""What a run is expected to cost before it runs, and the order a sweep hands its runs out in.

A sweep's runs differ by orders of magnitude (a GPT generation takes seconds to minutes, a count-model one
a fraction of a second; accumulate's training set grows every generation). A pool that hands runs out in
the spec's order can leave one long run to start last while the other workers sit idle. Handing them out
longest first (Graham's LPT rule: each free worker takes the longest run left) ends within 4/3 of the best
possible packing. The costs are priors from the components (LanguageModel.work_estimate,
Paradigm.training_documents); the progress line's time left (engine.WorkClock) replaces them with measured
costs as generations are committed.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Sequence

from lmcollapse.config import validate
from lmcollapse.errors import LmcollapseError
from lmcollapse.models import MODELS
from lmcollapse.paradigms import PARADIGMS
from lmcollapse.sweep.task import RunTask


def generation_estimates(task: RunTask, generations: int | None = None) -> list[float]:
    """The prior core-seconds of each of the task's generations 0 .. generations-1 (its own length by default)."""
    per_generation = _estimates(_key(task.config))
    n = task.generations if generations is None else generations
    return [per_generation(t) for t in range(n)]


def run_estimate(task: RunTask, done: int = 0) -> float:
    """The prior core-seconds of the task's generations from `done` on."""
    return sum(generation_estimates(task)[done:])


def longest_first(tasks: Sequence[RunTask], done: dict[str, int] | None = None) -> list[RunTask]:
    """The tasks ordered by the work they have left, longest first (ties keep the given order). done: the
    generations each run directory already holds (a resumed run has less left)."""
    done = done or {}
    return sorted(tasks, key=lambda t: -run_estimate(t, done.get(t.run_dir, 0)))


def _key(config: dict) -> str:
    """What a run's cost depends on, as text (the cache's key)."""
    return json.dumps({k: config[k] for k in ("corpus", "model", "paradigm") if k in config}, sort_keys=True,
                      default=str)


@lru_cache(maxsize=4096)
def _estimates(key: str):
    """For one (corpus, model, paradigm): generation t -> prior core-seconds (cached: the progress line asks
    every few seconds, and a sweep repeats each configuration over its seeds)."""
    try:
        config = validate(json.loads(key))
        model = MODELS.get(config.model.name)
        paradigm = PARADIGMS.build(config.paradigm)
    except LmcollapseError:  # a config the run itself will refuse, in one line: every generation alike here
        return lambda t: 1.0
    n_real = int(getattr(config.corpus, "n_train", 1000))
    try:
        samples = paradigm.n_synthetic(n_real)
    except LmcollapseError:  # counts the run itself will refuse: cost it as a generation of N
        samples = n_real

    def per_generation(t: int) -> float:
        return model.work_estimate(config.model, paradigm.training_documents(n_real, t), samples)

    return per_generation
