"""Where a sweep's runs happen: `local` (a process pool, the default) or `ray` (a Ray cluster)."""
from lmcollapse.sweep.executors import (
    local, ray_cluster)  # noqa: F401 - registers them (ray itself is imported only when used)
from lmcollapse.sweep.executors.base import EXECUTORS, Executor

__all__ = ["EXECUTORS", "Executor"]
