"""Where and in what precision a neural model computes: torch itself (imported lazily, so the count-model
path never loads it), and the bfloat16 policy of `precision: auto`."""
from __future__ import annotations

from pathlib import Path

from lmcollapse.extras import require


def _torch():
    require(["torch"], "a neural model")
    import torch

    return torch


# From benchmarks/gpt_precision.py on this project's machine (an AMD EPYC with AVX-512 BF16, no AMX): bfloat16
# autocast trains a 4-layer GPT of width 128 about 1.4x and one of width 256 1.7x to 1.9x faster than float32.
# At width 64 the casts eat most of the gain (1.0x to 1.6x from run to run), and float32 there keeps the
# default gpt's documented numbers from moving on noisy runs.
BF16_MIN_WIDTH = 128


def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX or AVX-512 BF16; Linux's cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_description() -> str:
    """The CPU's model name and which bfloat16 matrix units it has (what every benchmark prints): with AMX
    (Intel) a bfloat16 matmul runs several times faster than float32; with AVX-512 BF16 alone (as on AMD
    EPYC) the arithmetic peak is about twice float32's (an instruction does two multiply-adds per float32
    lane where an FMA does one); with neither (AVX2 only) bfloat16 is emulated and slower."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU unknown (no /proc/cpuinfo)"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    units = [unit for unit in ("amx_bf16", "avx512_bf16") if unit in info]
    return f"CPU {model}, bfloat16 units: {', '.join(units) or 'none'}"


def bf16_pays(device, width: int | None) -> bool:
    """What `precision: auto` trains in bfloat16: always on CUDA; on a CPU with bfloat16 matrix units, a
    model at least BF16_MIN_WIDTH wide."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and width is not None and width >= BF16_MIN_WIDTH and cpu_has_bf16_units()
