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


# oneDNN, which multiplies PyTorch's bfloat16 matrices on a CPU, uses no instruction above ONEDNN_MAX_CPU_ISA:
# these caps still allow AVX-512 BF16 (the AMX ones, and ALL, allow AMX too); any other cap (AVX2,
# AVX512_CORE, ...) leaves bfloat16 emulated, slower than float32, whatever the CPU has.
BF16_ISA_CAPS = ("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
                 "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "ALL")


def isa_cap() -> str | None:
    """The instruction-set cap oneDNN obeys (ONEDNN_MAX_CPU_ISA, or its old name DNNL_MAX_CPU_ISA), if set."""
    import os

    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return cap.strip().upper() if cap and cap.strip() else None


def bf16_units() -> list[str]:
    """The bfloat16 matrix units (amx_bf16, avx512_bf16) this CPU has (Linux's cpuinfo) and oneDNN may use
    under isa_cap()."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    units = [unit for unit in ("amx_bf16", "avx512_bf16") if unit in flags]
    cap = isa_cap()
    if cap is not None and cap not in BF16_ISA_CAPS:
        return []
    if cap is not None and cap != "ALL" and "AMX" not in cap:
        units = [unit for unit in units if unit != "amx_bf16"]
    return units


def cpu_has_bf16_units() -> bool:
    """Whether bfloat16 matrices are multiplied in hardware here (AMX or AVX-512 BF16, not capped away)."""
    return bool(bf16_units())


def cpu_description() -> str:
    """The CPU's model name and which bfloat16 matrix units it has (what every benchmark prints): with AMX
    (Intel) a bfloat16 matmul runs several times faster than float32; with AVX-512 BF16 alone (as on AMD
    EPYC) the arithmetic peak is about twice float32's (an instruction does two multiply-adds per float32
    lane where an FMA does one); with neither (AVX2 only, or an ISA cap below them) bfloat16 is emulated and
    slower, and `precision: auto` trains in float32."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU unknown (no /proc/cpuinfo)"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    present = [unit for unit in ("amx_bf16", "avx512_bf16") if unit in info]
    usable = bf16_units()
    capped = [unit for unit in present if unit not in usable]
    note = f" (ONEDNN_MAX_CPU_ISA={isa_cap()} leaves out {', '.join(capped)})" if capped else ""
    bound = ("bfloat16 matmuls several times float32's (AMX)" if "amx_bf16" in usable else
             "bfloat16 matmuls up to about 2x float32's" if usable else "no bfloat16 gain: precision auto is fp32")
    return f"CPU {model}, bfloat16 units: {', '.join(usable) or 'none'}{note}; bound: {bound}"


def bf16_pays(device, width: int | None) -> bool:
    """What `precision: auto` trains in bfloat16: always on CUDA; on a CPU with bfloat16 matrix units, a
    model at least BF16_MIN_WIDTH wide."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and width is not None and width >= BF16_MIN_WIDTH and cpu_has_bf16_units()
