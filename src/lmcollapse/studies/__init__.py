"""Named experiments that `lmcollapse reproduce NAME` runs end to end (specs: studies/NAME.yaml)."""
from __future__ import annotations

from pathlib import Path

import yaml

from lmcollapse.errors import LmcollapseError

SPEC_DIR = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def load_spec(name_or_path: str) -> dict:
    path = Path(name_or_path)
    if not path.suffix:
        path = SPEC_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise LmcollapseError(f"unknown experiment {name_or_path!r}; choose one of: {', '.join(available())} "
                              f"(or give a spec file)")
    return yaml.safe_load(path.read_text())


from lmcollapse.studies import direction, mitigations, paper, quality  # noqa: E402,F401 - each registers its study in STUDIES
