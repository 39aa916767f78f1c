"""Base models for the fine-tuning regime (`model.init: base`): `lmcollapse pretrain CONFIG --out DIR` trains
a neural model once on the corpus's real text that no run of that config ever sees (for a text corpus, the
documents left over once R, E, the probe and the reservoir are cut), and every generation of a run with
`model.init: base, model.base: FOLDER` then fine-tunes that base on its D_t: Shumailov et al.'s setup
(a pretrained model fine-tuned on each generation's data) in miniature.

The base's folder is named after the hash of what it depends on (the corpus and tokenizer sections and the
seed, which fix R and so the tokenizer and the leftover text, and the model section it was trained with),
so `pretrain` on the same config finds and reuses it. `model.base` names a base's folder, or a folder of
bases (pretrain's --out): then each run takes the base of its own config there, and the first run that finds
it missing pretrains it (so a study with several seeds trains one base per seed, once). BASE_RECORD in the
folder says what it was trained on, and a run refuses a base pretrained for another corpus, tokenizer, seed or architecture: its token ids
or its weights would not fit, or its text could overlap R and E."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np

from lmcollapse import seeding
from lmcollapse.config import Config
from lmcollapse.errors import LmcollapseError
from lmcollapse.models import MODELS, LanguageModel
from lmcollapse.models.base import Capability
from lmcollapse.running.progress import LOG_EVERY
from lmcollapse.running.rundir import atomic_write_text
from lmcollapse.sources.base import SourceData
from lmcollapse.version import __version__

BASE_RECORD = "pretrain.json"  # in a base's folder: what it was trained on, and its held-out loss
MODEL_FOLDER = "model"  # in a base's folder: the saved model
# The model keys that only say how a run trains, not what network it builds: a base fits any run whose
# other model keys equal its own.
TRAINING_KEYS = frozenset({"init", "base", "base_documents", "warm_start", "epochs", "validation", "patience",
                           "max_epochs", "lr", "batch_size", "weight_decay", "dropout", "device", "precision",
                           "batch_memory_gb"})  # and the loss's keys (NeuralConfig.plain_loss)
# Model keys newer than the first bases: a base's identity holds one only when it is away from its default,
# so that a base pretrained before the key existed keeps its folder and still fits (it trained at the default).
LATER_KEYS = frozenset({"eos_loss"})


def _not_network(config: Config) -> frozenset:
    """The model keys a base may differ in from a run that fine-tunes it: how it trains, and its loss."""
    return TRAINING_KEYS | set(config.model.plain_loss())


def _model_identity(config: Config, exclude: frozenset = frozenset()) -> dict:
    """The model section as a base's identity holds it: its keys but exclude, LATER_KEYS only off their default."""
    fields = type(config.model).model_fields
    return {k: v for k, v in config.model.model_dump(exclude=set(exclude)).items()
            if k not in LATER_KEYS or v != fields[k].default}


def _network(config: Config) -> dict:
    return {k: v for k, v in _model_identity(config).items() if k not in _not_network(config)}


def _depends_on(config: Config, documents: int | None = None) -> dict:
    """What a base model depends on: the data that fixes R, the tokenizer and the leftover text, and the
    model section it is trained with (and how many leftover documents, when not all)."""
    return {"corpus": config.corpus.model_dump(), "tokenizer": config.tokenizer.model_dump(), "seed": config.seed,
            "probe": config.probe.model_dump(), "documents": documents,
            "model": _model_identity(config, frozenset({"init", "base", "base_documents", "warm_start"}))}


def base_folder(config: Config, out: str | Path, documents: int | None = None) -> Path:
    what = json.dumps(_depends_on(config, documents), sort_keys=True, default=str)
    return Path(out) / f"base-{hashlib.sha256(what.encode()).hexdigest()[:12]}"


