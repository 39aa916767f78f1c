"""From a config to the parts of a run (torchtune's recipe setup: every component built from its config
section, then run). Each section's own keys and values were checked by config.py; here the chosen
components are checked against each other (a probe needs hidden states, a verifier a known truth, fresh a
supply of new real documents), and each is built through its registry (Registry.build).

    load_config(source, overrides)  parse + check: every problem is one line before anything runs
    prepare(config, run_dir)        first start: draw the real data once and write what the run depends on
    build(config, run_dir)          the Experiment: components built from the config and the run directory
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lmcollapse.config import Config, parse_config
from lmcollapse.corpora.corpus import REAL, Corpus, FreshSupply, real_first_id
from lmcollapse.corpora.parquet import read_corpus, write_corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.extras import modules_of_extra, require
from lmcollapse.gates import GATES, GateSet, PoolWeighting, Producer, build_gates
from lmcollapse.metrics import METRICS
from lmcollapse.models import MODELS, Capability, LanguageModel
from lmcollapse.paradigms import PARADIGMS, Paradigm
from lmcollapse.probes.split import ProbeSplit
from lmcollapse.probes.tasks import TASK_CORPUS
from lmcollapse.running.rundir import RunDir, disk_errors
from lmcollapse.models.decoding import Sampler
from lmcollapse.sources import SOURCES, Source, SourceData
from lmcollapse.sources.text import TextCorpusConfig, TextSource
from lmcollapse.tokenizers import TOKENIZERS, Tokenizer, load_tokenizer
from lmcollapse.version import __version__


def load_config(source: "str | Path | Mapping | Config | None" = None,
                overrides: Sequence[str] | Mapping[str, Any] | None = None, for_pretraining: bool = False) -> Config:
    """A Config from a path, a dict, a Config or None (the built-in demo), plus overrides, whose
    components exist and fit together; any problem is an LmcollapseError of one line. for_pretraining: the
    config as `lmcollapse pretrain` trains its base with, from scratch (a model.base it names need not exist
    yet)."""
    config = parse_config(source, overrides)
    if for_pretraining and "init" in type(config.model).model_fields:
        from lmcollapse.running.base_model import as_pretrained

        config = as_pretrained(config)
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
    if config.init != "scratch" and Capability.WARM_START not in model_class.capabilities:
        raise LmcollapseError(f"model.init: model {config.model.name!r} cannot start from another model's weights; "
                              f"init previous and base apply to {models_with(Capability.WARM_START)}")
    if config.warm_start and not config.save_models:
        raise LmcollapseError("model.init: previous needs save_models: true (a resumed run starts from the saved "
                              "weights of the generation before)")
    if config.init == "base":
        from lmcollapse.running.base_model import check_base

        check_base(config)
    PARADIGMS.build(config.paradigm).check_counts(config.corpus.n_train)
    if paradigm_class.needs_fresh_real:
        _check_fresh_supply(config, source_class)
    if config.probe.task is not None:
        _check_probe(config, model_class)
    from lmcollapse.trackers import (
        TRACKERS)  # a tracker's library is only needed (and only warned about) when the run starts

    for name in config.trackers:
        if name not in TRACKERS:
            raise LmcollapseError(f"trackers: unknown tracker {name!r}; choose one of: {', '.join(TRACKERS.names())}")
    for name in config.metrics or []:
        if name not in METRICS:
            raise LmcollapseError(f"metrics: unknown metric {name!r}; choose from: {', '.join(METRICS.names())}")
    for what, modules in optional_modules(config):  # after the cheaper checks: a config wrong in two ways
        require(modules, what)                       # names its own mistake first
    producers = 0
    for index, section in enumerate(config.gates):  # each section's keys and values: checked by config.py
        gate_class = GATES.get(section.name)
        if gate_class.truth_needed(section) and not source_class.has_truth:
            raise LmcollapseError(f"gates[{index}] ({section.name}) needs a known-truth corpus (categorical or "
                                  f"markov); corpus.name={config.corpus.name} has no true source to verify against")
        if issubclass(gate_class, PoolWeighting) and not paradigm_class.subsamples_pool:
            raise LmcollapseError(f"gates[{index}] ({section.name}) changes how a paradigm subsamples its pool; use "
                                  f"accumulate-subsample or fresh, not {config.paradigm.name}")
        capability = gate_class.model_needs(section)
        if capability is not None and capability not in model_class.capabilities:
            raise LmcollapseError(f"gates[{index}] ({section.name}): this setting needs a model with "
                                  f"{capability.value} ({models_with(capability)}), not {config.model.name}")
        producers += issubclass(gate_class, Producer)
    if producers > 1:
        raise LmcollapseError("gates: at most one producing gate (token-edit, detector-resample) per run")


def optional_modules(config: Config) -> list[tuple[str, list[str]]]:
    """(what needs them, modules) for each optional library the config's components and metrics import, as
    the components declare it (NeedsModules) and the metrics (an `extra:NAME` need)."""
    sections = [("model", MODELS, config.model), ("corpus", SOURCES, config.corpus)]
    sections += [("gates", GATES, g) for g in config.gates]
    out = []
    for key, registry, section in sections:
        modules = registry.get(section.name).modules_needed(section)
        if modules:
            out.append((f"{key}: {section.name}" if key == "gates" else f"{key}.name={section.name}", list(modules)))
    for name in config.metrics or []:
        spec = METRICS.get(name)
        extras = [need.removeprefix("extra:") for need in spec.needs if need.startswith("extra:")]
        modules = [m for extra in extras for m in modules_of_extra(extra)]
        if modules:
            out.append((f"metrics: {name}", modules))
    return out


def preflight(config: Config) -> None:
    """What can be checked only by reading the corpus (it has as many documents as asked for), without
    running anything: validate, sweep --dry-run and reproduce --dry-run add it to load_config's checks."""
    source = new_source(config)
    if isinstance(source, TextSource) and source.on_disk:
        source.check_size()  # a hub's corpus is not downloaded to be counted


