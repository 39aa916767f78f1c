"""How every conformance suite hands out its checks: each bound to the factory, named after what it checks."""
from __future__ import annotations

import functools
from typing import Callable, Iterable, Iterator


def bound(checks: Iterable[Callable], *args) -> Iterator[Callable[[], None]]:
    for check in checks:
        yield functools.update_wrapper(functools.partial(check, *args), check)
