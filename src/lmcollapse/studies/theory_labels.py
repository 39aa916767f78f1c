"""How a theory-check case names itself in rows and in folder names."""
from __future__ import annotations


def paradigm_label(paradigm: str, rate: float, real_fraction: float) -> str:
    """A case's paradigm with the parameter that matters for it: "mix rho=0.5", "accumulate r=0.1"."""
    extra = {"mix": f" rho={real_fraction}", "accumulate": f" r={rate}", "accumulate-subsample": f" r={rate}",
             "fresh": f" r={rate}"}.get(paradigm, "")
    return paradigm + extra


def slug_of(label: str) -> str:
    """A case label as a folder name."""
    return "".join(c if c.isalnum() or c in ".-" else "-" for c in label)
