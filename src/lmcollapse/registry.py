"""Name -> component tables, filled by decorators, so configs can name components by string."""
from __future__ import annotations

from typing import Any, Callable

from .errors import LmcollapseError


class Registry:
    """One kind of component (models, paradigms, ...): name -> (factory, one-line description)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, tuple[Callable[..., Any], str]] = {}

    def register(self, name: str, description: str) -> Callable:
        def decorate(factory: Callable) -> Callable:
            if name in self._entries:
                raise RuntimeError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = (factory, description)
            return factory

        return decorate

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._entries:
            raise LmcollapseError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(sorted(self._entries))}"
            )
        return self._entries[name][0]

    def build(self, name: str, params: dict[str, Any]) -> Any:
        """Construct `name` from the params its constructor accepts (a config section also holds keys
        that belong to other components of the same kind)."""
        import inspect

        factory = self.get(name)
        accepted = inspect.signature(factory).parameters
        return factory(**{k: v for k, v in params.items() if k in accepted})

    def names(self) -> list[str]:
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        return {name: self._entries[name][1] for name in self.names()}

    def __contains__(self, name: str) -> bool:
        return name in self._entries
