"""The typed experiment config, as pure data: read YAML/TOML/dict, apply ``key.sub=value`` overrides,
and turn every validation problem into one line that names the key and what is allowed.

`Config` is assembled from the registries. Each component kind with a section of its own (corpus, model,
tokenizer, paradigm, gates) is a discriminated union on `name`, and each component's section class lives
beside its code: registering a component (built-in or a plugin's) names its section and joins it to its
kind's union here (`join_union`). So a key that does not apply to the chosen component is an error, each
default is written once, beside the component that reads it, and a registered name is written once, in
the registry's decorator. This module imports none of the components it configures; importing
`lmcollapse` registers the built-in ones.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Sequence, Union

import tomllib
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from lmcollapse.errors import LmcollapseError


class Section(BaseModel):
    """The base of every config section: a key it does not declare is refused, and assignments are
    checked as construction is. A component's section declares its parameters only; the registry adds
    `name` (named_section)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


_Strict = Section  # the name before 0.5, kept for plugins that imported it

#: Config key -> the registry kind whose components it names (the registries are created with these keys).
UNION_KEYS = ("corpus", "model", "tokenizer", "paradigm", "gates")
#: Section -> the name a section without `name` gets (a config that says `model: {order: 3}` means ngram).
DEFAULT_NAMES = {"corpus": "kjv", "model": "ngram", "tokenizer": "word", "paradigm": "replace"}
#: Keys a run may change without becoming another experiment: its directory's name, the check on resume and
#: whether a sweep's run is finished ignore them (more generations extend a run; trackers only copy numbers).
NOT_IDENTITY = frozenset({"generations", "trackers"})
#: config key -> registered name -> its named section class; filled as components register.
_UNIONS: dict[str, dict[str, type[Section]]] = {key: {} for key in UNION_KEYS}


def identity_difference(old: "Config", new: "Config") -> str | None:
    """Where two configs differ as experiments ("model.order: 2 there, 3 now"), or None when they are the same
    run (they may differ in the keys of NOT_IDENTITY): the one comparison resume and sweeps make."""
    return _first_difference(old.model_dump(exclude=NOT_IDENTITY), new.model_dump(exclude=NOT_IDENTITY))


def _first_difference(a: dict, b: dict, prefix: str = "") -> str | None:
    for key in sorted(set(a) | set(b)):
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            found = _first_difference(a[key], b[key], f"{prefix}{key}.")
            if found is not None:
                return found
        elif a.get(key) != b.get(key):
            return f"{prefix}{key}: {a.get(key)!r} there, {b.get(key)!r} now"
    return None


def named_section(params: type[BaseModel], name: str) -> type[Section]:
    """The section a component registered as `name` is built from: its parameters' class plus
    `name: Literal[name] = name` as the first field (the union's tag). A parameters class that already
    declares this very name (a section written before 0.5) is returned as it is; one that inherits another
    component's name (a subclass of a registered component) gets its own."""
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise TypeError(f"its config_class must be a pydantic section class (subclass lmcollapse.config.Section), "
                        f"not {params!r}")
    field = params.model_fields.get("name")
    if field is not None:
        if field.default == name:
            return params
        written = "name" in params.__dict__.get("__annotations__", {}) and "__registered_name__" not in params.__dict__
        if written:
            raise TypeError(f"{params.__name__} is the section of {field.default!r}, not of {name!r}; leave `name` "
                            f"out of the section: the registry adds it")
        named = create_model(params.__name__, __base__=params, __module__=params.__module__,
                             name=(Literal[name], name))
        named.__qualname__ = params.__qualname__
    elif params is Section:  # a component without parameters
        title = "".join(part.title() for part in name.replace("_", "-").split("-")) + "Config"
        named = create_model(title, __base__=Section, __module__=__name__, name=(Literal[name], name))
    else:
        tag = create_model(f"{params.__name__}Name", __base__=Section, name=(Literal[name], name))
        named = create_model(params.__name__, __base__=(params, tag), __module__=params.__module__)
        named.__qualname__ = params.__qualname__
        named.__doc__ = params.__doc__
    named.__registered_name__ = name  # made here: a subclass's component may rename it
    return named


def join_union(key: str, section: type[Section]) -> None:
    """Let configs name a registered component: its named section joins the union `key` is validated
    against (built-ins and plugins alike)."""
    _UNIONS[key][section.model_fields["name"].default] = section
    _rebuild(key)


def leave_union(key: str, name: str) -> None:
    """The opposite of join_union (Registry.forget)."""
    _UNIONS[key].pop(name, None)
    _rebuild(key)


def _rebuild(key: str) -> None:
    members = tuple(_UNIONS[key].values())
    union = Annotated[Union[members], Field(discriminator="name")] if members else Any
    Config.model_fields[key].annotation = list[union] if key == "gates" else union
    Config.model_rebuild(force=True)


