"""`lmcollapse theory check`: the real simulator, many seeds, against the closed forms.

Each case is an ordinary lmcollapse run (categorical truth, single-token documents, unigram add-alpha
model) repeated over seeds. For every generation we compare, with a z-score against the Monte-Carlo
standard error across seeds:
  impurity    E[1 - sum_v M_t(v)^2]            (pseudocount.predict; Wright-Fisher when alpha = 0)
  mean coef   E[c_t], where M_t projected on q + c (p - q)
  real share  E[real fraction of D_t]
  TV bound    E[TV(M_t, p)] >= TV(E[M_t], p), one-sided (the bound's tightness is shown, not judged)
A row fails when |z| > Z_LIMIT; quantities with no randomness must match to 1e-9.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from lmcollapse.config import applicable
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config
from lmcollapse.running.readback import model_of_generation, stored_config
from lmcollapse.running.rundir import RunDir
from lmcollapse.sweep import make_executor, run_tasks
from lmcollapse.sweep.task import RunTask
from lmcollapse.studies import theory_check_context as check_context
from lmcollapse.studies import theory_check_heldout as check_heldout
from lmcollapse.theory import kazdan
from lmcollapse.studies.theory_labels import paradigm_label, slug_of
from lmcollapse.theory.peers import accumulate_bound_factor, accumulate_squared_error
from lmcollapse.theory.collapse_time import forgetting_collapse
from lmcollapse.theory.pseudocount import predict
from lmcollapse.theory.pseudocount import predict as predict_c
from lmcollapse.theory.wright_fisher import WrightFisher

Z_LIMIT = 4.5  # two-sided false alarm 7e-6 per row: a few hundred rows stay below 0.3% in all
TRUTH = (0.35, 0.25, 0.2, 0.12, 0.08)


@dataclass(frozen=True)
class Case:
    paradigm: str
    alpha: float
    n: int
    rate: float = 1.0
    real_fraction: float = 0.5
    generations: int = 6
    truth: tuple = TRUTH
    metrics: tuple = ("real_fraction",)
    until: Callable[[str], bool] | None = None  # extend each run until this holds (RunTask.until)
    pad_to: int | None = None  # read back to this many generations, the last model repeated (absorbed runs)
    max_generations: int | None = None

    @property
    def slug(self) -> str:
        return slug_of(self.label)

    @property
    def collect(self) -> Callable[[str], tuple]:
        return unigram_history if self.pad_to is None else functools.partial(padded_history, self.pad_to)

    @property
    def label(self) -> str:
        return f"{paradigm_label(self.paradigm, self.rate, self.real_fraction)} alpha={self.alpha} N={self.n}"

    def config(self, seed: int) -> dict:
        return {"seed": seed, "generations": self.generations, "metrics": list(self.metrics),
                "corpus": {"name": "categorical", "probs": list(self.truth), "doc_length": 1, "n_train": self.n,
                           "n_eval": 10},
                "model": {"name": "ngram", "order": 1, "smoothing": self.alpha},
                "paradigm": applicable("paradigm", {"name": self.paradigm, "rate": self.rate,
                                                    "real_fraction": self.real_fraction})}


QUICK_GRID = [Case("replace", 0.0, 30), Case("mix", 1.0, 30, real_fraction=0.5),
              Case("accumulate-subsample", 0.5, 30, rate=0.5)]
FULL_GRID = [Case(par, alpha, n, rate=rate)
             for alpha in (0.0, 1.0) for n in (20, 60)
             for par, rate in (("replace", 1.0), ("mix", 1.0), ("accumulate", 0.5),
                               ("accumulate-subsample", 0.5), ("accumulate-subsample", 0.1))]
FULL_GRID.append(Case("accumulate", 0.0, 20, rate=1.0, generations=8))  # Gerstgrasser's setting: pi^2/6


def unigram_history(run_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """Read in the worker that ran it: every generation's unigram law (T, V) and real share of D_t (T,)."""

    rd = RunDir(run_dir)
    config = stored_config(run_dir)
    generations = rd.committed()  # a run extended until a stop rule held may be longer than its first config
    models = np.array([model_of_generation(config, rd, t, None).next_token_probs(()) for t in range(generations)])
    shares = np.array([row.get("real_fraction", np.nan) for row in rd.metrics_rows(generations)])
    return models, shares


