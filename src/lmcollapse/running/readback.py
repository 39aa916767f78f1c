"""Reading committed generations back from a run directory: the stored config, the training state of any
generation, and any generation's model. Used by resume (running/loop.py) and by the Run API (api.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from lmcollapse import seeding
from lmcollapse.config import Config, drop_inapplicable_keys, load_yaml, validate
from lmcollapse.corpora.corpus import ID_BIRTH_SHIFT, Corpus
from lmcollapse.corpora.parquet import read_column, read_corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import Experiment, new_model
from lmcollapse.models import MODELS, LanguageModel
from lmcollapse.paradigms import DataState
from lmcollapse.running.rundir import GenerationFiles, RunDir


def stored_config(run_dir: str | Path) -> Config:
    """The config a run directory was started with. Directories written before the config sections became
    per-component (lmcollapse 0.2) hold every model and corpus key; the ones that do not apply to the
    chosen components, which those versions ignored, are dropped. It is parsed, not checked: it was checked
    when the run started, and a command that runs it again checks it once (load_config)."""
    path = RunDir(run_dir).config_file
    try:
        data = load_yaml(path.read_text(errors="replace"))
    except OSError:
        raise LmcollapseError(f"{run_dir} has no config.yaml; is it an lmcollapse run directory?") from None
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        raise LmcollapseError(f"{path} is damaged (it holds no config); restore it from a copy of the config the run "
                              f"was started with, or start a new --out")
    return validate(drop_inapplicable_keys(data))


def kept_mask(path: Path) -> np.ndarray:
    """Which of a generation's drawn documents (its samples file) entered the data."""
    return read_column(path, "kept").astype(bool)


def kept_samples(files: GenerationFiles) -> Corpus:
    """K_t: the documents of generation t that passed the gates."""
    return read_corpus(files.samples).take(np.flatnonzero(kept_mask(files.samples)))


def document_store(experiment: Experiment, rd: RunDir, upto: int, births: set[int] | None = None) -> Corpus:
    """Every document that could be in a training set of generations <= upto; with births, only the
    documents born at those generations (generation g's files hold documents born at g + 1: its kept samples
    and the fresh real documents it drew), so that a run resumed after thousands of generations of `replace`
    reads one generation's files, not all of them."""
    parts = [experiment.real]
    for g in range(upto):
        if births is not None and g + 1 not in births:
            continue
        files = rd.generation(g)
        parts.append(kept_samples(files))
        if files.fresh.is_file():
            parts.append(read_corpus(files.fresh))
    return Corpus.concat(parts)


def training_state(experiment: Experiment, rd: RunDir, t: int) -> DataState:
    """D_t and its pool, rebuilt from ids and the stored documents of the generations they were born at."""
    files = rd.generation(t)
    train_ids, pool_ids = files.read_ids("train"), files.read_ids("pool")
    ids = train_ids if pool_ids is None else np.concatenate([train_ids, pool_ids])
    store = document_store(experiment, rd, t, births=set((np.unique(ids) >> ID_BIRTH_SHIFT).tolist()))
    train = store.select_ids(train_ids)
    return DataState(train, train if pool_ids is None else store.select_ids(pool_ids))


def restore_state(experiment: Experiment, rd: RunDir, done: int) -> DataState:
    """The state entering generation `done`: replay the last committed paradigm step (deterministic)."""
    t = done - 1
    state = training_state(experiment, rd, t)
    return experiment.paradigm.next_state(state, kept_samples(rd.generation(t)), experiment.real,
                                          seeding.rng(experiment.config.seed, t, "paradigm"),
                                          experiment.fresh_supply(), t + 1)


def model_of_generation(config: Config, rd: RunDir, t: int, train: Callable[[], Corpus] | None) -> LanguageModel:
    """Generation t's committed model: loaded when saved, else refitted exactly on its training set D_t
    (train(), same stage seed)."""
    saved = rd.generation(t).model
    if saved.is_dir():
        return MODELS.get(config.model.name).load(saved)
    if (config.warm_start and t > 0) or train is None:
        raise LmcollapseError(f"{rd.generation(t).path} holds no saved model, and a warm-started model cannot be refitted "
                              f"without its predecessors; rerun the experiment with save_models: true")
    return new_model(config, t).fit(train(), seed=seeding.derived_seed(config.seed, t, "fit"),
                                 init=starting_weights(config, t))


def starting_weights(config: Config, t: int) -> LanguageModel | None:
    """The model generation t's fit starts from where that does not depend on the run's earlier generations:
    the base model under init: base (loaded afresh: fitting never changes the model it starts from), else none."""
    if config.init != "base" or getattr(config.model, "checkpoint", None) is not None:
        return None  # a transformers checkpoint: the network is built from it (models/hf.py)
    from lmcollapse.running.base_model import load_base

    return load_base(config)