def section_classes(key: str) -> dict[str, type[Section]]:
    """name -> section class of the components a union key names ("corpus", "model", "tokenizer",
    "paradigm" or "gates")."""
    return dict(_UNIONS[key])


def section_of(key: str, name: str) -> type[Section]:
    """The section class of the component `name` of kind `key`, or a one-line error naming the known ones."""
    try:
        return _UNIONS[key][name]
    except KeyError:
        raise LmcollapseError(f"{key}.name: unknown {key.rstrip('s')} {name!r}; choose one of: "
                              f"{', '.join(sorted(_UNIONS[key]))}") from None


def gate_names() -> list[str]:
    return sorted(_UNIONS["gates"])


def applicable(key: str, part: Mapping) -> dict:
    """A section's mapping with the keys that its component (part's name, or the default one) does not
    declare removed."""
    cls = _UNIONS[key].get(part.get("name", DEFAULT_NAMES.get(key)))
    return dict(part) if cls is None else {k: v for k, v in part.items() if k in cls.model_fields}


class SamplerConfig(Section):
    temperature: float = Field(1.0, gt=0, description="divides the logits (below 1 sharpens, above 1 flattens)")
    top_k: int = Field(0, ge=0, description="draw among the k most probable tokens only (0 = off)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus: draw among the most probable tokens whose "
                                                        "probabilities add up to p (1 = off)")
    max_tokens: int = Field(128, ge=1, description="the most tokens of a generated document (end-token-"
                                                 "terminated documents are cut here)")


class ProbeConfig(Section):
    """The downstream probe (the paper's protocol at small scale): each generation's model, and the same
    architecture randomly initialised, classify real documents that no model of the run trains on."""

    task: Literal["kjv-testament", "kjv-genre", "files-label"] | None = Field(None, description="none: no probe")
    mode: Literal["finetune", "linear"] = Field("linear", description="linear: logistic regression on frozen "
                                                "features; finetune: the whole model plus a head (the paper's)")
    label_field: str | None = Field(None, description="files-label on .jsonl/parquet: the field holding the class")
    n_train: int = Field(1000, ge=2, description="labelled documents the probe trains on")
    n_test: int = Field(500, ge=2, description="labelled documents it is scored on")
    epochs: int = Field(3, ge=1, description="finetune: passes over the probe's training documents")
    lr: float = Field(1e-3, gt=0, description="finetune: AdamW learning rate")
    batch_size: int = Field(32, ge=1, description="finetune: documents per step")
    max_length: int = Field(64, ge=2, description="tokens of a document the probe reads (longer ones are cut)")


def _default_section(key: str):
    """The default component's section at its defaults (a factory: the union is filled at import)."""
    return lambda: section_of(key, DEFAULT_NAMES[key])()


class Config(Section):
    """A whole experiment, as data: which components, with which settings. The union keys' annotations
    are replaced as components register (join_union); whether the named components fit together is checked
    by experiment.check, which knows the registries."""

    seed: int = Field(0, ge=0, description="every random draw is seeded from (seed, generation, stage)")
    generations: int = Field(10, ge=1, le=100_000, description="models trained in sequence (more generations "
                                                                    "extend a finished run)")
    corpus: Any = Field(default_factory=_default_section("corpus"))
    tokenizer: Any = Field(default_factory=_default_section("tokenizer"))
    model: Any = Field(default_factory=_default_section("model"))
    sampler: SamplerConfig = SamplerConfig()
    paradigm: Any = Field(default_factory=_default_section("paradigm"))
    probe: ProbeConfig = ProbeConfig()
    gates: list[Any] = Field(default_factory=list, description="quality gates in order: a name or {name: "
                                    "GATE, parameter: value}")
    oversample_max: float = Field(10.0, ge=1, description="with gates: sample at most this many times the "
                                                          "contribution to fill it with accepted documents")
    metrics: list[str] | None = Field(None, description="None = every metric that applies (opt-in ones excluded)")
    ci_rounds: int = Field(100, ge=0, description="half-samples per confidence interval (0 = no intervals)")
    save_models: bool = Field(True, description="keep each generation's model in the run directory")
    trackers: list[str] = Field(default_factory=list, description="experiment trackers each generation is also "
                                                                  "logged to: mlflow, tensorboard, wandb")

    @property
    def init(self) -> str:
        """Where each generation's training starts: scratch, previous (the previous generation's weights) or
        base (a fixed base model); neural models declare it, count models always start from scratch."""
        # a field of the model's section (the neural backends' training section declares it), not a guess
        return self.model.start if "init" in type(self.model).model_fields else "scratch"

    @property
    def warm_start(self) -> bool:
        """Whether each generation's model starts from the previous one's weights (init: previous)."""
        return self.init == "previous"

    @model_validator(mode="before")
    @classmethod
    def _default_component_names(cls, data):
        """A corpus or model section without `name` is the default component's; a gate given by its name
        alone is that gate with its defaults; `filters`, the key's name before 0.4, means `gates`."""
        if isinstance(data, dict):
            data = dict(data)
            for section, default in DEFAULT_NAMES.items():
                if isinstance(data.get(section), dict) and "name" not in data[section]:
                    data[section] = {"name": default, **data[section]}
            if "filters" in data:
                if "gates" in data:
                    raise ValueError("gates: give the quality gates once, under gates (filters is its name before "
                                     "lmcollapse 0.4)")
                data["gates"] = data.pop("filters")
            if isinstance(data.get("gates"), list):
                data["gates"] = [{"name": g} if isinstance(g, str) else g for g in data["gates"]]
                for i, g in enumerate(data["gates"]):
                    if isinstance(g, dict) and "name" not in g:
                        raise ValueError(f"gates[{i}]: a gate needs a name (one of: {', '.join(gate_names())})")
        return data


