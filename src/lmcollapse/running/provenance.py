"""What produced a result (msprime's provenance idea): the software, its versions and the machine, written
into run.json when a run starts and into every generation's manifest.json (a resumed run may have moved
to another machine or library version, and neural results depend on both)."""
from __future__ import annotations

import functools
import platform
import sys
from importlib import metadata

#: Libraries whose versions can change a result; absent ones are recorded as null.
LIBRARIES = ("numpy", "pyarrow", "pydantic", "tokenizers", "torch", "transformers")


@functools.lru_cache(maxsize=1)
def _library_versions() -> tuple[tuple[str, str | None], ...]:
    # Read once per process: a package lookup parses metadata files (about 2 ms each), which a sweep of
    # thousands of small runs in one worker would otherwise pay every run.
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return tuple(versions.items())


def library_versions() -> dict[str, str | None]:
    return dict(_library_versions())


@functools.lru_cache(maxsize=1)
def _machine() -> tuple[str, str, str, str]:
    return sys.version.split()[0], platform.python_implementation(), platform.platform(), platform.machine()


def environment(device: str) -> dict:
    """The environment of this process; device: where the models compute ("cpu", "cuda: NAME", ...)."""
    python, implementation, system, machine = _machine()
    return {"python": python, "implementation": implementation, "platform": system, "machine": machine,
            "device": device, "libraries": library_versions()}


def torch_device(requested: str) -> str:
    """The device a neural model asking for `requested` ("auto", "cpu", "cuda", "cuda:1") computes on, with
    the GPU's name; torch is imported only here, for neural runs."""
    import torch

    device = torch.device("cuda" if requested == "auto" and torch.cuda.is_available() else
                          ("cpu" if requested == "auto" else requested))
    if device.type == "cuda" and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda})"
    return str(device)
