"""The typed experiment config, as pure data: read YAML/TOML/dict, apply ``key.sub=value`` overrides,
and turn every validation problem into one line that names the key and what is allowed.

The corpus and model sections are discriminated unions on `name`: each component has its own section
class, so a key that does not apply to the chosen component is an error, and each default is written
once, here (the components' constructors take theirs from these classes). This module imports none of
the components it configures; experiment.py checks names against the registries.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Sequence, Union, get_args, get_origin

import tomllib
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import LmcollapseError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


#: The base of a component's config section, for components defined outside the package (plugins.py): a
#: key it does not declare is refused, as in every built-in section.
Section = _Strict


# ---- corpus: one section per source, told apart by `name` ------------------------------------------
class _CorpusCommon(_Strict):
    n_train: int = Field(5000, ge=1, description="real training documents N")
    n_eval: int = Field(1000, ge=1, description="held-out real documents, never trained on")
    doc_length: int | None = Field(None, ge=1, description="known truth: tokens per document; text: cap")


class TextCorpusConfig(_CorpusCommon):
    n_reservoir: int = Field(0, ge=0, description="real documents held back from R, E and the probe: the `fresh` "
                                                  "paradigm's supply of new real data")


class KJVCorpusConfig(TextCorpusConfig):
    name: Literal["kjv"] = "kjv"


class FilesCorpusConfig(TextCorpusConfig):
    name: Literal["files"] = "files"
    path: str | None = Field(None, description="a .txt/.jsonl/.parquet file or a folder to read")
    unit: Literal["line", "paragraph", "file"] = Field("line", description=".txt: what one document is")
    text_field: str = Field("text", description="jsonl/parquet: the column holding the text")


class TinyStoriesCorpusConfig(TextCorpusConfig):
    name: Literal["tinystories"] = "tinystories"
    path: str | None = Field(None, description="a local copy (.txt with <|endoftext|>, .jsonl, parquet); "
                                               "none: the HF hub")
    text_field: str = Field("text", description="jsonl/parquet: the column holding the text")


class _TruthCommon(_CorpusCommon):
    end_prob: float | None = Field(None, gt=0, lt=1, description="end-token probability per position "
                                                                 "(instead of doc_length)")

    @model_validator(mode="after")
    def _one_length_rule(self):
        if (self.doc_length is None) == (self.end_prob is None):
            raise ValueError(f"corpus {self.name}: set exactly one of corpus.doc_length (fixed-length documents) and "
                             f"corpus.end_prob (end-token-terminated documents)")
        return self


class CategoricalCorpusConfig(_TruthCommon):
    name: Literal["categorical"] = "categorical"
    probs: list[float] | None = Field(None, description="the true token probabilities")
    vocab_size: int | None = Field(None, ge=2, description="Zipf over this many tokens (instead of probs)")
    zipf_exponent: float = Field(1.0, ge=0, description="p(rank i) ~ i^-exponent")


class MarkovCorpusConfig(_TruthCommon):
    name: Literal["markov"] = "markov"
    vocab_size: int | None = Field(None, ge=2, description="vocabulary size")
    order: int = Field(1, ge=1, le=4, description="tokens of context")
    concentration: float = Field(0.5, gt=0, description="Dirichlet concentration of each row")
    truth_seed: int | None = Field(None, ge=0, description="the seed the chain is drawn from (default: the run "
                                                           "seed); fix it to share one truth across seeds")


CorpusConfig = Annotated[Union[KJVCorpusConfig, FilesCorpusConfig, TinyStoriesCorpusConfig,
                               CategoricalCorpusConfig, MarkovCorpusConfig], Field(discriminator="name")]


class TokenizerConfig(_Strict):
    name: str = "word"
    lowercase: bool = False
    min_count: int = Field(1, ge=1)
    vocab_size: int = Field(2000, ge=260, description="bpe: vocabulary size (256 bytes + merges + specials)")
    path: str | None = Field(None, description="pretrained: a tokenizer.json or a checkpoint directory")
    eos_token: str | None = Field(None, description="pretrained: the end-of-document token (default: guessed)")


# ---- model: one section per backend, told apart by `name` ------------------------------------------
class NGramConfig(_Strict):
    name: Literal["ngram"] = "ngram"
    order: int = Field(2, ge=1, le=8, description="n of the n-grams (1 = unigram)")
    smoothing: float = Field(1e-4, ge=0, description="add-alpha pseudo-count per token (0 = exact maximum "
                                                     "likelihood)")

    @model_validator(mode="before")
    @classmethod
    def _no_warm_start(cls, data):
        if isinstance(data, dict) and "warm_start" in data:  # a common mistake, worth its own words
            raise ValueError("model.warm_start: model 'ngram' is refitted from counts each generation; warm starts "
                             "apply to gpt and hf")
        return data


class NeuralConfig(_Strict):
    """Training shared by the neural backends (the paper's optimiser: AdamW, betas (0.9, 0.95), constant
    learning rate)."""

    block_size: int = Field(128, ge=2)
    dropout: float = Field(0.0, ge=0, lt=1)
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(5e-4, gt=0)
    weight_decay: float = Field(0.1, ge=0)
    device: str = Field("auto", description="auto (CUDA when available), cpu, cuda")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="training: bf16 = bfloat16 autocast; "
                                                       "auto = bf16 on CUDA and, for models at least 128 wide, on a CPU with "
                                                       "bfloat16 matrix units (AMX, AVX-512 BF16); fp32 elsewhere")
    batch_memory_gb: float = Field(2.0, gt=0, description="about the most memory one forward pass may take; "
                                                          "larger batches are split")
    warm_start: bool = Field(False, description="each generation starts from the previous generation's weights "
                                                "(fresh optimiser) instead of a new initialisation")
    loss: Literal["ce", "tce"] = Field("ce", description="ce: cross-entropy; tce: truncated cross-entropy "
                                                         "(ForTIFAI), tokens predicted above tce_gamma left out")
    tce_gamma: float = Field(0.99, gt=0, lt=1, description="tce: a target token whose probability exceeds this "
                                                           "is dropped from the loss")

    @model_validator(mode="after")
    def _gamma_needs_tce(self):
        # (at its default it may stand anywhere: a stored config.yaml spells out every key)
        if self.loss != "tce" and self.tce_gamma != type(self).model_fields["tce_gamma"].default:
            raise ValueError("model.tce_gamma applies with model.loss: tce (truncated cross-entropy); set "
                             "model.loss=tce or drop tce_gamma")
        return self


class GPTConfig(NeuralConfig):
    name: Literal["gpt"] = "gpt"
    n_layer: int = Field(2, ge=1)
    n_head: int = Field(2, ge=1)
    n_embd: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _heads_divide_the_width(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"model.n_embd ({self.n_embd}) must be a multiple of model.n_head ({self.n_head})")
        return self


class HFConfig(NeuralConfig):
    name: Literal["hf"] = "hf"
    hf_config: str = Field("tinystories-1m", description="tinystories-1m, tinystories-33m, or a config.json path")
    hf_checkpoint: str | None = Field(None, description="a local checkpoint directory; every generation starts "
                                                        "from its weights (fine-tuning) instead of scratch")


ModelConfig = Annotated[Union[NGramConfig, GPTConfig, HFConfig], Field(discriminator="name")]
#: Keys a run may change without becoming another experiment: its directory's name, the check on resume and
#: whether a sweep's run is finished ignore them (more generations extend a run; trackers only copy numbers).
NOT_IDENTITY = frozenset({"generations", "trackers"})
#: Section -> the name a section without `name` gets (a config that says `model: {order: 3}` means ngram).
DEFAULT_NAMES = {"corpus": "kjv", "model": "ngram"}


# ---- gates: one section per quality gate, told apart by `name` ------------------------------------
class NonemptyGateConfig(_Strict):
    name: Literal["nonempty"] = "nonempty"


class ExactDedupGateConfig(_Strict):
    name: Literal["exact-dedup"] = "exact-dedup"


class DedupGateConfig(_Strict):
    name: Literal["dedup"] = "dedup"
    threshold: float = Field(0.8, gt=0, le=1, description="MinHash Jaccard similarity from which a document is a "
                                                          "near-duplicate")
    ngram: int = Field(3, ge=1, description="tokens per shingle")
    num_perm: int = Field(64, ge=1, description="MinHash permutations")
    bands: int = Field(16, ge=1, description="LSH bands (num_perm must be a multiple)")

    @model_validator(mode="after")
    def _bands_divide_permutations(self):
        if self.num_perm % self.bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})")
        return self


class PerplexityGateConfig(_Strict):
    name: Literal["perplexity"] = "perplexity"
    low: float = Field(0.05, ge=0, le=1, description="lower quantile of held-out real documents' NLL")
    high: float = Field(0.95, ge=0, le=1, description="upper quantile")

    @model_validator(mode="after")
    def _a_band(self):
        if not self.low < self.high:
            raise ValueError(f"need low < high (got low={self.low}, high={self.high})")
        return self


class VerifierGateConfig(_Strict):
    name: Literal["verifier"] = "verifier"
    quantile: float = Field(0.1, ge=0, lt=1, description="the real documents' log-prob quantile a document must "
                                                         "reach")
    error_rate: float = Field(0.0, ge=0, le=0.5, description="share of decisions flipped (a noisy verifier)")


class TokenEditGateConfig(_Strict):
    name: Literal["token-edit"] = "token-edit"
    threshold: float = Field(0.99, gt=0, lt=1, description="tokens the model predicts with p above this are resampled")


class ReweightGateConfig(_Strict):
    name: Literal["reweight"] = "reweight"
    real_weight: float = Field(4.0, gt=0, description="sampling weight of a real document")
    age_decay: float = Field(0.5, gt=0, le=1, description="weight factor per generation of a synthetic document's age")


class DetectorResampleGateConfig(_Strict):
    name: Literal["detector-resample"] = "detector-resample"
    upsample: float = Field(4.0, ge=1, description="candidates drawn per document the generation contributes")
    beta: float = Field(1.0, ge=0, description="a candidate's weight is (1 - p_generated) ** beta (0: no preference)")
    max_repeats: int = Field(2, ge=1, description="the most copies of one candidate the resample may hold")
    features: Literal["ngrams", "hidden"] = Field("ngrams", description="the detector's input: hashed token n-grams, "
                                                                        "or the model's final hidden state (gpt, hf)")


_GATE_SECTIONS = [NonemptyGateConfig, ExactDedupGateConfig, DedupGateConfig, PerplexityGateConfig,
                  VerifierGateConfig, TokenEditGateConfig, ReweightGateConfig, DetectorResampleGateConfig]
GateConfig = Annotated[Union[tuple(_GATE_SECTIONS)], Field(discriminator="name")]


class SamplerConfig(_Strict):
    temperature: float = Field(1.0, gt=0)
    top_k: int = Field(0, ge=0, description="0 = off")
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(128, ge=1)


class ParadigmConfig(_Strict):
    name: str = "replace"
    rate: float = Field(1.0, gt=0, description="accumulate(-subsample)/fresh: new synthetic docs per "
                                               "generation as a fraction of N")
    real_fraction: float = Field(0.5, ge=0, lt=1, description="mix: share of real documents")
    fresh_fraction: float = Field(0.1, gt=0, description="fresh: new real docs per generation / N")


# ---- executors: where a sweep's runs go (command-line options, not part of an experiment's config) ------
class LocalExecutorConfig(_Strict):
    name: Literal["local"] = "local"
    workers: int | None = Field(None, ge=1, description="parallel processes (default: one per core)")
    gpus_per_run: float | None = Field(None, gt=0, description="GPUs per run; 0.5 packs two runs on a GPU")


class RayExecutorConfig(_Strict):
    name: Literal["ray"] = "ray"
    address: str | None = Field(None, description="auto or HOST:PORT of a running cluster (default: start one)")
    cpus_per_run: float = Field(1.0, gt=0, description="CPUs a run's task asks for")
    gpus_per_run: float = Field(0.0, ge=0, description="GPUs a run's task asks for")
    max_retries: int = Field(3, ge=0, description="runs again on another node after a node dies")
    storage: str | None = Field(None, description="the sweep folder every node must see (probed at start)")


ExecutorConfig = Annotated[Union[LocalExecutorConfig, RayExecutorConfig], Field(discriminator="name")]


class ProbeConfig(_Strict):
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


class Config(_Strict):
    """A whole experiment, as data: which components, with which settings. Whether the named components
    exist and fit together is checked by experiment.check, which knows the registries."""

    seed: int = Field(0, ge=0)
    generations: int = Field(10, ge=1, le=100_000)
    corpus: CorpusConfig = Field(default_factory=KJVCorpusConfig)
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: ModelConfig = Field(default_factory=NGramConfig)
    sampler: SamplerConfig = SamplerConfig()
    paradigm: ParadigmConfig = ParadigmConfig()
    probe: ProbeConfig = ProbeConfig()
    gates: list[GateConfig] = Field(default_factory=list, description="quality gates in order: a name or {name: "
                                    "GATE, parameter: value}")
    oversample_max: float = Field(10.0, ge=1, description="with gates: sample at most this many times the "
                                                          "contribution to fill it with accepted documents")
    metrics: list[str] | None = Field(None, description="None = every metric that applies (opt-in ones excluded)")
    ci_rounds: int = Field(100, ge=0, description="half-samples per confidence interval (0 = no intervals)")
    save_models: bool = True
    trackers: list[str] = Field(default_factory=list, description="experiment trackers each generation is also "
                                                                  "logged to: mlflow, tensorboard, wandb")

    @property
    def warm_start(self) -> bool:
        """Whether each generation's model starts from the previous one's weights (neural models only)."""
        return isinstance(self.model, NeuralConfig) and self.model.warm_start

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


def add_gate_section(section: type[BaseModel]) -> None:
    """Let configs name a gate registered after this module was written (a plugin's): its section joins the
    union `gates` entries are validated against."""
    if section in _GATE_SECTIONS:
        return
    name = section.model_fields.get("name")
    if name is None or not isinstance(name.default, str):
        raise TypeError(f"{section.__name__} needs a field `name: Literal[NAME] = NAME`, as every gate section has")
    _GATE_SECTIONS.append(section)
    union = Annotated[Union[tuple(_GATE_SECTIONS)], Field(discriminator="name")]
    Config.model_fields["gates"].annotation = list[union]
    Config.model_rebuild(force=True)


def section_classes(section: str) -> dict[str, type[BaseModel]]:
    """name -> config class of the components of a union section ("corpus", "model" or "gates")."""
    annotation = Config.model_fields[section].annotation
    if get_origin(annotation) is list:  # gates: list[Annotated[Union[...], discriminator]]
        annotation = get_args(get_args(annotation)[0])[0]
    return {cls.model_fields["name"].default: cls for cls in get_args(annotation)}


def gate_names() -> list[str]:
    return sorted(section_classes("gates"))


def drop_inapplicable_keys(data: Mapping) -> dict:
    """A config dict (as lmcollapse 0.2 wrote them, with every model and corpus key) with the keys that do
    not apply to the chosen model and corpus removed; those versions ignored them."""
    data = dict(data)
    for section, default in DEFAULT_NAMES.items():
        part = data.get(section)
        if isinstance(part, dict):
            cls = section_classes(section).get(part.get("name", default))
            if cls is not None:
                data[section] = {k: v for k, v in part.items() if k in cls.model_fields}
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
                f"{', '.join(sorted(section_classes(kind)))}")
    if first["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], component)
        if component is not None:
            elsewhere = sorted(name for name, cls in section_classes(loc[0]).items() if loc[-1] in cls.model_fields)
            if elsewhere:
                return (f"{key}: does not apply to {loc[0]} {component!r} (only to {', '.join(elsewhere)}); "
                        f"its keys: {allowed}")
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
