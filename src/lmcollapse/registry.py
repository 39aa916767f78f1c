"""Name -> component tables, filled by decorators, so configs can name components by string.

Each registry is created with the contract its components must keep (an abstract base class, or for
plain functions a check of their own). Registering something that does not keep it fails at import
time with a message naming what is missing, so a misfit never reaches a run.

A component's registered name is written once, in the decorator: the registry sets the class's `name`.
Components are built from their typed config section in one way, `REGISTRY.build(section, **context)`:
the section's `name` picks the class, which is constructed with the section (already checked by
pydantic) and whatever else it needs from the run. A kind whose contract declares `config_class` is built
from a section of its own per component: the class's `config_class` lists its parameters (the contract's
default, an empty section, for a component without any), and the registry turns it into the named
section (config.named_section). A kind with a config key (`union_key`) also joins that section to the
key's union in Config, so a config can name the component, built-in or a plugin's.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from lmcollapse.config import join_union, leave_union, named_section
from lmcollapse.errors import LmcollapseError


class ContractError(TypeError):
    """A component registered under a kind whose contract it does not keep."""


class Registry:
    """One kind of component (models, paradigms, ...): name -> (component, one-line description).

    contract: the base class every registered class must subclass, with no abstract method left
    unimplemented; or None with `check` for kinds that register functions (metrics).
    check: an extra test, called with the component, returning a problem or None.
    union_key: the Config key whose union the components' sections join ("model", "gates", ...), if any.
    """

    def __init__(self, kind: str, contract: type | None = None,
                 check: Callable[[Any], str | None] | None = None, union_key: str | None = None):
        self.kind = kind
        self.contract = contract
        self.check = check
        self.union_key = union_key
        self._entries: dict[str, tuple[Any, str]] = {}

    def register(self, name: str, description: str) -> Callable:
        def decorate(component):
            problem = self.misfit(component, name)
            if problem:
                raise ContractError(f"{self.kind} {name!r}: {problem}")
            if name in self._entries:
                raise ContractError(f"{self.kind} {name!r} registered twice")
            if self._declares("name"):
                component.name = name
            if self._declares("config_class"):
                try:
                    component.config_class = named_section(component.config_class, name)
                except TypeError as exc:
                    raise ContractError(f"{self.kind} {name!r}: {component.__name__}.config_class: {exc}") from None
                if self.union_key is not None:
                    join_union(self.union_key, component.config_class)
            self._entries[name] = (component, description)
            return component

        return decorate

    def _declares(self, attribute: str) -> bool:
        return attribute in getattr(self.contract, "__annotations__", {})

    def misfit(self, component, name: str) -> str | None:
        """Why component cannot be registered here, or None when it keeps the contract."""
        if self.contract is not None:
            if not (inspect.isclass(component) and issubclass(component, self.contract)):
                return f"{getattr(component, '__name__', component)!r} is not a subclass of {self.contract.__name__}"
            missing = sorted(getattr(component, "__abstractmethods__", ()))
            if missing:
                return (f"{component.__name__} does not implement {', '.join(missing)} of the "
                        f"{self.contract.__name__} contract")
            written = component.__dict__.get("name")
            if self._declares("name") and written is not None and written != name:
                return (f"{component.__name__}.name says {written!r}; leave it out (the registry sets the name it is "
                        f"registered under)")
        return self.check(component) if self.check is not None else None

    def forget(self, name: str) -> None:
        """Unregister a component (tests, and a session that defines one again); configs can no longer name it."""
        if self._entries.pop(name, None) is not None and self.union_key is not None:
            leave_union(self.union_key, name)

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

    def shipped(self, name: str) -> bool:
        """Whether the component was registered by lmcollapse itself rather than by a plugin."""
        component = self._entries[name][0]
        defined = getattr(component, "compute", component)  # a metric's spec: where its function is defined
        return defined.__module__.startswith("lmcollapse.")

    def describe(self) -> dict[str, str]:
        return {name: self._entries[name][1] for name in self.names()}

    def __contains__(self, name: str) -> bool:
        return name in self._entries
