"""What several test modules share: the CLI in a subprocess, and nested results compared to a tolerance."""
import math
import subprocess
import sys


def cli(*args, cwd=None, timeout=600):
    """`lmcollapse ARGS` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lmcollapse.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def same_numbers(got, want, rel=1e-9, path="") -> list[str]:
    """Where two nested results (dicts, lists, numbers, strings, None) differ beyond rel; [] when they agree."""
    if isinstance(want, dict) and isinstance(got, dict):
        if set(got) != set(want):
            return [f"{path}: keys {sorted(set(got) ^ set(want))} differ"]
        return [d for k in want for d in same_numbers(got[k], want[k], rel, f"{path}.{k}")]
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items, {len(want)} expected"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in same_numbers(g, w, rel, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if math.isnan(want) and math.isnan(got) or math.isclose(got, want, rel_tol=rel, abs_tol=1e-12):
            return []
    elif got == want:
        return []
    return [f"{path}: {got!r}, expected {want!r}"]


def in_range(quality_summary: list[dict]) -> list[dict]:
    """quality-vs-quantity summary rows as 0.4 writes them: since 0.4 an interval stays inside its metric's
    range (KL >= 0, perplexity >= 1), so 0.3.0's recorded interval ends are cut there; values are unchanged."""
    from lmcollapse.experiments import load_spec
    from lmcollapse.metrics.base import column_bounds

    watch = {name: s["watch"] for name, s in load_spec("quality-vs-quantity")["settings"].items()}
    out = []
    for row in quality_summary:
        lo, hi = column_bounds(watch[row["setting"]]).clip(row["end_lo"], row["end_hi"])
        out.append({**row, "end_lo": lo, "end_hi": hi})
    return out