def pretrain(config: Config, out: str | Path, load_data: Callable[[], SourceData], documents: int | None = None,
             progress=print) -> Path:
    """Train the base model of config on its leftover real text (all of it, or the first `documents` in the
    source's fixed order) into out/base-<hash>, or find it there; returns the folder (what model.base names).
    load_data: config's R, E and leftover text (parts.load_source)."""
    model_class = MODELS.get(config.model.name)
    if Capability.WARM_START not in model_class.capabilities:
        raise LmcollapseError(f"pretrain: model {config.model.name!r} does not start from another model's weights; "
                              f"pretrain a neural model (model.name=gpt or hf)")
    folder = base_folder(config, out, documents)
    if is_base(folder):
        progress(f"[lmcollapse] base model found: {folder} (the same config was pretrained before)")
        return folder
    data = load_data()
    if data.leftover is None:
        raise LmcollapseError(f"pretrain: corpus {config.corpus.name!r} has no text left over from R and E to "
                              f"pretrain on; use a text corpus (kjv, tinystories, files)")
    text = data.leftover()
    if documents is not None:
        text = text.take(np.arange(min(documents, len(text))))
    if len(text) == 0:
        raise LmcollapseError(f"pretrain: corpus {config.corpus.name!r} has no documents left over once R, E, the "
                              f"probe and the reservoir are cut; lower corpus.n_train, n_eval or n_reservoir")
    progress(f"[lmcollapse] pretraining a base model on {len(text)} documents ({text.n_tokens:,} tokens) that no "
             f"run of this config sees")
    start = time.process_time()
    model = MODELS.build(config.model).fit(text, seed=seeding.derived_seed(config.seed, seeding.SETUP, "pretrain"),
                                           progress=step_lines(progress, config.model.epochs == "auto"))
    seconds = time.process_time() - start
    _, logp = model.token_log_probs(data.held_out)
    partial = folder.with_name(f"{folder.name}-{os.getpid()}.unfinished")  # two runs may pretrain one base at once
    model.save(partial / MODEL_FOLDER)
    record = {"depends_on": _depends_on(config, documents), "documents": len(text), "tokens": int(text.n_tokens),
              "heldout_nll": float(-logp.mean()), "process_seconds": seconds, "lmcollapse": __version__,
              "fit": None if getattr(model, "fit_record_", None) is None else
              {"epochs_run": model.fit_record_.epochs_run, "train_loss": model.fit_record_.train_loss,
               "validation_loss": model.fit_record_.validation_loss}}
    atomic_write_text(partial / BASE_RECORD, json.dumps(record, indent=1, default=str))
    try:
        partial.rename(folder)  # all of it or nothing: a killed pretraining leaves only an .unfinished folder
    except OSError:  # another process finished the same base first: the same training, so keep theirs
        if not is_base(folder):
            raise
        shutil.rmtree(partial, ignore_errors=True)
    progress(f"[lmcollapse] base model: {folder} (held-out loss {record['heldout_nll']:.3f} nats per token, "
             f"{seconds:.0f} process-s); use it with --set model.init=base --set model.base={folder}")
    return folder