def drop_inapplicable_keys(data: Mapping) -> dict:
    """A config dict with the keys that do not apply to its chosen components removed: lmcollapse 0.2 wrote
    every model and corpus key, and before 0.5 every paradigm and tokenizer key; those versions ignored the
    keys of components not chosen."""
    data = dict(data)
    for key in DEFAULT_NAMES:
        if isinstance(data.get(key), dict):
            data[key] = applicable(key, data[key])
    return data


def _format(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = list(first["loc"])
    if len(loc) > 1 and loc[0] == "gates" and isinstance(loc[1], int):
        return _format_gate(first, loc[1], loc[2:])
    component = None
    if len(loc) > 1 and loc[0] in DEFAULT_NAMES and loc[1] in section_classes(loc[0]):
        component = loc.pop(1)  # pydantic names the union member; the user wrote only the section
    key = ".".join(str(p) for p in loc)
    if first["type"] == "union_tag_invalid":
        kind = loc[0]
        return (f"{key}.name: unknown {kind} {first['ctx']['tag']!r}; choose one of: "
                f"{', '.join(sorted(section_classes(kind)))} (a {kind} of your own: load its file with --plugin PATH)")
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], component)
        if component is not None:
            elsewhere = sorted(name for name, cls in section_classes(loc[0]).items() if loc[-1] in cls.model_fields)
            own = f"its keys: {allowed}" if allowed != "name" else "it takes no parameters"
            if elsewhere:
                return (f"{key}: does not apply to {loc[0]} {component!r} (only to {', '.join(elsewhere)}); "
                        f"{own}")
            return f"{key}: unknown key; allowed here: {allowed}"
        return f"{key}: unknown key; allowed here: {allowed}"
    if first["type"] == "value_error":
        return first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    got_text = "" if isinstance(got, (dict, type(None))) else f" (got {got!r})"
    return f"{key}: {first['msg'][:1].lower()}{first['msg'][1:]}{got_text}"


def _format_gate(error: dict, index: int, loc: list) -> str:
    """A problem with the gate at gates[index]: `gates[1] (dedup): unknown parameter 'treshold'; allowed: ..."""
    gates = section_classes("gates")
    if error["type"] == "union_tag_invalid":
        return (f"gates[{index}]: unknown gate {error['ctx']['tag']!r}; choose one of: {', '.join(gate_names())} "
                f"(a gate of your own: load its file with --plugin PATH)")
    if not loc or loc[0] not in gates:
        return f"gates[{index}]: write a gate name or a mapping with a name key (got {error.get('input')!r})"
    head, rest = f"gates[{index}] ({loc[0]})", loc[1:]
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(k for k in gates[loc[0]].model_fields if k != "name") or "none"
        return f"{head}: unknown parameter {rest[-1]!r}; allowed: {allowed}"
    if error["type"] == "value_error":
        return f"{head}: {error['msg'].removeprefix('Value error, ')}"
    return f"{head}: {'.'.join(map(str, rest))}: {error['msg'][:1].lower()}{error['msg'][1:]} (got {error.get('input')!r})"


def _allowed_keys(loc, component: str | None = None) -> str:
    model: type[BaseModel] = Config
    for part in loc:
        model = model.model_fields[part].annotation
    if component is not None:
        model = section_classes(loc[0])[component]
    names = list(model.model_fields)
    return ", ".join(sorted(names, key=lambda key: key != "name"))  # the name first, then in declared order


def parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise LmcollapseError(f"override {text!r} must look like key.sub=value (e.g. model.order=3)")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise LmcollapseError(f"override {text!r} has no key before '='")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: Sequence[str] | Mapping[str, Any] | None) -> dict:
    """A copy of data with each ``key.sub=value`` set (values parsed as YAML scalars or lists)."""
    import copy

    data = copy.deepcopy(data)
    items = overrides.items() if isinstance(overrides, Mapping) else [(None, o) for o in overrides or []]
    for key, value in items:
        path, value = (key.split("."), value) if key is not None else parse_override(value)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise LmcollapseError(f"override {'.'.join(path)}: {part} is a value, not a section")
            node = child
        node[path[-1]] = value
    return data


def read_config_file(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise LmcollapseError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else load_yaml(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise LmcollapseError(f"config file {path} is not valid {'TOML' if path.suffix == '.toml' else 'YAML'}{line}: "
                              f"{str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LmcollapseError(f"config file {path} must hold a mapping of keys, not a {type(data).__name__}")
    return data


def parse_config(source: "str | Path | Mapping | Config | None" = None,
                 overrides: Sequence[str] | Mapping[str, Any] | None = None) -> Config:
    """A Config from a path, a dict, a Config or None (the built-in demo), plus overrides, with every key
    type-checked. Whether its components exist and fit together: experiment.load_config."""
    if isinstance(source, Config):
        data = source.model_dump()
    elif isinstance(source, Mapping):
        data = dict(source)
    elif source is None:
        data = {}
    else:
        data = read_config_file(source)
    if "sweep" in data:  # a sweep spec handed to `run` (or load_config): say where it belongs
        where = source if isinstance(source, (str, Path)) else "this config"
        raise LmcollapseError(f"{where} has a sweep: block, so it describes many runs; run it with `lmcollapse sweep "
                              f"{where}` (or drop the block to run its base config once)")
    data = apply_overrides(data, overrides)
    return validate(data)


def validate(data: Mapping) -> Config:
    try:
        return Config.model_validate(dict(data))
    except ValidationError as err:
        raise LmcollapseError(_format(err)) from None


# libyaml's C loader and dumper when PyYAML was built with it: ten times faster than the pure-Python ones,
# which matters when thousands of small runs each write and read their config.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_yaml(text: str):
    return yaml.load(text, Loader=_LOADER)


def to_yaml(config: Config) -> str:
    return yaml.dump(config.model_dump(), Dumper=_DUMPER, sort_keys=False)


# ---- names that moved beside their components in 0.5, importable from here for one minor version ------
_MOVED_SECTIONS = {  # old name -> (union key, component)
    "KJVCorpusConfig": ("corpus", "kjv"), "FilesCorpusConfig": ("corpus", "files"),
    "TinyStoriesCorpusConfig": ("corpus", "tinystories"), "CategoricalCorpusConfig": ("corpus", "categorical"),
    "MarkovCorpusConfig": ("corpus", "markov"), "NGramConfig": ("model", "ngram"), "GPTConfig": ("model", "gpt"),
    "HFConfig": ("model", "hf"), "NonemptyGateConfig": ("gates", "nonempty"),
    "ExactDedupGateConfig": ("gates", "exact-dedup"), "DedupGateConfig": ("gates", "dedup"),
    "PerplexityGateConfig": ("gates", "perplexity"), "VerifierGateConfig": ("gates", "verifier"),
    "TokenEditGateConfig": ("gates", "token-edit"), "ReweightGateConfig": ("gates", "reweight"),
    "DetectorResampleGateConfig": ("gates", "detector-resample"),
}
_MOVED_CLASSES = {  # old name -> the module that holds it now
    "NeuralConfig": "lmcollapse.models.neural", "TextCorpusConfig": "lmcollapse.sources.text",
}
_MOVED_EXECUTORS = {"LocalExecutorConfig": "local", "RayExecutorConfig": "ray"}


def _by_name(key: str):
    """What `TokenizerConfig(...)` and `ParadigmConfig(...)` were before 0.5 (one flat class): the named
    component's section, the default one's without a name."""
    def build(name: str = DEFAULT_NAMES[key], **values):
        return section_of(key, name)(**values)
    return build


def __getattr__(attr: str):
    if attr in _MOVED_SECTIONS:
        return section_of(*_MOVED_SECTIONS[attr])
    if attr in _MOVED_CLASSES:
        import importlib

        return getattr(importlib.import_module(_MOVED_CLASSES[attr]), attr)
    if attr in _MOVED_EXECUTORS:
        import importlib

        executors = importlib.import_module("lmcollapse.sweep.executors").EXECUTORS
        return executors.get(_MOVED_EXECUTORS[attr]).config_class
    if attr in ("TokenizerConfig", "ParadigmConfig"):
        return _by_name(attr.removesuffix("Config").lower())
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
