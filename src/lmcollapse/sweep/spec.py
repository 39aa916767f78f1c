"""A sweep's specification: a base config, axes over its keys, and seeds; expanded into points.

Axes, each a list of values:
- `grid`: one axis per dotted key (`model.order: [1, 2, 3]`); the points are their Cartesian product;
- `zip`: keys varied together, one axis whose i-th value sets every key's i-th entry;
- `points`: one axis whose values are whole sets of keys (`[{model.order: 2}, {model.order: 3, ...}]`),
  crossed with the other axes (alone, it is simply the list of points).
Seeds are an axis of their own, outside the points, so that every point is run with every seed and the
seed is a column of the results. An axis may also name its values (tags: column -> label, e.g. a study's
{"model": "gpt", "policy": "replace"}): the labels then stand for the values in the point's label and in
the results table, in place of the keys they set (a whole config section is no column anyone reads).

Every point's config (base + its values, with each seed) is checked before anything runs; a problem is
one line naming the axis and value that caused it.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from lmcollapse.config import Config, apply_overrides, read_config_file
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config


@dataclass(frozen=True)
class Axis:
    """One axis: its name in messages (`grid.model.order`, `zip`, `points`) and its values, each a
    mapping of dotted keys to values; tags, when given, name each value (column -> label)."""
    name: str
    values: tuple[dict[str, Any], ...]
    tags: tuple[dict[str, str], ...] | None = None

    def __post_init__(self):
        if self.tags is not None and len(self.tags) != len(self.values):
            raise ValueError(f"axis {self.name}: {len(self.tags)} tags for {len(self.values)} values")


@dataclass(frozen=True)
class Point:
    index: int
    values: dict[str, Any]  # dotted key -> value, every varied key
    origin: dict[str, str]  # dotted key -> the axis that set it (for error messages)
    tags: dict[str, str] = field(default_factory=dict)  # column -> label, from the axes that name their values
    tagged: frozenset[str] = frozenset()  # the keys those axes set (their labels stand for them)

    @property
    def label(self) -> str:
        untagged = [f"{k}={_show(v)}" for k, v in self.values.items() if k not in self.tagged]
        return " ".join([*self.tags.values(), *untagged]) or "base"


@dataclass
class SweepSpec:
    base: dict  # the config every point starts from (raw keys, as written)
    axes: list[Axis] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    study: str | None = None  # the study (studies/) whose sweep this is; None: a sweep of its own

    @property
    def varied_keys(self) -> list[str]:
        """The keys the untagged axes vary: a column each in the results."""
        return list(dict.fromkeys(k for axis in self.axes if axis.tags is None for v in axis.values for k in v))

    @property
    def tag_columns(self) -> list[str]:
        return list(dict.fromkeys(c for axis in self.axes for tags in axis.tags or () for c in tags))

    def points(self) -> list[Point]:
        points = []
        indices = [range(len(axis.values)) for axis in self.axes]
        for combination in itertools.product(*indices):
            values: dict[str, Any] = {}
            origin: dict[str, str] = {}
            tags: dict[str, str] = {}
            tagged: set[str] = set()
            for axis, i in zip(self.axes, combination):
                values.update(axis.values[i])
                origin.update({k: axis.name for k in axis.values[i]})
                if axis.tags is not None:
                    tags.update(axis.tags[i])
                    tagged.update(axis.values[i])
            points.append(Point(len(points), values, origin, tags, frozenset(tagged)))
        return points

    def describe(self) -> dict:
        """What sweep.json records of the spec (JSON-safe)."""
        return {"study": self.study,
                "axes": [{"name": a.name, "values": list(a.values), **({"tags": list(a.tags)} if a.tags else {})}
                         for a in self.axes], "seeds": self.seeds}


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _as_values(axis: str, values) -> list:
    if not isinstance(values, list):
        raise LmcollapseError(f"sweep axis {axis}: give a list of values, not {type(values).__name__} {values!r}")
    if not values:
        raise LmcollapseError(f"sweep axis {axis} is empty; give at least one value")
    return values


def _check_key(axis: str, key) -> str:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise LmcollapseError(f"sweep axis {axis}: {key!r} is not a dotted config key (like model.order)")
    if key == "seed":
        raise LmcollapseError(f"sweep axis {axis}: seeds are an axis of their own; use sweep.seeds or --seeds")
    return key


def axes_from_block(block: Mapping) -> tuple[list[Axis], Any]:
    """(axes, seeds or None) from a config's `sweep:` block."""
    if not isinstance(block, Mapping):
        raise LmcollapseError("the sweep: block must be a mapping with grid, zip, points and/or seeds")
    unknown = sorted(set(block) - {"grid", "zip", "points", "seeds"})
    if unknown:
        raise LmcollapseError(f"sweep.{unknown[0]}: not a sweep key; use grid, zip, points or seeds")
    axes = []
    grid = block.get("grid") or {}
    if not isinstance(grid, Mapping):
        raise LmcollapseError("sweep.grid must map dotted keys to lists of values")
    for key, values in grid.items():
        name = f"grid.{key}"
        key = _check_key(name, key)
        axes.append(Axis(name, tuple({key: v} for v in _as_values(name, values))))
    zipped = block.get("zip") or {}
    if not isinstance(zipped, Mapping):
        raise LmcollapseError("sweep.zip must map dotted keys to lists of values of one length")
    if zipped:
        lists = {_check_key(f"zip.{k}", k): _as_values(f"zip.{k}", v) for k, v in zipped.items()}
        lengths = {k: len(v) for k, v in lists.items()}
        if len(set(lengths.values())) > 1:
            raise LmcollapseError("sweep axis zip: its keys have lists of different lengths ("
                                  + ", ".join(f"{k}: {n}" for k, n in lengths.items()) + "); give them one length")
        n = next(iter(lengths.values()))
        axes.append(Axis("zip", tuple({k: v[i] for k, v in lists.items()} for i in range(n))))
    if "points" in block:
        points = _as_values("points", block["points"])
        for i, p in enumerate(points):
            if not isinstance(p, Mapping) or not p:
                raise LmcollapseError(f"sweep axis points: entry {i} must be a non-empty mapping of dotted keys to "
                                      f"values, not {p!r}")
            for k in p:
                _check_key(f"points[{i}]", k)
        axes.append(Axis("points", tuple(dict(p) for p in points)))
    return axes, block.get("seeds")


