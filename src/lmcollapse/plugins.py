"""Components from the user's own code: `--plugin PATH_OR_MODULE` (run, sweep, reproduce, validate) imports a
Python file or an importable module before the config is read. Whatever it registers (a gate with
`@GATES.register`, a metric, a paradigm) keeps the same written contract as a built-in one, is checked by
the registry when the plugin is imported, and can be named in a config.

A sweep's runs may execute in other processes (a local pool, Ray nodes): each task carries the plugins
loaded when it was planned (sweep/task.py), and a worker imports them before it runs the task. A file is
recorded by its absolute path, so a worker started elsewhere finds it on shared storage."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from lmcollapse.errors import LmcollapseError

_loaded: list[str] = []  # in import order; importing twice would register everything twice


def loaded() -> tuple[str, ...]:
    """The plugins this process has imported, as load() takes them."""
    return tuple(_loaded)


def load_all(specs) -> None:
    for spec in specs:
        load(spec)


def load(spec: str) -> None:
    """Import a plugin once: a path to a .py file, or a module name importable from sys.path."""
    path = Path(spec).expanduser()
    looks_like_file = spec.endswith(".py") or "/" in spec or path.exists()
    key = str(path.resolve()) if looks_like_file else spec
    if key in _loaded:
        return
    try:
        if looks_like_file:
            if not path.is_file():
                raise LmcollapseError(f"--plugin {spec}: no such file; give a .py file or an importable module name")
            module_name = f"lmcollapse_plugin_{len(_loaded)}_{path.stem}"
            found = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(found)
            sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
            found.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except LmcollapseError:
        raise
    except ModuleNotFoundError as exc:
        if not looks_like_file and exc.name == spec:
            raise LmcollapseError(f"--plugin {spec}: no module of that name is importable; give a .py file or "
                                  f"a module on PYTHONPATH") from None
        raise LmcollapseError(f"--plugin {spec} failed to import: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's code: whatever it raised, said in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise LmcollapseError(f"--plugin {spec} failed to import: {type(exc).__name__}: {first}") from None
    _loaded.append(key)