def step_lines(progress: Callable[[str], None], early_stop: bool, every: float | None = None):
    """fit's progress callback for a pretraining: a line through progress at most every `every` seconds
    (LOG_EVERY by default). A base takes 10 to 20 minutes on 2 cores, and a study shows nothing else while it
    trains. early_stop: epochs auto, whose step count is a ceiling."""
    started = last = time.monotonic()

    def report(stage: str, done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= (LOG_EVERY if every is None else every) and done < total:
            last = now
            ceiling = "at most " if early_stop else ""
            progress(f"[lmcollapse] pretraining: {done:,} of {ceiling}{total:,} training steps done "
                     f"({(now - started) / 60:.1f} min)")
    return report


def is_base(folder: Path) -> bool:
    return (folder / BASE_RECORD).is_file()


def as_pretrained(config: Config) -> Config:
    """The config a run's base is pretrained with: the run's, its model trained from scratch with plain
    cross-entropy. A learner-side mitigation (model.loss: tce) acts in the fine-tuning only, so that its rows
    and the rows without it fine-tune the same base."""
    return config.model_copy(update={"model": config.model.model_copy(
        update={"init": "scratch", "base": None, "base_documents": None, "warm_start": False,
                **config.model.plain_loss()})})


def resolve_base(config: Config) -> tuple[Path, bool]:
    """(the folder of this run's base, whether it exists): model.base itself when it is a base, else the
    base of this config inside the folder of bases model.base names."""
    named = Path(config.model.base)
    if is_base(named):
        return named, True
    folder = base_folder(as_pretrained(config), named, config.model.base_documents)
    return folder, is_base(folder)


def ensure_base(config: Config, load_data: Callable[[], SourceData], progress=print) -> None:
    """Before a run with init: base starts: pretrain its base into the folder of bases if it is not there.
    Runs of one study that need the same base (one seed, several policies) wait for each other on a lock,
    so that it is trained once."""
    if getattr(config.model, "checkpoint", None) is not None:
        return  # a transformers checkpoint (hf): trained elsewhere, loaded as the network itself
    folder, exists = resolve_base(config)
    if not exists:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.parent / f"{folder.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when the process dies
            if not is_base(folder):
                pretrain(as_pretrained(config), folder.parent, load_data, config.model.base_documents,
                         progress=progress)
    check_base(config)


def check_base(config: Config) -> None:
    """Refuse, in one line, a model.base that is not a base model pretrained for this config's data and
    network (a folder of bases that lacks this run's base passes: the run pretrains it when it starts)."""
    named = Path(config.model.base)
    if getattr(config.model, "checkpoint", None) is not None:
        return  # a transformers checkpoint for the hf backend: its loader checks its ids and positions
    if (named / "config.json").is_file() and not is_base(named):
        raise LmcollapseError(f"model.base {named} is a transformers checkpoint: it fits model.name=hf (with "
                              f"tokenizer.name=pretrained and tokenizer.path={named})")
    folder, exists = resolve_base(config)
    if not exists:
        if named.exists() and not named.is_dir():
            raise LmcollapseError(f"model.base {named}: not a folder; name a base model's folder or a folder of "
                                  f"bases (`lmcollapse pretrain CONFIG --out DIR` writes both)")
        if named.name.startswith("base-"):  # meant as one base (pretrain names them so): a typo, or never written
            raise LmcollapseError(f"model.base {named}: no base model there (no {BASE_RECORD}); check the path, or "
                                  f"name the folder of bases it is in")
        return
    record_path = folder / BASE_RECORD
    try:
        depends_on = json.loads(record_path.read_text())["depends_on"]
    except (ValueError, KeyError) as exc:
        raise LmcollapseError(f"model.base {folder}: its {BASE_RECORD} is damaged ({exc}); pretrain it again") from None
    mine = json.loads(json.dumps(_depends_on(config), default=str))
    for key in ("corpus", "tokenizer", "seed", "probe"):
        if depends_on.get(key) != mine[key]:
            raise LmcollapseError(f"model.base {folder}: pretrained for another {key} than this run's (its text could "
                                  f"overlap R and E, its token ids differ); pretrain with this run's config")
    theirs = {k: v for k, v in depends_on["model"].items() if k not in _not_network(config)}
    if theirs != json.loads(json.dumps(_network(config), default=str)):
        raise LmcollapseError(f"model.base {folder}: its network ({theirs}) is not this run's; pretrain with this "
                              f"run's model section")


def load_base(config: Config) -> LanguageModel:
    """The base model a run with init: base fine-tunes every generation."""
    folder, exists = resolve_base(config)
    if not exists:
        raise LmcollapseError(f"model.base: no base model at {folder}; pretrain it with `lmcollapse pretrain CONFIG "
                              f"--out {config.model.base}`")
    return MODELS.get(config.model.name).load(folder / MODEL_FOLDER)
