"""From a config to the parts of a run: the one place that consults the registries and checks that the
chosen components fit together (torchtune's recipe setup: build everything from its config section,
then run).

    load_config(source, overrides)  parse + check: every problem is one line before anything runs
    prepare(config, run_dir)        first start: draw the real data once and write what the run depends on
    build(config, run_dir)          the Experiment: components built from the config and the run directory
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .version import __version__
from .config import Config, parse_config, to_yaml
from .corpus import Corpus
from .corpus_io import read_corpus, write_corpus
from .errors import LmcollapseError
from .gates import GATES, GateSet, PoolWeighting, Producer, build_gates, entry_name, entry_params
from .metrics import METRICS
from .models import MODELS, Capability, LanguageModel
from .paradigms import PARADIGMS, Paradigm
from .rundir import RunDir, disk_errors
from .sampling import Sampler
from .sources import SOURCES, FreshSupply, Source, SourceData
from .tokenizers import TOKENIZERS, Tokenizer, load_tokenizer


def load_config(source: "str | Path | Mapping | Config | None" = None,
                overrides: Sequence[str] | Mapping[str, Any] | None = None) -> Config:
    """A Config from a path, a dict, a Config or None (the built-in demo), plus overrides, whose
    components exist and fit together; any problem is an LmcollapseError of one line."""
    config = parse_config(source, overrides)
    check(config)
    return config


def check(config: Config) -> None:
    """Refuse, in one line naming the key, a config whose components are unknown or do not fit."""
    for key, registry, name in [("corpus.name", SOURCES, config.corpus.name), ("model.name", MODELS, config.model.name),
                                ("tokenizer.name", TOKENIZERS, config.tokenizer.name),
                                ("paradigm.name", PARADIGMS, config.paradigm.name)]:
        if name not in registry:
            raise LmcollapseError(f"{key}: unknown {registry.kind} {name!r}; choose one of: {', '.join(registry.names())}")
    model_class, source_class = MODELS.get(config.model.name), SOURCES.get(config.corpus.name)
    paradigm_class = PARADIGMS.get(config.paradigm.name)
    if config.warm_start:
        if Capability.WARM_START not in model_class.capabilities:
            raise LmcollapseError(f"model.warm_start: model {config.model.name!r} cannot start from another "
                                  f"model's weights; warm starts apply to gpt and hf")
        if not config.save_models:
            raise LmcollapseError("model.warm_start needs save_models: true (a resumed run starts from the saved "
                                  "weights of the generation before)")
    if paradigm_class.needs_fresh_real and not source_class.can_make_fresh:
        raise LmcollapseError(f"paradigm fresh needs a corpus that can produce new real documents (categorical, "
                              f"markov); {config.corpus.name} is a finite set")
    for name in config.metrics or []:
        if name not in METRICS:
            raise LmcollapseError(f"metrics: unknown metric {name!r}; choose from: {', '.join(METRICS.names())}")
    producers = 0
    for index, entry in enumerate(config.filters):
        gate_class = _check_gate_entry(index, entry)
        if gate_class.needs_truth and not source_class.has_truth:
            raise LmcollapseError(f"filters[{index}] ({entry_name(entry)}) needs a known-truth corpus (categorical or "
                                  f"markov); corpus.name={config.corpus.name} has no true source to verify against")
        if issubclass(gate_class, PoolWeighting) and not paradigm_class.subsamples_pool:
            raise LmcollapseError(f"filter {entry_name(entry)} changes how a paradigm subsamples its pool; use "
                                  f"accumulate-subsample or fresh, not {config.paradigm.name}")
        producers += issubclass(gate_class, Producer)
    if producers > 1:
        raise LmcollapseError("filters: at most one producing gate (token-edit) per run")


def _check_gate_entry(index: int, entry) -> type:
    """The gate class of filters[index], after checking its name and parameters."""
    if not isinstance(entry, (str, dict)):
        raise LmcollapseError(f"filters[{index}]: write a gate name or a mapping with a `name` key, not {entry!r}")
    name = entry_name(entry)
    if name not in GATES:
        raise LmcollapseError(f"filters[{index}]: unknown filter {name!r}; choose from: {', '.join(GATES.names())}")
    gate_class = GATES.get(name)
    accepted = list(inspect.signature(gate_class).parameters)
    for key in entry_params(entry):
        if key not in accepted:
            raise LmcollapseError(f"filters[{index}] ({name}): unknown parameter {key!r}; "
                                  f"allowed: {', '.join(accepted) if accepted else 'none'}")
    return gate_class


def new_model(config: Config) -> LanguageModel:
    """A fresh, unfitted model of the configured backend."""
    return MODELS.get(config.model.name)(**config.model.model_dump(exclude={"name"}))


def new_source(config: Config) -> Source:
    return SOURCES.get(config.corpus.name)(config)


def new_tokenizer(config: Config) -> Tokenizer:
    return TOKENIZERS.get(config.tokenizer.name).from_config(config.tokenizer)


def load_source(config: Config) -> SourceData:
    """R and E (and the fitted tokenizer, or the truth) of the configured corpus."""
    return new_source(config).load(new_tokenizer(config))


@dataclass
class Experiment:
    """The parts of a run that stay fixed across generations."""

    config: Config
    real: Corpus  # R
    held_out: Corpus  # E
    tokenizer: Tokenizer | None  # text corpora: the vocabulary fixed at generation 0
    source: Source
    paradigm: Paradigm
    sampler: Sampler
    gates: GateSet

    @property
    def truth(self):
        return self.source.truth

    def new_model(self) -> LanguageModel:
        return new_model(self.config)

    def fresh_supply(self) -> FreshSupply | None:
        return self.source.fresh if self.source.can_make_fresh else None

    def decode(self, corpus: Corpus) -> Corpus:
        """corpus with its text (text corpora), as the gates and the stored samples need it."""
        if self.tokenizer is None:
            return corpus
        return corpus.with_text([self.tokenizer.decode(corpus.doc(i)) for i in range(len(corpus))])


def prepare(config: Config, rd: RunDir, environment: dict) -> None:
    """First start: draw the real data once and write everything the run depends on."""
    data = load_source(config)
    with disk_errors("the run's real documents"):
        (rd.path / "docs").mkdir(parents=True, exist_ok=True)
        write_corpus(data.train, rd.path / "docs" / "real-train.parquet")
        write_corpus(data.held_out, rd.path / "docs" / "real-heldout.parquet")
        if data.tokenizer is not None:
            data.tokenizer.save(rd.path / "tokenizer.json")
        (rd.path / "config.yaml").write_text(to_yaml(config))
        rd.write_identity(__version__, environment)  # written last: its presence marks a complete setup


def build(config: Config, rd: RunDir) -> Experiment:
    """The run's components, from its config and what prepare wrote."""
    tokenizer_path = rd.path / "tokenizer.json"
    gates = build_gates(config.filters)
    return Experiment(
        config=config,
        real=read_corpus(rd.path / "docs" / "real-train.parquet"),
        held_out=read_corpus(rd.path / "docs" / "real-heldout.parquet"),
        tokenizer=load_tokenizer(tokenizer_path) if tokenizer_path.is_file() else None,
        source=new_source(config),
        paradigm=PARADIGMS.get(config.paradigm.name)(config.paradigm, pool_weighting=gates.pool_weighting),
        sampler=Sampler(**config.sampler.model_dump()),
        gates=gates,
    )
