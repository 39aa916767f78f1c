"""The benchmark scripts that no other test runs: their paths work where CI runs (no GPU)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow  # the TinyStories-1M sizes on the CPU, tiny: about 70 s on 2 cores
def test_the_cuda_check_runs_its_whole_path_on_the_cpu_with_dry_run():
    """benchmarks/cuda_check.sh is for a machine with a GPU; --dry-run is the same path (KJV stories in
    TinyStories' format, the paper's preset, two generations) at toy size on the CPU."""
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "cuda_check.sh"), "--dry-run"], capture_output=True,
                          text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("CPU ") and "torch" in lines[0]
    assert any(line.startswith("model: tinystories-1m sizes") and "attention" in line for line in lines)
    generations = [line for line in lines if line.startswith("generation ")]
    assert len(generations) == 2 and all("training" in g and "tokens/s" in g and "held-out perplexity" in g
                                         for g in generations)
    assert lines[-1].startswith("peak GPU memory") and "for 2 generations" in lines[-1]


def test_without_a_gpu_the_cuda_check_says_so_in_one_line():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "cuda_check.sh")], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode != 0 and done.stderr.strip().splitlines()[-1].startswith("cuda_check: no CUDA device here")
