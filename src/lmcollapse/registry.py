"""Name -> component tables, filled by decorators, so configs can name components by string.

Each registry is created with the contract its components must keep (an abstract base class, or for
plain functions a check of their own). Registering something that does not keep it fails at import
time with a message naming what is missing, so a misfit never reaches a run.

Components are built from their typed config section in one way, `REGISTRY.build(section, **context)`:
the section's `name` picks the class, which is constructed with the section (already checked by
pydantic in config.py) and whatever else it needs from the run. A kind whose contract declares
`config_class` has a section class per component, and each component must name its own.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from .errors import LmcollapseError


class ContractError(TypeError):
    """A component registered under a kind whose contract it does not keep."""


class Registry:
    """One kind of component (models, paradigms, ...): name -> (component, one-line description).

    contract: the base class every registered class must subclass, with no abstract method left
    unimplemented; or None with `check` for kinds that register functions (metrics).
    check: an extra test, called with the component, returning a problem or None.
    on_register: called with each component once it is registered (gates add their config section to the
    sections a config may name).
    """

    def __init__(self, kind: str, contract: type | None = None,
                 check: Callable[[Any], str | None] | None = None,
                 on_register: Callable[[Any], None] | None = None):
        self.kind = kind
        self.contract = contract
        self.check = check
        self.on_register = on_register
        self._entries: dict[str, tuple[Any, str]] = {}

    def register(self, name: str, description: str) -> Callable:
        def decorate(component):
            problem = self.misfit(component, name)
            if problem:
                raise ContractError(f"{self.kind} {name!r}: {problem}")
            if name in self._entries:
                raise ContractError(f"{self.kind} {name!r} registered twice")
            if self.on_register is not None:
                try:
                    self.on_register(component)
                except TypeError as exc:
                    raise ContractError(f"{self.kind} {name!r}: {exc}") from None
            self._entries[name] = (component, description)
            return component

        return decorate

    def misfit(self, component, name: str) -> str | None:
        """Why component cannot be registered here, or None when it keeps the contract."""
        if self.contract is not None:
            if not (inspect.isclass(component) and issubclass(component, self.contract)):
                return f"{getattr(component, '__name__', component)!r} is not a subclass of {self.contract.__name__}"
            missing = sorted(getattr(component, "__abstractmethods__", ()))
            if missing:
                return (f"{component.__name__} does not implement {', '.join(missing)} of the "
                        f"{self.contract.__name__} contract")
            declared = getattr(self.contract, "__annotations__", {})
            if "name" in declared and getattr(component, "name", None) != name:
                return f"{component.__name__}.name must be {name!r}, the name it is registered under"
            if "config_class" in declared:  # a kind built from a typed section of its own (Registry.build)
                section = getattr(component, "config_class", None)
                fields = getattr(section, "model_fields", None)
                if fields is None:
                    return f"{component.__name__}.config_class must name the config section it is built from"
                if "name" in fields and fields["name"].default != name:
                    return (f"{component.__name__}.config_class is the section of {fields['name'].default!r}, not of "
                            f"{name!r}")
        return self.check(component) if self.check is not None else None

    def build(self, section, **context):
        """The component a typed config section names (section.name), made from it: the one way every
        component is built from a config. context: what the component needs beyond its section."""
        return self.get(section.name)(section, **context)

    def get(self, name: str):
        if name not in self._entries:
            raise LmcollapseError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(sorted(self._entries))}"
            )
        return self._entries[name][0]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        return {name: self._entries[name][1] for name in self.names()}

    def __contains__(self, name: str) -> bool:
        return name in self._entries
