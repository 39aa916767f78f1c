"""The configuration reference, docs/configuration.md, written from the code: every section's keys (from the
section classes the registries hold) and every metric (from its MetricSpec), so the document cannot drift
from what a config accepts. `python -m lmcollapse.reference` rewrites it; tests/test_docs.py fails when the
file differs from what this module renders.

Only the components that ship with lmcollapse are listed: a plugin loaded in the same process would
otherwise change the document.
"""
from __future__ import annotations

import enum
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from lmcollapse.config import Config, ProbeConfig, SamplerConfig, section_of
from lmcollapse.gates import GATES
from lmcollapse.metrics import METRICS
from lmcollapse.metrics.base import CONCERNS, NEEDS
from lmcollapse.models import MODELS
from lmcollapse.paradigms import PARADIGMS
from lmcollapse.registry import Registry
from lmcollapse.sources import SOURCES
from lmcollapse.sweep.executors import EXECUTORS
from lmcollapse.tokenizers import TOKENIZERS
from lmcollapse.trackers import TRACKERS

#: The document's path in the repository (tests/test_docs.py compares it to render()).
DOCUMENT = Path("docs") / "configuration.md"

# Config key -> the registry of the components it names, in the order a config file lists them.
UNIONS: dict[str, Registry] = {"corpus": SOURCES, "tokenizer": TOKENIZERS, "model": MODELS, "paradigm": PARADIGMS,
                               "gates": GATES}
NESTED = {"sampler": SamplerConfig, "probe": ProbeConfig}  # sections with one fixed set of keys


def _built_in(registry: Registry) -> list[str]:
    return [name for name in registry.names() if registry.shipped(name)]


def type_name(annotation) -> str:
    """A field's type as a config author writes it: `int`, `float | null`, `"word" | "file"`, `list[str]`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:  # a constrained member of a union, e.g. int >= 1 | "auto"
        return type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_name(a) for a in args)
    if origin in (list, tuple, dict):
        return f"{origin.__name__}[{', '.join(type_name(a) for a in args if a is not Ellipsis)}]"
    if annotation is type(None):
        return "null"
    if annotation is typing.Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f'"{m.value}"' for m in annotation)
    return getattr(annotation, "__name__", str(annotation))


def show_value(value) -> str:
    """A default as YAML writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, BaseModel):
        return "(section)"
    return str(value)


def _default(field) -> str:
    if field.default_factory is not None:
        return show_value(field.default_factory())
    return "(required)" if field.default is PydanticUndefined else show_value(field.default)


def _constraints(field) -> str:
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    metadata = list(field.metadata)
    for member in typing.get_args(field.annotation):  # constraints on a member of a union (int >= 1 | "auto")
        if typing.get_origin(member) is typing.Annotated:
            metadata += [m for extra in typing.get_args(member)[1:] for m in getattr(extra, "metadata", [extra])]
    return ", ".join(f"{words[k]} {getattr(m, k)}" for m in metadata for k in words if hasattr(m, k))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def key_table(section: type[BaseModel], prefix: str, skip: tuple[str, ...] = ("name",)) -> list[str]:
    """A Markdown table of a section's keys: key, type, default, allowed range, description."""
    rows = [(name, field) for name, field in section.model_fields.items() if name not in skip]
    if not rows:
        return ["No keys besides `name`.", ""]
    lines = ["| key | type | default | range | description |", "|---|---|---|---|---|"]
    for name, field in rows:
        lines.append(f"| `{prefix}{name}` | {type_name(field.annotation)} | `{_cell(_default(field))}` | "
                     f"{_constraints(field)} | {_cell(field.description or '')} |")
    return lines + [""]


def _union_part(key: str, registry: Registry) -> list[str]:
    prefix = "gates[i]." if key == "gates" else f"{key}."
    lines = [f"## `{key}`", ""]
    descriptions = registry.describe()
    for name in _built_in(registry):
        lines += [f"### {key} `{name}`", "", f"{_cell(descriptions[name])}.", ""]
        lines += key_table(section_of(key, name), prefix)
    return lines


def _metric_part() -> list[str]:
    lines = ["## Metrics", "",
             "`metrics: null` (the default) computes every metric that applies except the opt-in ones; a list names "
             "the ones to compute. Direction: which way is healthier (↑ higher, ↓ lower, blank when neither).", "",
             "| metric | direction | concern | opt-in | needs | description |", "|---|---|---|---|---|---|"]
    for name in _built_in(METRICS):
        spec = METRICS.get(name)
        direction = {True: "↑", False: "↓", None: ""}[spec.higher_is_better]
        needs = "; ".join(NEEDS[n] for n in spec.needs)
        lines.append(f"| `{name}` | {direction} | {CONCERNS[spec.concern][0]} | {'yes' if spec.opt_in else ''} | "
                     f"{_cell(needs)} | {_cell(spec.description)} |")
    return lines + [""]


def _named_part(title: str, registry: Registry, note: str) -> list[str]:
    lines = [f"## {title}", "", note, "", "| name | description |", "|---|---|"]
    descriptions = registry.describe()
    lines += [f"| `{name}` | {_cell(descriptions[name])} |" for name in _built_in(registry)]
    return lines + [""]


def render() -> str:
    """The whole document."""
    top = tuple(UNIONS) + tuple(NESTED)
    lines = ["# Configuration reference", "",
             "<!-- Generated by `python -m lmcollapse.reference` from the section classes and the metric "
             "registry; do not edit by hand. -->", "",
             "Every key a config accepts, with its type, default and allowed range. A section's `name` chooses "
             "the component and with it the keys that apply; a key of another component is refused. What the "
             "settings mean together is in [configuration-guide.md](configuration-guide.md).", "",
             "## Top level", ""]
    lines += key_table(Config, "", skip=top)
    for key, registry in UNIONS.items():
        lines += _union_part(key, registry)
    for key, section in NESTED.items():
        lines += [f"## `{key}`", ""] + key_table(section, f"{key}.")
    lines += _named_part("Trackers", TRACKERS, "Names for `trackers:`; each needs its extra installed.")
    lines += _executor_part()
    lines += _metric_part()
    return "\n".join(lines).rstrip("\n") + "\n"


def _executor_part() -> list[str]:
    lines = ["## Sweep executors", "", "Where `sweep`, `reproduce` and `run --seeds` run their runs (`--executor NAME`). "
             "A command's option of the same name sets a key (`--gpus-per-run` sets `gpus_per_run`); `storage` is "
             "the sweep's `--out`; the other keys are set from Python (`lmcollapse.sweep` executors).", ""]
    descriptions = EXECUTORS.describe()
    for name in _built_in(EXECUTORS):
        lines += [f"### executor `{name}`", "", f"{_cell(descriptions[name])}.", ""]
        lines += key_table(EXECUTORS.get(name).config_class, "")
    return lines


def main(argv: list[str]) -> int:
    """Write the document (to the path given, else docs/configuration.md under the working directory)."""
    path = Path(argv[0]) if argv else DOCUMENT
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
