"""The typed experiment config: load from YAML/TOML/dict, apply ``key.sub=value`` overrides, and turn
every validation problem into one line that names the key and what is allowed."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import LmcollapseError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CorpusConfig(_Strict):
    name: str = "kjv"
    n_train: int = Field(5000, ge=1, description="real training documents N")
    n_eval: int = Field(1000, ge=1, description="held-out real documents, never trained on")
    doc_length: int | None = Field(None, ge=1, description="known truth: tokens per document; text: cap")
    path: str | None = Field(None, description="files/tinystories: a file or folder to read")
    unit: Literal["line", "paragraph", "file"] = Field("line", description="files: what one document is")
    text_field: str = Field("text", description="jsonl/parquet: the column holding the text")
    probs: list[float] | None = Field(None, description="categorical: the true token probabilities")
    vocab_size: int | None = Field(None, ge=2, description="categorical (Zipf) / markov: vocabulary size")
    zipf_exponent: float = Field(1.0, ge=0, description="categorical: p(rank i) ~ i^-exponent")
    order: int = Field(1, ge=1, le=4, description="markov: tokens of context")
    concentration: float = Field(0.5, gt=0, description="markov: Dirichlet concentration of each row")
    end_prob: float | None = Field(None, gt=0, lt=1, description="known truth: end-token probability "
                                                                 "per position (instead of doc_length)")


class TokenizerConfig(_Strict):
    name: str = "word"
    lowercase: bool = False
    min_count: int = Field(1, ge=1)
    vocab_size: int = Field(2000, ge=260, description="bpe: vocabulary size (256 bytes + merges + specials)")
    path: str | None = Field(None, description="pretrained: a tokenizer.json or a checkpoint directory")
    eos_token: str | None = Field(None, description="pretrained: the end-of-document token (default: guessed)")


class ModelConfig(_Strict):
    name: str = "ngram"
    # ngram
    order: int = Field(2, ge=1, le=8)
    smoothing: float = Field(1e-4, ge=0, description="add-alpha pseudo-count per token")
    # gpt (the paper's optimiser: AdamW, betas (0.9, 0.95), constant learning rate)
    n_layer: int = Field(2, ge=1)
    n_head: int = Field(2, ge=1)
    n_embd: int = Field(64, ge=1)
    block_size: int = Field(128, ge=2)
    dropout: float = Field(0.0, ge=0, lt=1)
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(5e-4, gt=0)
    weight_decay: float = Field(0.1, ge=0)
    device: str = Field("auto", description="gpt/hf: auto (CUDA when available), cpu, cuda")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="gpt/hf training: bf16 = bfloat16 "
                                                       "autocast; auto = bf16 on CUDA, fp32 elsewhere")
    batch_memory_gb: float = Field(2.0, gt=0, description="gpt/hf: about the most memory one forward pass "
                                                          "may take; larger batches are split")
    warm_start: bool = Field(False, description="gpt/hf: each generation starts from the previous generation's "
                                                "weights (fresh optimiser) instead of a new initialisation")
    # hf
    hf_config: str = Field("tinystories-1m", description="hf: tinystories-1m, tinystories-33m, or a config.json path")
    hf_checkpoint: str | None = Field(None, description="hf: a local checkpoint directory; every generation "
                                                        "starts from its weights (fine-tuning) instead of scratch")


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


class Config(_Strict):
    seed: int = Field(0, ge=0)
    generations: int = Field(10, ge=1, le=100_000)
    corpus: CorpusConfig = CorpusConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    model: ModelConfig = ModelConfig()
    sampler: SamplerConfig = SamplerConfig()
    paradigm: ParadigmConfig = ParadigmConfig()
    filters: list[str | dict[str, Any]] = Field(default_factory=list, description="quality gates in order: a name "
                                                "or {name: GATE, parameter: value}")
    oversample_max: float = Field(10.0, ge=1, description="with gates: sample at most this many times the "
                                                          "contribution to fill it with accepted documents")
    metrics: list[str] | None = Field(None, description="None = every metric that applies (opt-in ones excluded)")
    ci_rounds: int = Field(100, ge=0, description="half-samples per confidence interval (0 = no intervals)")
    save_models: bool = True

    @model_validator(mode="after")
    def _known_components(self):
        from .gates import check_entry
        from .metrics import METRICS
        from .models import MODELS
        from .paradigms import PARADIGMS
        from .sources import SOURCES
        from .tokenizers import TOKENIZERS

        for key, registry, name in [("corpus.name", SOURCES, self.corpus.name), ("model.name", MODELS, self.model.name),
                                    ("tokenizer.name", TOKENIZERS, self.tokenizer.name),
                                    ("paradigm.name", PARADIGMS, self.paradigm.name)]:
            if name not in registry:
                raise ValueError(f"{key}: unknown {registry.kind} {name!r}; choose one of: {', '.join(registry.names())}")
        if self.model.warm_start:
            import inspect

            if "warm_start" not in inspect.signature(MODELS.get(self.model.name)).parameters:
                raise ValueError(f"model.warm_start: model {self.model.name!r} is refitted from counts each "
                                 f"generation; warm starts apply to gpt and hf")
            if not self.save_models:
                raise ValueError("model.warm_start needs save_models: true (a resumed run starts from the saved "
                                 "weights of the generation before)")
        for name in self.metrics or []:
            if name not in METRICS:
                raise ValueError(f"metrics: unknown metric {name!r}; choose from: {', '.join(METRICS.names())}")
        for index, entry in enumerate(self.filters):
            problem = check_entry(index, entry, self.corpus.name)
            if problem:
                raise ValueError(problem)
        return self


def _format(err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"{key}: unknown key; allowed here: {_allowed_keys(first['loc'][:-1])}"
    if first["type"] == "value_error":
        return first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    got_text = "" if isinstance(got, (dict, type(None))) else f" (got {got!r})"
    return f"{key}: {first['msg'][:1].lower()}{first['msg'][1:]}{got_text}"


def _allowed_keys(loc) -> str:
    model: type[BaseModel] = Config
    for part in loc:
        annotation = model.model_fields[part].annotation
        model = annotation
    return ", ".join(model.model_fields)


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
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
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


def load_config(source: "str | Path | Mapping | Config | None" = None,
                overrides: Sequence[str] | Mapping[str, Any] | None = None) -> Config:
    """A validated Config from a path, a dict, a Config or None (the built-in demo), plus overrides."""
    if isinstance(source, Config):
        data = source.model_dump()
    elif isinstance(source, Mapping):
        data = dict(source)
    elif source is None:
        data = {}
    else:
        data = read_config_file(source)
    data = apply_overrides(data, overrides)
    return validate(data)


def validate(data: Mapping) -> Config:
    try:
        return Config.model_validate(dict(data))
    except ValidationError as err:
        raise LmcollapseError(_format(err)) from None


def to_yaml(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