def split_values(text: str) -> list[str]:
    """'a,b,[1,2],{x: 1}' -> ['a', 'b', '[1,2]', '{x: 1}']: commas inside brackets or quotes stay."""
    parts, depth, quote, start = [], 0, None, 0
    for i, c in enumerate(text):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def grid_option(text: str) -> Axis:
    """--grid key=a,b,c -> an axis (values parsed as YAML, like --set)."""
    if "=" not in text:
        raise LmcollapseError(f"--grid {text!r} must look like key.sub=a,b,c (e.g. model.order=1,2,3)")
    key, raw = text.split("=", 1)
    name = f"--grid {key.strip()}"
    key = _check_key(name, key.strip())
    values = []
    for part in split_values(raw):
        if not part:
            raise LmcollapseError(f"sweep axis {name}: an empty value in {raw!r}")
        try:
            values.append(yaml.safe_load(part))
        except yaml.YAMLError:
            values.append(part)
    return Axis(name, tuple({key: v} for v in values))


def parse_seeds(text: str) -> list[int]:
    """'0-9', '1,4,7' or '0-4,10' -> sorted distinct seeds."""
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                seeds.update(range(lo, hi + 1))
            elif part:
                seeds.add(int(part))
    except ValueError:
        raise LmcollapseError(f"--seeds {text!r}: write seeds like 0-9, 1,4,7 or 0-4,10 (non-negative integers)") from None
    if not seeds or min(seeds) < 0:
        raise LmcollapseError(f"--seeds {text!r}: give at least one non-negative seed")
    return sorted(seeds)


def seeds_text(seeds) -> str:
    """[0, 1, 2, 5] -> '0-2,5': the seeds as parse_seeds reads them."""
    runs: list[list[int]] = []
    for seed in sorted(set(seeds)):
        if runs and seed == runs[-1][1] + 1:
            runs[-1][1] = seed
        else:
            runs.append([seed, seed])
    return ",".join(f"{lo}-{hi}" if hi > lo else f"{lo}" for lo, hi in runs)


def load_spec(source: str | Path | Mapping | None, overrides: Sequence[str] = (), grid: Sequence[str] = (),
              seeds: list[int] | None = None) -> SweepSpec:
    """A spec from a config file (its `sweep:` block, if any, holds the axes), --set overrides of the base,
    --grid axes (added to the block's; a key in both is refused) and --seeds (replacing the block's)."""
    data = dict(source) if isinstance(source, Mapping) else ({} if source is None else read_config_file(source))
    block = data.pop("sweep", None)
    axes, block_seeds = axes_from_block(block) if block is not None else ([], None)
    axes += [grid_option(g) for g in grid]
    seen: dict[str, Axis] = {}
    for axis in axes:
        for key in dict.fromkeys(k for v in axis.values for k in v):
            if key in seen:
                raise LmcollapseError(f"sweep axis {axis.name}: {key} is already varied by {seen[key].name}; vary a "
                                      f"key in one axis only")
            seen[key] = axis
    base = apply_overrides(data, overrides)
    if seeds is None:
        if block_seeds is None:
            seed = base.get("seed", 0)
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise LmcollapseError(f"seed: {seed!r} is not a seed; give a non-negative integer (or sweep.seeds)")
            seeds = [seed]
        elif isinstance(block_seeds, str):
            seeds = parse_seeds(block_seeds)
        elif isinstance(block_seeds, list) and block_seeds and all(isinstance(s, int) and s >= 0 for s in block_seeds):
            seeds = sorted(set(block_seeds))
        else:
            raise LmcollapseError(f"sweep.seeds: {block_seeds!r}; give a list of non-negative integers or a range "
                                  f"like '0-9'")
    return SweepSpec(base, axes, seeds)


def point_config(spec: SweepSpec, point: Point, seed: int) -> Config:
    """The resolved config of one (point, seed); a problem names the axes of the point's values."""

    data = apply_overrides(spec.base, {**point.values, "seed": seed})
    try:
        return load_config(data)
    except LmcollapseError as exc:
        culprit = next((k for k in point.values if str(exc).startswith(k) or f" {k}" in str(exc)), None)
        where = (f"sweep axis {point.origin[culprit]} = {_show(point.values[culprit])}" if culprit is not None
                 else f"sweep point {point.label}")
        raise LmcollapseError(f"{where}: {exc}") from None