def padded_history(length: int, run_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """unigram_history of a run that ended absorbed (one token left: its model never changes again),
    continued to `length` generations by repeating its last generation."""
    models, shares = unigram_history(run_dir)
    extra = max(length - len(models), 0)
    return (np.concatenate([models, np.repeat(models[-1:], extra, axis=0)])[:length],
            np.concatenate([shares, np.repeat(shares[-1:], extra)])[:length])


def read_then_discard(collect, run_dir: str):
    """collect(run_dir), then the run directory is removed (a temporary battery keeps only the numbers)."""
    value = collect(run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)
    return value


def scratch_folder() -> str:
    """Where a temporary battery writes its runs: memory (/dev/shm) when there is one, else the temp folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 2**30:
        return tempfile.mkdtemp(prefix="lmcollapse-check-", dir=shm)
    return tempfile.mkdtemp(prefix="lmcollapse-check-")


def simulate_many(jobs: list[tuple[Case, int]], workers: int = 1, keep: str | Path | None = None,
                  progress: bool = False) -> list[tuple[np.ndarray, ...]]:
    """Every (case, seeds) job as ordinary runs through the sweep engine, in one pool: per job, what its
    case's collect reads, stacked over seeds (for a Case: the models (S, T, V) and training real shares
    (S, T)). keep: a folder that keeps the run directories (and makes a
    second call reuse them); None: a scratch folder, each run removed once read."""

    root = Path(keep) if keep is not None else Path(scratch_folder())
    try:
        tasks = []
        for index, (case, seeds) in enumerate(jobs):
            base = load_config(case.config(0)).model_dump()  # one check per case; seeds differ only in `seed`
            # What each run's worker reads back: a tuple of arrays; the job's result stacks each over seeds.
            collect = case.collect if keep is not None else functools.partial(read_then_discard, case.collect)
            folder = root / f"{index:02d}-{case.slug}"
            tasks += [RunTask({**base, "seed": s}, str(folder / f"seed-{s}"), index, s, collect=collect,
                              until=getattr(case, "until", None), max_generations=getattr(case, "max_generations", None))
                      for s in range(seeds)]
        outcome = run_tasks(tasks, make_executor("local", workers=workers), progress=progress)
        if outcome.failures:
            first = outcome.failures[0]
            raise LmcollapseError(f"{len(outcome.failures)} simulator runs failed; first: {first.run_dir}: {first.error}")
        values = {o.run_dir: o.value for o in outcome.outcomes}
        results = []
        for index in range(len(jobs)):
            mine = [values[t.run_dir] for t in tasks if t.point == index]
            results.append(tuple(np.stack(part) for part in zip(*mine)))
        return results
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def simulate(case: Case, seeds: int, workers: int = 1):
    """One case: models (S, T, V) and training real shares (S, T)."""
    return simulate_many([(case, seeds)], workers)[0]


def _row(case, quantity, t, predicted, samples, deterministic: bool = False) -> dict:
    """One comparison. Deterministic quantities must match to 1e-9; a random one whose seeds all agree
    (zero spread) may differ from its expectation by at most 3/S (the rule of three)."""
    samples = np.asarray(samples, dtype=np.float64)
    mean = float(samples.mean())
    se = float(samples.std(ddof=1) / np.sqrt(len(samples)))
    if deterministic or se < 1e-12:
        bound = 1e-9 if deterministic else 3.0 / len(samples)
        z = 0.0 if abs(mean - predicted) <= bound else float("inf")
    else:
        z = (mean - predicted) / se
    return {"case": case.label, "quantity": quantity, "generation": t, "predicted": float(predicted),
            "measured": mean, "se": se, "z": z, "ok": bool(abs(z) <= Z_LIMIT)}


def check_case(case: Case, seeds: int, workers: int = 1) -> list[dict]:
    return case_rows(case, *simulate(case, seeds, workers))


def case_rows(case: Case, models: np.ndarray, shares: np.ndarray) -> list[dict]:
    """The pseudo-count rows of one case from its simulated models (S, T, V) and real shares (S, T)."""
    pred = predict(case.paradigm, case.truth, case.alpha, case.n, case.generations, rate=case.rate,
                   real_fraction=case.real_fraction)
    p = pred.p
    q = np.full(len(p), 1 / len(p))
    coef = (models - q) @ (p - q) / ((p - q) @ (p - q))  # (S, T) projection of each model on q + c (p - q)
    rows = []
    for t in range(case.generations):
        rows.append(_row(case, "impurity", t, pred.impurity[t], 1 - (models[:, t] ** 2).sum(axis=1)))
        rows.append(_row(case, "mean coef", t, pred.c[t], coef[:, t]))
        # TV(E[M_t], p) is a lower bound on E[TV(M_t, p)] (convexity): a one-sided check.
        tv = 0.5 * np.abs(models[:, t] - p).sum(axis=1)
        row = _row(case, "E[TV] >= TV(E[M],p)", t, pred.tv_mean_model()[t], tv)
        row["ok"] = bool(row["z"] >= -Z_LIMIT)
        rows.append(row)
        exact = case.paradigm in ("replace", "mix", "accumulate") or t == 0  # no subsampling: no randomness
        rows.append(_row(case, "real share", t, pred.real_share[t], shares[:, t], deterministic=exact))
    if case.paradigm == "accumulate" and case.alpha == 0:
        rows += gerstgrasser_rows(case, models)
    return rows


def gerstgrasser_rows(case: Case, models: np.ndarray) -> list[dict]:
    """The categorical analogue of Gerstgrasser et al.'s accumulate bound (peers.py): E||M_t - p||^2 per
    generation, exact, and the largest ratio to generation 0 below the bound factor (pi^2/6 at r = 1)."""
    p = np.asarray(case.truth) / np.sum(case.truth)
    predicted = accumulate_squared_error(p, case.n, case.rate, case.generations)
    errors = ((models - p) ** 2).sum(axis=2)  # (S, T)
    rows = [_row(case, "E||M_t - p||^2 (Gerstgrasser, exact)", t, predicted[t], errors[:, t])
            for t in range(case.generations)]
    factor = accumulate_bound_factor(case.rate)
    ratio = errors.mean(axis=0) / errors[:, 0].mean()
    worst = int(np.argmax(ratio))
    row = _row(case, f"E||M_t - p||^2 / E||M_0 - p||^2, largest (bound {factor:.4g})", worst, factor,
               errors[:, worst] / errors[:, 0].mean())
    row["ok"] = bool(row["z"] <= Z_LIMIT)  # one-sided: measured may not exceed the bound beyond noise
    return rows + [row]


def battery(quick: bool, seeds: int | None = None, workers: int = 1, progress: bool = False,
            keep: str | Path | None = None) -> list[dict]:
    """Every check: the pseudo-count grid, Wright-Fisher, collapse times over r, Kazdan's collapse times,
    the chain families (check_context) and held-out perplexity on KJV (check_heldout). Every run of every check goes through the sweep engine in one
    pool (start-up paid once); keep: a folder to keep the runs in."""
    seeds = seeds or (80 if quick else 120)
    grid = QUICK_GRID if quick else FULL_GRID
    wf_n = 8 if quick else 12
    rates = (0.5, 0.1) if quick else (0.5, 0.1, 0.01)
    long_seeds, collapse_seeds = check_context.seed_split(seeds)
    chains = check_context.families(quick, seeds)
    # Each family: its (case, seeds) jobs and how one case's simulated result becomes rows.
    families = [
        ([(case, seeds) for case in grid], lambda case, result: case_rows(case, *result)),
        ([(wright_fisher_case(wf_n, seeds), seeds)], lambda case, result: wright_fisher_rows(wf_n, result[0])),
        ([(collapse_case(rate), collapse_seeds) for rate in rates],
         lambda case, result: [collapse_rows(case.rate, result[0])]),
        ([(kazdan.KazdanCase(n), long_seeds) for n in ((10,) if quick else (10, 20))],
         lambda case, result: kazdan_rows(case, result[0])),
        (chains.contexts, lambda case, result: check_context.context_rows(case, result[0], Z_LIMIT)),
        (chains.directions, lambda case, result: check_context.direction_rows(case, result[1], Z_LIMIT)),
        (chains.collapse_times, lambda case, result: check_context.collapse_time_rows(case, result[0])),
        ([(case, check_heldout.seeds_for(seeds)) for case in check_heldout.cases(quick)],
         lambda case, result: check_heldout.heldout_rows(case, result[0], result[1], Z_LIMIT)),
    ]
    simulated = iter(simulate_many([job for jobs, _ in families for job in jobs], workers, keep=keep,
                                   progress=progress))
    rows = []
    for jobs, rows_of in families:
        for case, _ in jobs:
            rows += rows_of(case, next(simulated))
    return rows


# ---- Kazdan et al.: generations to total collapse (kazdan.py) -----------------------------------------
def kazdan_rows(case: kazdan.KazdanCase, collapse_generations: np.ndarray) -> list[dict]:
    """The mean collapse generation over seeds against the Wright-Fisher value (exact, or diffusion)."""
    predicted, how = kazdan.predicted_collapse(case.n)
    return [_row_named(case.label, f"generations to total collapse ({how}; {predicted / case.n:.3f} N)", -1,
                       predicted, collapse_generations)]


# ---- Wright-Fisher: exact MLE under replace, run until one token is left ------------------------------
def wright_fisher_case(n: int, seeds: int) -> Case:
    """Exact MLE under replace. Each run starts at the expected collapse generation and is extended until it
    has collapsed; it is read back to the length by which every seed would have collapsed, except with
    probability 1e-4 overall (a collapsed run's model never changes again, so repeating it is exact)."""

    wf = WrightFisher(np.array(TRUTH), n)
    horizon = int(np.argmax(seeds * (1 - wf.collapsed_probability(50 * n)) < 1e-4)) + 1
    return Case("replace", 0.0, n, generations=max(int(wf.collapse_generation()), 2), metrics=("model_entropy",),
                until=kazdan.collapsed, pad_to=horizon, max_generations=kazdan.LONGEST_RUN)


def wright_fisher_rows(n: int, models: np.ndarray) -> list[dict]:
    """The Wright-Fisher rows from the simulated models (S, T, V)."""

    wf = WrightFisher(np.array(TRUTH), n)
    generations = models.shape[1]
    alive = models > 0  # (S, T, V)
    label = f"wright-fisher N={n}"
    rows = []
    expected_alive = wf.expected_alive(generations)
    for t in sorted({0, generations // 8, generations // 4, generations // 2}):
        rows.append(_row_named(label, "tokens alive", t, expected_alive[t], alive[:, t].sum(axis=1)))
    collapsed = alive.sum(axis=2) == 1  # (S, T)
    if not collapsed[:, -1].all():
        raise RuntimeError(f"{(~collapsed[:, -1]).sum()} seeds had not collapsed after {generations} generations")
    first_single = collapsed.argmax(axis=1)
    rows.append(_row_named(label, "collapse generation", -1, wf.collapse_generation(), first_single))
    winner = alive[:, -1].argmax(axis=1)
    for v in range(len(TRUTH)):
        rows.append(_row_named(label, f"P(token {v} survives)", -1, wf.survivor_probability()[v], winner == v))
    lost_at = np.where(alive.all(axis=1) == False, (~alive).argmax(axis=1), -1)  # noqa: E712  (S, V)
    loss_expected = wf.loss_generation()
    for v in range(len(TRUTH)):
        lost = lost_at[:, v] >= 0
        if lost.sum() >= 10:
            rows.append(_row_named(label, f"loss generation of token {v}", -1, loss_expected[v], lost_at[lost, v]))
    return rows


def _row_named(label: str, quantity: str, t: int, predicted: float, samples) -> dict:
    row = _row(Case("replace", 0.0, 1), quantity, t, predicted, np.asarray(samples, dtype=np.float64))
    row["case"] = label
    return row


# ---- collapse time n*(r): the forgetting criterion under accumulate-subsample -------------------------
COLLAPSE_N, COLLAPSE_ALPHA, COLLAPSE_EPS = 200, 40.0, 0.25  # lambda = 1/2: n*(r) ~ 3 / r
# A peaked truth: the projection c of a model on q + c (p - q) is then much less noisy per seed.
COLLAPSE_TRUTH = (0.8, 0.05, 0.05, 0.05, 0.05)
COLLAPSE_TOLERANCE = 0.1  # relative; widened to the Monte-Carlo uncertainty of the crossing when larger


def check_collapse_time(rate: float, seeds: int, workers: int = 1) -> dict:
    return collapse_rows(rate, simulate(collapse_case(rate), seeds, workers)[0])


def _predicted_collapse(rate: float) -> int:

    return forgetting_collapse("accumulate-subsample", COLLAPSE_TRUTH, COLLAPSE_ALPHA, COLLAPSE_N, rate, COLLAPSE_EPS)


def collapse_case(rate: float) -> Case:
    return Case("accumulate-subsample", COLLAPSE_ALPHA, COLLAPSE_N, rate=rate,
                generations=int(_predicted_collapse(rate) * 1.3) + 4, truth=COLLAPSE_TRUTH)


def collapse_rows(rate: float, models: np.ndarray) -> dict:
    """Predicted vs simulated first generation with c_n < eps (c of the seed-averaged model), from the
    simulated models (S, T, V).

    Tolerance: the largest of 2 generations, 10% of n*, and 4 standard errors of the simulated mean c
    at n* divided by the predicted slope of c there (how far noise alone can move the crossing)."""

    predicted = _predicted_collapse(rate)
    seeds, generations = models.shape[:2]
    p = np.asarray(COLLAPSE_TRUTH) / np.sum(COLLAPSE_TRUTH)
    q = np.full(len(p), 1 / len(p))
    coef = ((models - q) @ (p - q)) / ((p - q) @ (p - q))  # (S, T)
    mean_coef = coef.mean(axis=0)
    below = np.flatnonzero(mean_coef < COLLAPSE_EPS)
    measured = int(below[0]) if len(below) else None
    c_pred = predict_c("accumulate-subsample", COLLAPSE_TRUTH, COLLAPSE_ALPHA, COLLAPSE_N, generations, rate=rate).c
    slope = abs(c_pred[predicted - 1] - c_pred[predicted])
    se = coef[:, predicted].std(ddof=1) / np.sqrt(seeds)
    tolerance = max(2.0, COLLAPSE_TOLERANCE * predicted, 4 * se / slope)
    ok = measured is not None and abs(measured - predicted) <= tolerance
    return {"case": f"accumulate-subsample r={rate} alpha={COLLAPSE_ALPHA} N={COLLAPSE_N}",
            "quantity": f"collapse generation (c < {COLLAPSE_EPS})", "generation": -1, "predicted": float(predicted),
            "measured": float("nan") if measured is None else float(measured), "se": float(se / slope),
            "z": float("nan"), "tolerance": tolerance, "ok": bool(ok)}
