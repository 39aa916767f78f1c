"""Where a sweep's runs happen: `local` (a process pool, the default) or `ray` (a Ray cluster)."""
from .base import EXECUTORS, Executor
from . import local, ray_cluster  # noqa: F401 - registers them (ray itself is imported only when used)

__all__ = ["EXECUTORS", "Executor"]
