"""What several test modules share: the CLI in a subprocess, and nested results compared to a tolerance."""
import math
import signal
import subprocess
import sys


def cli(*args, cwd=None, timeout=600):
    """`lmcollapse ARGS` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lmcollapse.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def ctrl_c_works():
    """preexec_fn for a child that the test will Ctrl-C: SIGINT back to its default. A test run started in the
    background of a non-interactive shell inherits SIGINT ignored (as `cmd &` does), and a child that ignores
    it rightly never sees the signal (`nohup lmcollapse ... &` is meant to survive it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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


# What 0.4 defines differently from the 0.3.0 recorded studies (tests/data/v0.3.0, two seeds each): intervals
# across seeds need three seeds, and a perplexity ratio is a geometric mean. Everything else must agree.
SINCE_0_4 = ("ratio", "state", "sign", "direction", "all_collapsing", "all_rise", "some_does_not_rise",
             "generation_0_beats_baseline", "enters_baseline", "seeds")
# And what 0.5 adds or defines differently: claim (d) is an equivalence test (docs/statistics.md), and beside
# claim (b) stands the crossing theory/heldout.py predicts, where 0.4 fitted n*(r) = a + b / r.
SINCE_0_5 = ("fit", "theory", "equivalent_at_end", "margin")
# Default metrics newer than the recorded metrics rows (tests/data/metrics/reference.json, run-v0.2.0): a row
# computed now holds them, with their intervals; a recorded one cannot.
NEWER_METRICS = ("repetition_32", "self_bleu_32")


def measured_as_in_0_3(result):
    """A study's summary numbers without what 0.4 and 0.5 define differently (SINCE_0_4, SINCE_0_5, every *_lo
    and *_hi)."""
    if isinstance(result, dict):
        return {k: measured_as_in_0_3(v) for k, v in result.items()
                if k not in SINCE_0_4 + SINCE_0_5 and not k.endswith(("_lo", "_hi"))}
    if isinstance(result, list):
        return [measured_as_in_0_3(v) for v in result]
    return result


def two_seed_study(out, kind: str):
    """The summary numbers of a quick study folder (three seeds) recomputed from seeds 0 and 1 alone: what the
    recorded 0.3.0 summaries hold."""
    import lmcollapse
    from lmcollapse.studies import load_spec, paper, quality

    sweep = lmcollapse.open_results(out)
    if kind == "paper":
        spec = paper.effective_spec(load_spec("paper"), quick=True) | {"seeds": [0, 1]}
        groups = {k: v[:2] for k, v in sweep.groups("model", "policy").items()}
        chosen = paper.points(spec)
        return {m: paper.measure_claims(spec, [p for p in chosen if p.model == m], groups) for m in paper.MODELS}
    spec = quality.effective_spec(load_spec("quality-vs-quantity"), quick=True) | {"seeds": [0, 1]}
    groups = {k: v[:2] for k, v in sweep.groups("setting", "variant").items()}
    chosen = quality.variants(spec)
    return [quality._variant_numbers(v, groups[(v.setting, v.label)], spec["settings"][v.setting]["watch"])
            for v in chosen]
