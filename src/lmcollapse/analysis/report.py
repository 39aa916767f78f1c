"""`lmcollapse report`: one self-contained HTML page (plots embedded as PNG data) comparing runs.

Per metric: the curve over generations of every run, with its 95% band (across seeds for a --seeds
directory, half-sampling for a single run), the theory's expected real share where it applies, and a
marker at the early-warning generation. Then the corpus composition per generation, sample texts from
the first, a middle and the last generation, and each run's config. Every plot is also written as a PNG
into REPORT_files/ beside the HTML file.
"""
from __future__ import annotations

import base64
import html
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lmcollapse.analysis.aggregation import MIN_SEEDS_FOR_INTERVAL, aggregate_rows
from lmcollapse.api import load_run, open_results
from lmcollapse.config import to_yaml
from lmcollapse.analysis.early_warning import ALPHA, p_text
from lmcollapse.errors import LmcollapseError
from lmcollapse.metrics import MetricsRow, column_direction, describe_column, measured_columns, reference_of
from lmcollapse.metrics.base import CONCERNS, column_concern
from lmcollapse.sweep import PointRuns, Sweep
from lmcollapse.theory.real_share import expected_real_share
from lmcollapse.analysis import statistics
from lmcollapse.analysis.verdict import BOUND, NAMED_IN_WORDS, Verdict, in_words, judge

SAMPLES_SHOWN = 3


@dataclass
class RunData:
    label: str
    config: object
    rows: list[dict]  # per generation: value and, where known, NAME_lo / NAME_hi
    departures: list
    composition: list[dict]  # per generation: origin@generation -> documents in D_t
    samples: dict[int, list[str]] = field(default_factory=dict)
    seeds: int = 1
    damage: list[str] = field(default_factory=list)  # one line per damaged run: only its intact prefix is drawn
    verdict: Verdict | None = None  # did it collapse (analysis/verdict.py)
    seconds: list[dict] = field(default_factory=list)  # per generation: stage -> seconds (mean over seeds)
    final_by_seed: dict[int, float] = field(default_factory=dict)  # run seed -> watched metric, last / first


def load_data(path: str | Path) -> list[RunData]:
    """What one path of `report` draws: a run, or every point of a sweep (the mean over its seeds)."""
    results = open_results(path)
    if isinstance(results, Sweep):
        return sweep_data(results)
    return [group_data(Path(path).name, [results.path], str(path))]


def sweep_data(sweep: Sweep, points: list[PointRuns] | None = None) -> list[RunData]:
    """One entry per point with a committed generation (the mean over its seeds); points: a subset."""
    chosen = [p for p in (sweep.points if points is None else points) if p.started()]
    if not chosen:
        raise LmcollapseError(f"sweep {sweep.path} has no committed generation yet; run it first")
    # A sweep of one point (run --seeds) is drawn under the folder's name, as its runs' config is one
    label = (lambda p: sweep.path.name) if len(sweep.points) == 1 else (lambda p: p.label)
    return [group_data(label(p), p.started(), f"{sweep.path}: {p.label}") for p in chosen]