def _check_fresh_supply(config: Config, source_class: type[Source]) -> None:
    """`fresh` needs a source of new real documents: a known truth, or a reservoir held back from a text corpus
    that lasts the whole run."""
    if source_class.can_make_fresh:
        return
    reservoir = config.corpus.n_reservoir if isinstance(config.corpus, TextCorpusConfig) else 0
    per_generation = int(round(config.paradigm.fresh_fraction * config.corpus.n_train))
    needed = per_generation * config.generations
    if reservoir == 0:
        raise LmcollapseError(f"paradigm fresh needs a corpus that can produce new real documents: {config.corpus.name} "
                              f"is a finite set, so hold "
                              f"some back with corpus.n_reservoir (this run needs {needed}: {per_generation} per "
                              f"generation x {config.generations}), or use a known-truth corpus (categorical, markov)")
    if reservoir < needed:
        raise LmcollapseError(f"corpus.n_reservoir = {reservoir} would run out: paradigm fresh takes {per_generation} "
                              f"new real documents per generation, {needed} over {config.generations} generations; "
                              f"raise corpus.n_reservoir to {needed} or lower paradigm.fresh_fraction")


def models_with(capability: Capability) -> str:
    """The registered models that declare a capability, for the message refusing one that does not."""
    return ", ".join(name for name in MODELS.names() if capability in MODELS.get(name).capabilities)


def _check_probe(config: Config, model_class: type[LanguageModel]) -> None:
    """The probe needs a model with hidden states and a corpus whose documents its task can label."""
    task = config.probe.task
    if Capability.HIDDEN_STATES not in model_class.capabilities:
        raise LmcollapseError(f"probe.task: model {config.model.name!r} has no hidden states to fine-tune or probe; "
                              f"the downstream probe applies to {models_with(Capability.HIDDEN_STATES)}")
    if TASK_CORPUS[task] != config.corpus.name:
        raise LmcollapseError(f"probe.task {task} labels documents of corpus {TASK_CORPUS[task]}, not "
                              f"{config.corpus.name}; set corpus.name={TASK_CORPUS[task]} or another task")
    if task == "files-label" and config.probe.label_field is None:
        path = Path(config.corpus.path or "").expanduser()
        if not path.is_dir():
            raise LmcollapseError(f"probe.task files-label needs labels: corpus.path must be a folder (the class is "
                                  f"the file a document came from) or a .jsonl/parquet with probe.label_field set; "
                                  f"{config.corpus.path} is neither")
    elif task == "files-label":
        _check_label_field(Path(config.corpus.path or "").expanduser(), config.probe.label_field)


def _check_label_field(path: Path, field: str) -> None:
    """A .jsonl whose first row has no `field` cannot be labelled (the rest is checked when it is read)."""
    if path.suffix == ".jsonl" and path.is_file():
        with open(path, encoding="utf-8", errors="replace") as fh:
            first = next((line for line in fh if line.strip()), "")
        try:
            row = json.loads(first)
        except json.JSONDecodeError:
            return  # reading the corpus will say which line is broken
        if isinstance(row, dict) and field not in row:
            raise LmcollapseError(f"probe.label_field {field!r}: {path} has no such field (its first row has "
                                  f"{', '.join(sorted(row))})")


