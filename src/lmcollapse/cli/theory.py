"""`lmcollapse theory ...`: closed forms, the simulator check, collapse times, and run overlays."""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config
from lmcollapse.theory import kazdan as kazdan_experiment
from lmcollapse.studies import kazdan as kazdan_study
from lmcollapse.theory import prediction_for
from lmcollapse.studies.theory_check import Z_LIMIT, battery
from lmcollapse.theory.collapse_time import forgetting_collapse, forgetting_collapse_asymptotic, real_share_collapse
from lmcollapse.analysis.theory_compare import compare_run
from lmcollapse.theory.direction import direction_for
from lmcollapse.theory.heldout import BOUND, heldout_for
from lmcollapse.theory.per_context import context_prediction_for
from lmcollapse.cli.output import console
from lmcollapse.models.decoding import Sampler

app = typer.Typer(add_completion=False, help="The paper's theorem as closed forms, checked against the simulator.")


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


@app.command()
def check(quick: bool = typer.Option(False, "--quick", help="a small grid (seconds)"),
          seeds: Optional[int] = typer.Option(None, "--seeds", help="seeds per unigram case (default 80 quick, 120 full)"),
          workers: int = typer.Option(os.cpu_count() or 1, "--workers", help="processes"),
          json_out: Optional[Path] = typer.Option(None, "--json", help="also write the rows as JSON"),
          keep: Optional[Path] = typer.Option(None, "--keep", help="keep every run directory in this folder (a "
                                                                   "second call reuses them); default: none kept"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress output")):
    """Run many seeds of the real simulator against the closed forms; exit 1 if any row fails."""

    rows = battery(quick, seeds, workers, progress=not quiet, keep=keep)
    table = Table(title=f"theory check: |z| <= {Z_LIMIT} per row; collapse times within their tolerance")
    for column in ("case", "quantity", "gen", "predicted", "measured", "s.e.", "z", "verdict"):
        table.add_column(column, justify="left" if column in ("case", "quantity") else "right")
    for r in rows:
        table.add_row(r["case"], escape(r["quantity"]), "" if r["generation"] < 0 else str(r["generation"]),
                      _fmt(r["predicted"]), _fmt(r["measured"]), _fmt(r["se"]),
                      _fmt(r["z"]) if "tolerance" not in r else f"tol {r['tolerance']:.3g}",
                      "pass" if r["ok"] else "[bold red]FAIL[/]")
    console.print(table)
    failed = [r for r in rows if not r["ok"]]
    if json_out:
        json_out.write_text(json.dumps(rows, indent=1, default=float))
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@app.command("predict")
def predict_command(config: Optional[Path] = typer.Argument(None, help="a run config: categorical with a unigram, "
                                                                      "or markov with an n-gram of its order + 1"),
                    set_: List[str] = typer.Option([], "--set", help="override a key: --set paradigm.rate=0.1"),
                    json_out: bool = typer.Option(False, "--json", help="one JSON object per generation: "
                                                                        "generation and contexts (context, probs)")):
    """Expected model per generation for a config: for the unigram the closed forms (c_t, impurity,
    distances, real share); for an n-gram on a Markov chain the law of every context; with a decoding,
    which way the entropy goes; for the bigram on a text corpus, the expected held-out perplexity."""

    resolved = load_config(config, set_)
    if resolved.corpus.name not in KNOWN_TRUTH and resolved.model.name == "ngram" and resolved.model.order == 2:
        _predict_heldout(resolved, json_out)
        return
    if resolved.corpus.name not in KNOWN_TRUTH:
        demo = " (the built-in demo, used without a config)" if config is None else ""
        raise LmcollapseError(f"theory predict: the closed forms need a known-truth corpus ({' or '.join(KNOWN_TRUTH)}), "
                              f"not {resolved.corpus.name}{demo}, or on a text corpus the bigram (model.name=ngram, "
                              f"model.order=2: its held-out perplexity); try: lmcollapse theory predict "
                              f"configs/wright-fisher.yaml (or configs/markov-contexts.yaml, or configs/demo.yaml)")
    if resolved.corpus.name == "markov" or (resolved.model.name == "ngram" and resolved.model.order > 1):
        _predict_contexts(resolved, json_out)
        return
    pred = prediction_for(resolved)
    if json_out:
        for t in range(len(pred.c)):
            print(json.dumps({"generation": t, "contexts": [{"context": [], "probs": pred.mean_model(t).tolist(),
                                                             "real_weight": float(pred.c[t])}]}))
        return
    if resolved.corpus.doc_length != 1:
        print("[lmcollapse] note: documents longer than one token: means are exact, impurity approximate",
              file=sys.stderr)
    table = Table(title=f"{pred.paradigm}, alpha={pred.alpha}, N={pred.n_real}: E(M_t) = q + c_t (p - q)")
    alive = _tokens_alive(pred, resolved)
    for column in ("gen", "c_t", "E(impurity)", "TV(E(M), p)", "KL(p || E(M))", "real share") + \
            (("E(tokens alive)",) if alive is not None else ()):
        table.add_column(column, justify="right")
    kl, tv = pred.kl_mean_model(), pred.tv_mean_model()
    for t in range(len(pred.c)):
        table.add_row(str(t), _fmt(pred.c[t]), _fmt(pred.impurity[t]), _fmt(tv[t]), _fmt(kl[t]), _fmt(pred.real_share[t]),
                      *((_fmt(float(alive[t])),) if alive is not None else ()))
    console.print(table)
    if alive is not None:
        print(f"Exact maximum likelihood under replace: the expected model stays the truth (its KL is 0), yet every "
              f"run loses tokens for good: E(tokens alive) falls from {alive[0]:.4g} to {alive[-1]:.4g} of "
              f"{pred.vocab_size} over {len(alive)} generations (a Wright-Fisher chain; `lmcollapse theory "
              f"collapse-time` and docs/theory.md give when one is left).")


KNOWN_TRUTH = ("categorical", "markov")  # the corpora whose law the closed forms start from


def _predict_heldout(config, json_out: bool) -> None:
    """The expected held-out perplexity of the bigram on a text corpus, from the run's own R and E."""
    path = heldout_for(config)
    if json_out:
        for t, (loss, share) in enumerate(zip(path.log_loss, path.unseen_in_r)):
            print(json.dumps({"generation": t, "heldout_log_loss": float(loss), "heldout_ppl": float(np.exp(loss)),
                              "ratio": float(path.ratio[t]), "share_from_pairs_r_never_showed": float(share)}))
        return
    table = Table(title=escape(f"{config.paradigm.name}{_rate_label(config)}, alpha={config.model.smoothing}, "
                               f"seed {config.seed}: expected held-out perplexity (theory/heldout.py)"))
    for column in ("gen", "E(log-loss), nats", "perplexity", "ratio to gen 0", "training tokens",
                   "share of loss: pairs R never showed"):
        table.add_column(column, justify="right")
    for t in range(len(path.log_loss)):
        table.add_row(str(t), _fmt(float(path.log_loss[t])), _fmt(float(path.perplexity[t])),
                      _fmt(float(path.ratio[t])), f"{path.train_visits[t]:.0f}", _fmt(float(path.unseen_in_r[t])))
    console.print(table)
    cross = path.crossing()
    print(f"held-out perplexity passes {BOUND}x generation 0 at generation {cross}" if cross is not None else
          f"held-out perplexity stays within {BOUND}x generation 0 for {len(path.log_loss)} generations")


def _rate_label(config) -> str:
    rate = getattr(config.paradigm, "rate", None)
    return "" if rate is None else f" r={rate}"


WRIGHT_FISHER_MAX_N = 2000  # its transition matrix has (N+1)^2 entries


def _tokens_alive(pred, config) -> "np.ndarray | None":
    """E(number of tokens with a positive count in D_t) where the run is an exact Wright-Fisher chain (exact
    MLE, replace, single-token documents); None elsewhere."""
    exact = pred.paradigm == "replace" and pred.alpha == 0 and config.corpus.doc_length == 1
    if not exact or pred.n_real > WRIGHT_FISHER_MAX_N:
        return None
    from lmcollapse.theory.wright_fisher import WrightFisher

    return WrightFisher(pred.p, pred.n_real).expected_alive(len(pred.c))


def _predict_contexts(config, json_out: bool) -> None:
    """The per-context laws (per_context.py) and, under replace, the entropy path (direction.py)."""
    pred = context_prediction_for(config)
    if json_out:
        for row in pred.as_json_rows():
            print(json.dumps(row))
        return
    fmt = lambda law: " ".join(f"{x:.3f}" for x in law)  # noqa: E731
    table = Table(title=escape(f"{config.paradigm.name}, alpha={config.model.smoothing}, N={config.corpus.n_train}: "
                               "E[M_t(. | x)] = c_t(x) p(. | x) + accumulated errors"))
    for column in ("gen", "context", "E[n_x]", "c_t(x)", "E[M_t(. | x)]", "form"):
        table.add_column(escape(column), justify="left" if column in ("context", "E[M_t(. | x)]", "form") else "right")
    for t in range(len(pred.probs)):
        for s, ctx in enumerate(pred.contexts):
            form = "exact" if pred.exact[s] else ("2nd order" if pred.covered()[t, s] else "2nd order, rare context")
            table.add_row(str(t), "start" if ctx and ctx[-1] < 0 else str(list(ctx)), _fmt(float(pred.expected_count[t, s])),
                          "-" if pred.real_weight is None else _fmt(float(pred.real_weight[t, s])),
                          fmt(pred.probs[t, s]), escape(form))
    console.print(table)
    if config.paradigm.name == "replace":
        path = direction_for(config)
        sampler = Sampler(config.sampler)
        print(f"entropy of M_t over its own samples (Dirichlet closure, claimed to generation {path.valid_until}): "
              + ", ".join(f"{h:.3f}" for h in path.expected_entropy))
        end = ("stationary law" if path.stationary_entropy is not None else "fixed point of the mean map")
        end_h = path.stationary_entropy if path.stationary_entropy is not None else path.fixed_point_entropy
        print(f"decoding {'pure' if sampler.is_pure else sampler.config.model_dump(exclude={'max_tokens'})}: "
              f"towards {path.way} (truth {path.truth_entropy:.3f} nats; where a longer run settles, {end}: "
              f"{end_h:.3f})")


@app.command("collapse-time")
def collapse_time(rates: str = typer.Option("1,0.5,0.1,0.03,0.01", help="comma-separated contribution rates r"),
                  alpha: float = typer.Option(20.0, help="pseudo-count per token"),
                  n: int = typer.Option(100, "--n", help="training documents N"),
                  vocab_size: int = typer.Option(5, help="tokens (the truth only matters through c)"),
                  eps: float = typer.Option(0.25, help="collapse when c_n < eps, or real share < eps")):
    """n*(r) under accumulate-subsample: finite for every r > 0, growing like 1/r."""

    p = np.arange(1, vocab_size + 1, dtype=float) ** -1.0
    table = Table(title=f"accumulate-subsample, N={n}, alpha={alpha}, V={vocab_size}, "
                        f"lambda={n / (n + alpha * vocab_size):.3g}, eps={eps}")
    for column in ("r", "n*: c_n < eps (exact)", "n*: asymptotic", "n*: real share < eps"):
        table.add_column(column, justify="right")
    for r in (float(x) for x in rates.split(",")):
        exact = forgetting_collapse("accumulate-subsample", p, alpha, n, r, eps)
        table.add_row(_fmt(r), _fmt(exact) if exact is not None else "> 10^6",
                      _fmt(forgetting_collapse_asymptotic(alpha, vocab_size, n, r, eps)), str(real_share_collapse(r, eps)))
    console.print(table)
    print("asymptotic: ((lambda/eps)^(1/(1-lambda)) - 1) / r; c_n is the expected model's remaining pull "
          "towards the truth, E(M_n) = q + c_n (p - q)")


@app.command()
def kazdan(out: Path = typer.Option(..., "--out", help="folder for the results (a rerun skips the sizes done)"),
           sizes: str = typer.Option(",".join(map(str, kazdan_experiment.SIZES)), help="comma-separated N"),
           seeds: int = typer.Option(10, "--seeds", help="runs per N"),
           workers: int = typer.Option(os.cpu_count() or 1, "--workers", help="processes")):
    """Kazdan et al.'s experiment: generations until one of K = 10 outcomes is left, exact MLE under
    replace, each run extended until it has collapsed; against the Wright-Fisher value."""

    try:
        chosen = [int(x) for x in sizes.split(",")]
    except ValueError:
        raise LmcollapseError(f"--sizes {sizes!r}: give whole numbers separated by commas, e.g. 10,100,1000") from None
    if min(chosen) < 1 or seeds < 2:
        raise LmcollapseError("--sizes must be at least 1 and --seeds at least 2 (a mean needs a standard error)")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in chosen:
        rows.append(kazdan_study.study_row(n, seeds, workers, out))
        print(f"N={n}: {seeds} runs, mean {rows[-1]['measured']:.1f} generations (predicted "
              f"{rows[-1]['predicted']:.1f}, z {rows[-1]['z']:.2f})", flush=True)
    table = Table(title=f"Kazdan et al.: generations to total collapse, K={kazdan_experiment.OUTCOMES} uniform, "
                        f"exact MLE, replace, {seeds} runs per N; |z| <= {Z_LIMIT}")
    for column in ("N", "predicted", "how", "measured", "s.e.", "z", "measured / N", "verdict"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(str(r["n"]), _fmt(r["predicted"]), r["how"], _fmt(r["measured"]), _fmt(r["se"]), _fmt(r["z"]),
                      _fmt(r["measured"] / r["n"]), "pass" if r["ok"] else "[bold red]FAIL[/]")
    console.print(table)
    (out / "kazdan.json").write_text(json.dumps(rows, indent=1))
    print(f"plot: {kazdan_study.plot(rows, out / 'kazdan.png')}")
    if not all(r["ok"] for r in rows):
        raise typer.Exit(1)


@app.command()
def compare(run_dirs: List[Path] = typer.Argument(..., help="run directories")):
    """Overlay the closed forms on measured runs: a table per run and theory-compare.png beside it."""

    for run_dir in run_dirs:
        rows, png = compare_run(run_dir)
        table = Table(title=str(run_dir))
        for column in rows[0]:
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(*[_fmt(row[c]) for c in rows[0]])
        console.print(table)
        print(f"plot: {png}")