def group_data(label: str, dirs: list[Path], where: str) -> RunData:
    """Runs of one config over several seeds (or one run): mean rows, early warnings, samples of the first."""
    opened = list(map(load_run, dirs))
    damage, intact = [], {}
    for run in opened:
        inspection = run.inspect(full=True)  # checksums: a changed byte of the same size is damage too
        intact[run.path] = inspection.intact
        if inspection.damaged:
            damage.append(f"{run.path}: {inspection.summary()}; drawn: {inspection.intact_range()}; lmcollapse run "
                          f"--out {run.path} recomputes the rest")
    runs = [(run, run.metrics[:intact[run.path]]) for run in opened]
    runs = [(run, rows) for run, rows in runs if rows]
    if not runs:
        raise LmcollapseError(f"{where} has no committed generation yet; run it first")
    first = runs[0][0]
    per_seed = [rows for _, rows in runs]
    verdict, departures = judge(label, per_seed)
    rows, seeds = (aggregate_rows(per_seed), len(per_seed)) if len(per_seed) > 1 else (per_seed[0], 1)
    done = intact[first.path]
    data = RunData(label, first.config, rows, departures, _composition(first, done), seeds=seeds, damage=damage,
                   verdict=verdict, seconds=_seconds([(run, len(rows)) for run, rows in runs]))
    if verdict.metric is not None:  # what a paired comparison with another group of the same seeds needs
        by_seed = {run.config.seed: rows for run, rows in runs}
        data.final_by_seed = statistics.final_ratios(by_seed, verdict.metric)
    tokenizer = first.tokenizer()
    for t in sorted({0, done // 2, done - 1}) if done else []:
        docs = first.samples(t)
        texts = list(docs.text[:SAMPLES_SHOWN]) if docs.text is not None else [
            " ".join(map(str, docs.doc(i)[:60])) if tokenizer is None else tokenizer.decode(docs.doc(i))
            for i in range(min(SAMPLES_SHOWN, len(docs)))]
        data.samples[t] = texts
    return data


def _seconds(runs) -> list[dict]:
    """Per generation, the mean over seeds of each stage's seconds (fit, sample, metrics, paradigm)."""
    out = []
    for t in range(max(n for _, n in runs)):
        stages = [run.manifest(t).seconds for run, n in runs if n > t]
        out.append({k: float(np.mean([s.get(k, 0.0) for s in stages])) for k in sorted({k for s in stages for k in s})})
    return out


def _composition(run, generations: int) -> list[dict]:
    out = []
    for t in range(generations):
        out.append(run.manifest(t).composition)
    return out


EQUIVALENCE_MARGIN = 0.10  # a report's "no effect": the paired effect shown within +-10%
LOG_SCALE_SPAN = 10  # a plot whose positive values span more than this factor gets a log axis


def _finished(fig, ax, title: str, **legend) -> bytes:
    """A plot over generations made ready: whole generations on the x axis, a log scale where the values span
    orders of magnitude, its title, and its legend beside the plot rather than over the curves, as PNG."""
    import matplotlib.pyplot as plt

    ax.set_xlabel("generation")
    ax.xaxis.get_major_locator().set_params(integer=True)  # generations are whole numbers
    ax.set_title(title, fontsize=10)
    low, high = ax.dataLim.y0, ax.dataLim.y1  # the data's extent (vertical markers do not extend it)
    if np.isfinite([low, high]).all() and low > 0 and high / low > LOG_SCALE_SPAN:
        ax.set_yscale("log")
    ax.legend(**{"loc": "upper left", "bbox_to_anchor": (1.0, 1.0), **legend})
    fig.set_layout_engine("constrained")  # makes room for outside legends; tight_layout warns
    png = _figure_png(fig)
    plt.close(fig)
    return png


def _figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def metric_plot(name: str, runs: list[RunData]):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, run in enumerate(runs):
        color = f"C{i % 10}"
        t = np.array([r["generation"] for r in run.rows if r.get(name) is not None])
        if len(t) == 0:
            continue
        by_gen = {r["generation"]: MetricsRow.from_json(r) for r in run.rows}
        y = np.array([by_gen[g].values[name] for g in t])
        ax.plot(t, y, "o-", ms=3, color=color, label=run.label)
        bands = [by_gen[g].interval(name) for g in t]
        if all(lo is not None and hi is not None for lo, hi in bands):
            ax.fill_between(t, [lo for lo, _ in bands], [hi for _, hi in bands], color=color, alpha=0.2, linewidth=0)
        flag = next((d for d in run.departures if d.metric == name), None)
        if flag is not None:
            ax.axvline(flag.generation, color=color, linestyle=":", linewidth=1)
        if name == "real_fraction":
            ax.plot(t, expected_real_share(run.config, int(t.max()) + 1)[t], "--", color="black", linewidth=1,
                    label="theory (expected)" if i == 0 else None)
        ref = reference_of(name)
        reference = [r.get(ref) for r in run.rows if ref is not None and r.get(ref) is not None]
        if reference:  # e.g. the random-init baseline of the downstream probe
            ax.axhline(reference[-1], color=color, linestyle="--", linewidth=1,
                       label=f"{run.label}: {ref}" if len(runs) > 1 else ref)
    return _finished(fig, ax, name, fontsize=7)


def cost_plot(runs: list[RunData]):
    """Seconds per generation of every run, by stage (fit solid, sample dashed, metrics dotted)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for i, run in enumerate(runs):
        for stage, style in (("fit", "-"), ("sample", "--"), ("metrics", ":")):
            y = [s.get(stage) for s in run.seconds]
            if any(v is not None for v in y):
                ax.plot(range(len(y)), y, style, color=f"C{i % 10}", label=f"{run.label}: {stage}")
    ax.set_ylabel("seconds")
    return _finished(fig, ax, "cost: seconds per generation (mean over seeds)", fontsize=6)


def headline_plot(runs: list[RunData]):
    """The watched metric over generations as a ratio to generation 0, every run, log scale, the bound dotted."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.0, 3.4))
    metrics = set()
    for i, run in enumerate(runs):
        metric = run.verdict.metric if run.verdict else None
        points = [(r["generation"], r[metric]) for r in run.rows if metric and r.get(metric) is not None]
        if len(points) < 1:
            continue
        metrics.add(metric)
        t, y = np.array(points).T
        ax.plot(t, y / y[0], "o-", ms=3, color=f"C{i % 10}", label=f"{run.label}: {run.verdict.state}")
        if run.verdict.departs is not None:
            ax.axvline(run.verdict.departs, color=f"C{i % 10}", linestyle=":", linewidth=1)
    ax.axhline(BOUND, color="grey", linestyle="--", linewidth=1, label=f"{BOUND}x generation 0")
    ax.set_ylabel(" / ".join(sorted(metrics)) + " / generation 0" if metrics else "")
    return _finished(fig, ax, "Did it collapse? The watched metric against generation 0", fontsize=7,
                     loc="center left", bbox_to_anchor=(1.0, 0.5))


def composition_plot(run: RunData):
    import matplotlib.pyplot as plt

    sources = sorted({k for c in run.composition for k in c}, key=_source_order)
    t = np.arange(len(run.composition))
    shares = np.array([[c.get(s, 0) / max(sum(c.values()), 1) for c in run.composition] for s in sources])
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    colors = ["#4c72b0"] + [plt.cm.Oranges(0.3 + 0.6 * i / max(len(sources) - 1, 1)) for i in range(len(sources) - 1)]
    # step="mid": each generation's composition is a block, not a ramp between generations
    ax.stackplot(t, shares, labels=[_source_label(s) for s in sources], colors=colors[:len(sources)], step="mid")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("generation")
    ax.set_ylabel("share of D_t")
    ax.set_ylim(0, 1)
    ax.set_title(f"{run.label}: training-set composition", fontsize=10)
    if len(sources) <= 12:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.set_layout_engine("constrained")  # makes room for outside legends; tight_layout warns
    png = _figure_png(fig)
    plt.close(fig)
    return png


def _source_order(key: str):
    origin, _, gen = key.partition("@")
    return (origin != "real", int(gen) if gen.isdigit() else 0, key)


def _source_label(key: str) -> str:
    origin, _, gen = key.partition("@")
    return "real" if origin == "real" and gen in ("", "0") else (
        f"real (new at {gen})" if origin == "real" else f"synthetic from model {int(gen) - 1}")


def build_report(paths: list[str | Path], out: str | Path, preface: str | None = None,
                 preface_png: bytes | None = None) -> Path:
    """The report of run directories and sweep folders. preface (plain text, e.g. an experiment's verdict) and
    preface_png open the page when given."""
    if not paths:
        raise LmcollapseError("give at least one run directory or sweep folder")
    runs = [r for p in paths for r in load_data(p)]
    for line in (d for r in runs for d in r.damage):
        print(f"warning: {line}", file=sys.stderr)
    return write_report(runs, out, preface, preface_png)


def write_report(runs: list[RunData], out: str | Path, preface: str | None = None,
                 preface_png: bytes | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out)
    blocking = next((p for p in [out.parent, *out.parent.parents] if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise LmcollapseError(f"report --out {out}: {blocking} is a file, not a folder; choose another --out")
    png_dir = out.with_name(out.stem + "_files")
    png_dir.mkdir(parents=True, exist_ok=True)
    measured = [n for n in measured_columns() if any(r.get(n) is not None for run in runs for r in run.rows)]
    names = [n for n in measured if not _never_changes(n, runs)]
    folded = [n for n in measured if n not in names]
    by_concern: dict[str, list[str]] = {}
    for name in names:
        png = metric_plot(name, runs)
        (png_dir / f"{name}.png").write_bytes(png)
        direction = {True: "higher is better", False: "lower is better", None: "no better direction"}[
            column_direction(name)]
        flags = "; ".join(f"{run.label}: generation {d.generation} ({d.direction})"
                          for run in runs for d in run.departures if d.metric == name)
        by_concern.setdefault(column_concern(name), []).append(
            f'<section class="metric"><h3>{html.escape(name)}</h3>'
            f'<p>{html.escape(describe_column(name))} <em>({direction})</em>'
            f'{"<br>early warning: " + html.escape(flags) if flags else ""}</p>'
            f'{_img(png, name)}</section>')
    sections = [f'<h2>{title}</h2><p class="concern">{html.escape(sentence)}</p>' + "".join(by_concern[key])
                for key, (title, sentence) in CONCERNS.items() if key in by_concern]
    if folded:
        sections.append('<details class="folded"><summary>' + f"{len(folded)} metric(s) not drawn: the same at every "
                        "generation in every run</summary><p>" + ", ".join(
                            f"{html.escape(n)} ({_constant_text(n, runs)})" for n in folded) + "</p></details>")
    if any(run.seconds for run in runs):
        cost = cost_plot(runs)
        (png_dir / "cost.png").write_bytes(cost)
        sections.append('<h2>Cost</h2><p class="concern">Where the time of each generation goes (the stages timed in '
                        'every generation\'s manifest): what a mitigation or a larger model costs.</p>'
                        f'<section class="metric">{_img(cost, "cost")}</section>')
    headline = headline_plot(runs)
    (png_dir / "headline.png").write_bytes(headline)
    composition = []
    for i, run in enumerate(runs):
        png = composition_plot(run)
        (png_dir / f"composition-{i}.png").write_bytes(png)
        composition.append(_img(png, f"composition of {run.label}"))
    intro = ""
    if preface or preface_png:
        intro = ("<h2>Summary</h2>" + (f'<pre class="summary">{html.escape(preface)}</pre>' if preface else "")
                 + (_img(preface_png, "summary") if preface_png else ""))
    page = _page(runs, sections, composition, intro, headline)
    out.write_text(page, encoding="utf-8")
    return out


def _never_changes(name: str, runs: list[RunData]) -> bool:
    """Whether a metric takes one value at every generation of every run (acceptance_rate without gates)."""
    values = {r[name] for run in runs for r in run.rows if r.get(name) is not None}
    return len(values) == 1 and sum(r.get(name) is not None for run in runs for r in run.rows) > 1


def _constant_text(name: str, runs: list[RunData]) -> str:
    value = next(r[name] for run in runs for r in run.rows if r.get(name) is not None)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def paired_rows(runs: list[RunData], margin: float = EQUIVALENCE_MARGIN) -> list[dict]:
    """Every group after the first against the first, seed by seed where they share seeds and a watched
    metric (docs/statistics.md): effect, p, Holm over these comparisons, MDE, verdict. [] when none pair."""
    base = runs[0] if runs else None
    pairable = [r for r in runs[1:] if base is not None and r.verdict and base.verdict
                and r.verdict.metric == base.verdict.metric
                and len(set(r.final_by_seed) & set(base.final_by_seed)) >= statistics.MIN_PAIRED_SEEDS]
    if not pairable:
        return []
    diffs = [statistics.differences(r.final_by_seed, base.final_by_seed) for r in pairable]
    results = [statistics.paired(d) for d in diffs]
    pvalues = [r.p for r in results]
    rows = []
    for run, d, result, adjusted, factor in zip(pairable, diffs, results, statistics.holm(pvalues),
                                                statistics.holm_factors(pvalues)):
        bounded, base_bounded = run.verdict.high < BOUND, base.verdict.high < BOUND
        rows.append({"label": run.label, "baseline": base.label, "n": result.n, "effect": result.effect,
                     "low": result.low, "high": result.high, "p": result.p, "p_adjusted": adjusted,
                     "mde": statistics.mde(result.sd, result.n, factor),
                     "verdict": ("inactive" if result.identical else
                                 statistics.paired_verdict(d, factor, bounded, base_bounded, margin))})
    return rows


def _paired_section(runs: list[RunData]) -> str:
    rows = paired_rows(runs)
    if not rows:
        return ""
    cell = lambda x, digits=3: "-" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"  # noqa: E731
    body = "".join(
        f"<tr><td>{html.escape(r['label'])}</td><td>{cell(r['effect'])}x ({cell(r['low'])} to {cell(r['high'])})"
        f"</td><td>{cell(r['p_adjusted'], 2)}</td><td>{'none possible' if not np.isfinite(r['mde']) else cell(r['mde'], 2) + 'x'}"
        f"</td><td>{r['n']}</td><td>{html.escape(r['verdict'])}</td></tr>" for r in rows)
    return (f'<h3>Paired against {html.escape(rows[0]["baseline"])}</h3><p>Seed by seed: each row\'s ratio '
            f'(last / first generation) over the baseline\'s with the same seed; {html.escape(statistics.SIGN_FLIP)}'
            f' over these rows; MDE at {statistics.POWER:.0%} power; no effect only where equivalence within '
            f'+-{EQUIVALENCE_MARGIN:.0%} is shown (docs/statistics.md).</p><table><tr><th>run</th><th>effect (95% CI)'
            f'</th><th>p adj.</th><th>MDE</th><th>seeds</th><th>verdict</th></tr>{body}</table>')


def _verdict_section(runs: list[RunData], headline: bytes) -> str:
    verdicts = [r.verdict for r in runs if r.verdict is not None]
    rows = "".join(
        f'<tr><td>{html.escape(v.label)}</td><td class="state {v.state.replace(" ", "-")}">{v.state}</td>'
        f"<td>{html.escape(v.metric or '-')}</td><td>{v.ratio:.3g}x</td><td>{html.escape(v.interval_text())}</td>"
        f"<td>{'-' if v.departs is None else v.departs}</td><td>{v.seeds}</td></tr>" for v in verdicts)
    table = (f'<table><tr><th>run</th><th>state</th><th>watched</th><th>last / first</th><th>interval</th>'
             f'<th>departs at</th><th>seeds</th></tr>{rows}</table>')
    words = f'<p class="verdict">{html.escape(in_words(verdicts))}</p>'
    # a few runs: the sentence first, it says it all; many: the table first, the sentence only counts them
    body = words + table if len(verdicts) <= NAMED_IN_WORDS else table + words
    return f'<section id="verdict"><h2>Verdict</h2>{body}{_paired_section(runs)}{_img(headline, "headline")}</section>'


def _img(png: bytes, alt: str) -> str:
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _page(runs: list[RunData], sections: list[str], composition: list[str], intro: str = "",
          headline: bytes | None = None) -> str:
    summary = "".join(
        f"<tr><td>{html.escape(r.label)}</td><td>{r.config.corpus.name}</td><td>{r.config.model.name}</td>"
        f"<td>{r.config.paradigm.name}</td><td>{len(r.rows)}</td><td>{r.seeds}</td></tr>" for r in runs)
    warnings = "".join(
        f"<tr><td>{html.escape(r.label)}</td><td>{html.escape(d.metric)}</td><td>{d.generation}</td>"
        f"<td>{d.direction}</td><td>{p_text(d.p_value).removeprefix('p = ')}</td><td>{html.escape(d.test)}</td></tr>"
        for r in runs for d in sorted(r.departures, key=lambda d: (d.generation, d.metric)))
    samples = "".join(
        f"<h3>{html.escape(r.label)}</h3>" + "".join(
            f"<h4>generated by model {t}</h4><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in texts) + "</ul>"
            for t, texts in r.samples.items()) for r in runs)
    configs = "".join(f"<h3>{html.escape(r.label)}</h3><pre>{html.escape(to_yaml(r.config))}</pre>" for r in runs)
    lines = [d for r in runs for d in r.damage]
    damage = ('<p class="damage"><strong>Damaged runs: only their intact generations are drawn.</strong><br>'
              + "<br>".join(html.escape(d) for d in lines) + "</p>\n") if lines else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>lmcollapse report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; font-size: 90%; }}
.metric {{ display: inline-block; width: 48%; vertical-align: top; margin: 0 1% 1em 0; }}
img.plot {{ width: 100%; }} #verdict img.plot {{ width: 80%; }}
p.verdict {{ font-size: 110%; }} td.state {{ font-weight: bold; }} td.collapsing {{ color: #b00; }}
td.bounded {{ color: #070; }} td.levelled-off {{ color: #a60; }} pre.summary {{ white-space: pre-wrap; }} pre {{ background: #f6f6f6; padding: 8px; font-size: 80%; overflow-x: auto; }}
</style></head><body>
<h1>lmcollapse report</h1>
{damage}{_verdict_section(runs, headline) if headline else ""}
<h2>Runs</h2>
<table><tr><th>run</th><th>corpus</th><th>model</th><th>paradigm</th><th>generations</th><th>seeds</th></tr>
{summary}</table>
{intro}
<p>Bands: 95% confidence intervals (across seeds for --seeds runs and sweeps, Student t, drawn from
{MIN_SEEDS_FOR_INTERVAL} seeds on; half-sampling of documents for single runs). Dotted vertical lines: early
warning.</p>
{''.join(sections)}
<h2>Early warning</h2>
<p>First generation at which a metric departs from generation 0: paired t-test across seeds, or a z-test
on half-sampling standard errors for single runs; Bonferroni over generations, so the chance of a false
flag for a metric whose law never changes is at most {ALPHA:.0%}.</p>
<details{" open" if warnings.count("<tr>") <= 30 else ""}><summary>{warnings.count("<tr>")} departures (table)</summary>
<table><tr><th>run</th><th>metric</th><th>generation</th><th>direction</th><th>p</th><th>test</th></tr>
{warnings or '<tr><td colspan="6">no departures</td></tr>'}</table></details>
<h2>Corpus composition</h2>
{''.join(composition)}
<h2>Samples</h2>
{samples}
<h2>Configs</h2>
{configs}
</body></html>
"""