def new_model(config: Config, generation: int | None = None, **calibrated) -> LanguageModel:
    """A fresh, unfitted model of the configured backend, for a generation, with the parameters the run
    calibrated (running/loop.py: RunState.model_parameters). A calibrated tce (model.tce_masked_share)
    trains generation 0 with plain cross-entropy: the rule is applied to M_0, which every row of a seed
    shares."""
    section = config.model
    if generation == 0 and getattr(section, "tce_masked_share", None) is not None:
        calibrated = section.plain_loss()
    return MODELS.build(section.model_copy(update=calibrated)) if calibrated else MODELS.build(section)


def new_source(config: Config) -> Source:
    return SOURCES.build(config.corpus, seed=config.seed, probe=config.probe)


def new_tokenizer(config: Config) -> Tokenizer:
    return TOKENIZERS.build(config.tokenizer)


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
    probe: ProbeSplit | None = None  # the probe's labelled documents, when probe.task is set
    reservoir: Corpus | None = None  # real documents held back for `fresh` (text corpora)

    @property
    def truth(self):
        return self.source.truth

    def new_model(self, generation: int | None = None, **calibrated) -> LanguageModel:
        return new_model(self.config, generation, **calibrated)

    def fresh_supply(self) -> FreshSupply | None:
        if self.reservoir is not None:
            return ReservoirSupply(self.reservoir)
        return self.source.fresh if self.source.can_make_fresh else None

    def decode(self, corpus: Corpus) -> Corpus:
        """corpus with its text (text corpora), as the gates and the stored samples need it."""
        if self.tokenizer is None:
            return corpus
        return corpus.with_text([self.tokenizer.decode(corpus.doc(i)) for i in range(len(corpus))])


class ReservoirSupply:
    """New real documents for `fresh` on a text corpus: generation g takes the g-th block of n documents of
    the reservoir, in its stored order (so a resumed run takes the same ones), with new ids and birth g."""

    def __init__(self, reservoir: Corpus):
        self.reservoir = reservoir

    def __call__(self, n: int, generation: int) -> Corpus:
        lo, hi = (generation - 1) * n, generation * n
        if hi > len(self.reservoir):
            raise LmcollapseError(f"the reservoir of {len(self.reservoir)} real documents is exhausted at generation "
                                  f"{generation}; raise corpus.n_reservoir")
        block = self.reservoir.take(np.arange(lo, hi))  # n >= 1: the paradigm refuses a count that rounds to 0
        return Corpus.from_flat(block.tokens, block.lengths, vocab_size=block.vocab_size, eos_id=block.eos_id,
                                origin=REAL, generation=generation, producer=str(block.producer[0]),
                                seed=int(block.seed[0]), first_id=real_first_id(generation), text=block.text)


def prepare(config: Config, rd: RunDir, environment: dict) -> None:
    """First start: draw the real data once and write everything the run depends on (and, under init: base
    with a folder of bases that lacks this run's base, pretrain it there)."""
    data = load_source(config)
    if config.init == "base":
        from lmcollapse.running.base_model import ensure_base

        ensure_base(config, lambda: data, progress=lambda line: print(line, file=sys.stderr))
    with disk_errors(f"the real documents of {rd.path}"):
        rd.docs.mkdir(parents=True, exist_ok=True)
        write_corpus(data.train, rd.real_train_file)
        write_corpus(data.held_out, rd.held_out_file)
        if data.tokenizer is not None:
            data.tokenizer.save(rd.tokenizer_file)
        if data.probe is not None:
            data.probe.write(rd)
        if data.reservoir is not None:
            write_corpus(data.reservoir, rd.reservoir_file)
        rd.write_config(config)
        rd.write_identity(__version__, environment)  # written last: its presence marks a complete setup


def build(config: Config, rd: RunDir) -> Experiment:
    """The run's components, from its config and what prepare wrote."""
    gates = build_gates(config.gates)
    return Experiment(
        config=config,
        real=read_corpus(rd.real_train_file),
        held_out=read_corpus(rd.held_out_file),
        tokenizer=load_tokenizer(rd.tokenizer_file) if rd.tokenizer_file.is_file() else None,
        source=new_source(config),
        paradigm=PARADIGMS.build(config.paradigm, pool_weighting=gates.pool_weighting),
        sampler=Sampler(config.sampler),
        gates=gates,
        probe=ProbeSplit.read(rd),
        reservoir=read_corpus(rd.reservoir_file) if rd.reservoir_file.is_file() else None,
    )
