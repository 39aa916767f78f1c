"""Theory that reaches perplexity: the expected held-out log-loss of the add-alpha bigram per generation,
and from it the generation at which held-out perplexity passes a bound (1.25x generation 0).

What the studies watch is held-out perplexity, exp of the mean of -log M_t(v | x) over the pairs (x, v)
of E. The collapse time of collapse_time.py counts generations until the expected model loses its pull
towards the truth: for a frequent context that takes astronomically long, while perplexity moves within a
few generations because of pairs that are rare in R. This module follows every pair of E on its own.

Conditioned on R and E (both fixed by the run seed), everything random is the models' own sampling. For a
pair (x, v) write T_t for its count in D_t, n_t for the visits to x in D_t and A = alpha V; the model is
M_t(v | x) = (T_t + alpha) / (n_t + A). Per generation:

* new documents: C_t ~ Binomial(n_new, M_{t-1}(v | x)) given the previous model (successors of a context
  are independent draws from its law, given how often it is visited);
* the pool: replace keeps only C_t; accumulate and accumulate-subsample add C_t to it (real counts never
  leave an accumulating pool);
* the training set: the pool itself, or (accumulate-subsample) N of its documents drawn without
  replacement, which thins each count hypergeometrically with f = N / |pool|.

The first two moments of T_t follow exactly from these (E[C | T] is affine in T, so every moment closes).
What needs an approximation (stated; `theory check` measures it, benchmarks/heldout_theory.py at full size):

1. Visits. A context's visits are their expectation under the generation's mean kernel E[M_t] (a mean
   field: the spread of M_t enters the counts, not the visits), except where they are few: a context only
   generated text visits (R never saw it, or under replace) with fewer than RANDOM_VISITS_BELOW expected
   visits has Poisson visits, and with none the model backs off to the unigram law (taken at R's); under
   accumulate-subsample a context R saw that the subsample visits that rarely keeps each real visit with
   chance f (binomial; the pair's real occurrences among them hypergeometric).
2. The cap. A document the sampler cuts at max_tokens is ended by an end token no law drew (the n-gram
   appends one to every training document): those counts are added to (x, end) where the cut falls. Without
   them generated documents come out about twice as long as they are after a few generations of replace.
3. The law of a count. T_t is taken to be the beta-binomial on [floor, n_t] with its two moments (below
   binomial dispersion: binomials on fewer trials, mixed to keep both moments), floor being the real count
   an accumulating pool can never lose. Under accumulate-subsample a pair with few real occurrences has
   its real part binomial (each real document kept with chance f) beside the generated part's two-moment
   law: one two-moment law for both puts too many zeros. E[log(T + alpha)] is summed over the law where
   low counts matter and taken to second order (the delta method) where they do not.

Why perplexity rises under accumulate although the mean model stays near M_0: the pool grows, so the
smoothing floor alpha / (n_t + A) of every pair R never showed falls as 1/n_t, while the generated text
adds almost nothing to those pairs. Their log-loss rises as log n_t, and with many such pairs in E (on KJV
about a quarter of E's targets, most of its log-loss: HeldoutPath.unseen_in_r) the held-out perplexity
rises with the pool's size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import betaln
from scipy.stats import beta as stats_beta
from scipy.stats import binom, hypergeom, poisson

from lmcollapse.analysis.verdict import BOUND  # held-out perplexity above BOUND x generation 0's: crossed
from lmcollapse.errors import LmcollapseError

EXACT_SPREAD = 10.0  # sum over the count's law where it lies within this many sd of the floor; else delta
TAIL_MASS = 1e-10  # a beta-binomial is summed up to its success rate's 1 - TAIL_MASS quantile
MAX_SUPPORT = 4096  # counts summed over per pair at most (beyond: the delta method, which is then accurate)
SPLIT_REAL_BELOW = 20  # accumulate-subsample: a pair seen at most this often in R splits its count (note 3)
RANDOM_VISITS_BELOW = 10.0  # a context expected fewer visits has random visits (note 1)
PARADIGMS = ("replace", "accumulate", "accumulate-subsample")


@dataclass(frozen=True)
class BigramData:
    """R's bigram counts and E's pairs, as the bigram model sees them (contexts 0..V-1 are tokens, V is the
    start-of-document pad; every document ends in the end token)."""

    vocab_size: int  # V: the smoothing spreads alpha over V tokens
    eos_id: int
    counts: sparse.csr_matrix  # (V+1, V) count of (context, token) in R
    heldout_context: np.ndarray  # (P,) context of each distinct pair of E
    heldout_token: np.ndarray  # (P,) its token
    heldout_weight: np.ndarray  # (P,) its occurrences in E
    n_real_docs: int
    max_tokens: int  # the sampling cap: a document is cut at this many tokens (then ended)

    @classmethod
    def from_corpora(cls, real, held_out, max_tokens: int) -> "BigramData":
        if real.eos_id is None:
            raise LmcollapseError("theory of held-out perplexity: the corpus needs end tokens (text corpora "
                                  "have them); fixed-length documents are not covered")
        V = real.vocab_size

        def pairs(corpus):
            ctx = np.full(corpus.n_tokens + len(corpus), V, dtype=np.int64)  # (targets,) BOS by default
            tok = np.empty_like(ctx)
            ends = np.cumsum(corpus.lengths + 1)  # end of each document's targets (its end token included)
            starts = ends - (corpus.lengths + 1)
            body = np.ones(len(ctx), dtype=bool)
            body[ends - 1] = False
            tok[body], tok[~body] = corpus.tokens, corpus.eos_id
            follows = np.ones(len(ctx), dtype=bool)
            follows[starts] = False  # each document's first target follows the pad
            ctx[follows] = tok[np.flatnonzero(follows) - 1]
            return ctx, tok

        ctx, tok = pairs(real)
        counts = sparse.csr_matrix((np.ones(len(ctx)), (ctx, tok)), shape=(V + 1, V))
        counts.sum_duplicates()
        e_ctx, e_tok = pairs(held_out)
        keys, weight = np.unique(e_ctx * V + e_tok, return_counts=True)
        return cls(V, int(real.eos_id), counts, keys // V, keys % V, weight.astype(np.float64), len(real),
                   int(max_tokens))

    @property
    def context_visits(self) -> np.ndarray:
        """(V+1,) visits to each context in R."""
        return np.asarray(self.counts.sum(axis=1)).ravel()

    @property
    def unseen_context_share(self) -> float:
        """Share of E's targets whose context R never visited (scored at R's unigram law here)."""
        unseen = self.context_visits[self.heldout_context] == 0
        return float(self.heldout_weight[unseen].sum() / self.heldout_weight.sum())


def occupation(data: BigramData, real_coef: np.ndarray, end_prob: np.ndarray, backoff_weight: np.ndarray,
               unigram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected visits per document to each context, (V+1,), and of those the visits at which the cap cut
    the document (the end token is then appended: a count of (x, end) no law drew), when documents are
    drawn from the kernel a(x) p_R(. | x) + b(x) u + (1 - a(x) - b(x)) q (q uniform; p_R R's maximum-likelihood
    law; u the back-off's unigram law, b(x) the chance the model backs off at x, its context unvisited in
    training), its end-token column replaced by end_prob(x), from the pad until the end token or the cap."""
    V, eos = data.vocab_size, data.eos_id
    visits_r = data.context_visits
    seen = visits_r > 0
    a = np.where(seen, real_coef, 0.0)
    b, u = backoff_weight, unigram
    rest = np.maximum(1 - a - b, 0.0)  # the smoothing's uniform part
    weighted = sparse.diags(np.where(seen, a / np.maximum(visits_r, 1), 0.0)) @ data.counts  # a(x) p_R(v | x)
    kernel_end = np.asarray(weighted[:, eos].todense()).ravel() + b * u[eos] + rest / V  # the kernel's end column
    go_on = (1 - end_prob) / np.maximum(1 - kernel_end, 1e-300)  # rescales every other column to 1 - end_prob
    state = np.zeros(V + 1)
    state[V] = 1.0  # every document starts at the pad
    visits = np.zeros(V + 1)
    for _ in range(data.max_tokens):
        visits += state
        moving = state * go_on
        nxt = np.asarray(weighted.T @ moving).ravel() + (moving @ b) * u + (moving @ rest) / V  # (V,) next token
        nxt[eos] = 0.0  # an ended document visits nothing more
        state = np.zeros(V + 1)
        state[:V] = nxt
    return visits + state, state  # a capped document is ended after its last token: one more visit


def _count_laws(n: np.ndarray, m: np.ndarray, s2: np.ndarray):
    """The law of a count on 0..n with mean m and variance s2 (module note 3), as up to two laws and the
    weight of the second: [(trials, success probability, a + b of the beta-binomial: inf for a binomial)],
    weight. Over-dispersed: the beta-binomial. Under-dispersed (a count of fixed or nearly fixed parts): the
    binomial on n' = m^2 / (m - s2) trials has both moments; n' is rarely an integer, so the binomials on
    floor(n') and on one trial more, with the same p = m / n', are mixed in proportion n' - floor(n') (the mean
    stays m; a jump from one to the other would make the prediction jump with the moments)."""
    binom_var = m * (1 - m / n)
    under = s2 < binom_var
    trials = np.where(under, m**2 / np.maximum(m - s2, 1e-300), n)
    trials = np.minimum(trials, n)
    lo = np.floor(trials)
    hi = np.minimum(lo + 1, n)
    w_hi = np.where(under & (hi > lo), trials - lo, 0.0)
    p_both = np.clip(m / np.maximum(trials, 1e-300), 1e-300, 1.0)  # one p: the mixture's mean is p n' = m
    # beta-binomial where over-dispersed: var = n p (1 - p) (a + b + n) / (a + b + 1); solve for a + b
    rho = np.where(binom_var > 0, s2 / np.maximum(binom_var, 1e-300), 1.0)
    over = ~under & (rho > 1 + 1e-9) & (n > 1)
    rho = np.clip(rho, 1 + 1e-9, np.maximum(n - 1e-9, 1 + 2e-9))
    ab = np.where(over, (n - rho) / (rho - 1), np.inf)
    return [(lo, p_both, ab), (hi, p_both, np.full(len(n), np.inf))], w_hi


def _expected_log(n, p, ab, offset, width: int) -> np.ndarray:
    """E[log(offset + Y)] for Y on 0..n (binomial, or beta-binomial where ab is finite), summed over
    Y < width (the caller's window holds all but a negligible share of the mass). The log-pmf is built by
    its ratio from y to y + 1, a cumulative sum, rather than by log-gamma functions at every y."""
    y = np.arange(width - 1, dtype=np.float64)[None, :]  # (1, W-1): the steps y -> y + 1
    nn, pp, abab = n[:, None], p[:, None], ab[:, None]
    beta = np.isfinite(abab)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_, b_ = np.where(beta, pp * abab, 1.0), np.where(beta, (1 - pp) * abab, 1.0)
        first = np.where(beta, betaln(a_, nn + b_) - betaln(a_, b_),
                         np.where(nn > 0, nn * np.log1p(-np.minimum(pp, 1.0)), 0.0))  # log P(Y = 0)
        step = np.log(np.maximum(nn - y, 0)) - np.log(y + 1) + np.where(
            beta, np.log(y + a_) - np.log(nn - y - 1 + b_), np.log(pp) - np.log1p(-np.minimum(pp, 1.0)))
        logpmf = np.concatenate([first, first + np.cumsum(step, axis=1)], axis=1)  # (P, W)
    valid = np.arange(width)[None, :] <= nn
    pmf = np.where(valid & np.isfinite(logpmf), np.exp(np.where(valid, logpmf, -np.inf)), 0.0)
    total = pmf.sum(axis=1, keepdims=True)
    certain = (pp[:, 0] >= 1.0)  # p = 1: all mass at n (the ratio form divides by 1 - p = 0)
    pmf = np.where(total > 0, pmf / np.where(total > 0, total, 1.0), 0.0)
    values = np.log(offset[:, None] + np.arange(width)[None, :])
    out = (pmf * values).sum(axis=1)
    out[certain] = np.log(offset[certain] + n[certain])
    return out


def _log_count_mean(mean: np.ndarray, var: np.ndarray, floor: np.ndarray, total: np.ndarray,
                    alpha: float) -> np.ndarray:
    """E[log(T + alpha)] for counts T on [floor, total] with these moments (the module's note 3)."""
    span = np.maximum(np.rint(total - floor), 0).astype(np.float64)  # values Y = T - floor can take
    mu = np.clip(mean - floor, 0.0, span)
    var = np.maximum(var, 0.0)
    out = np.log(mean + alpha) - var / (2 * (mean + alpha) ** 2)  # the delta method
    fixed = (span == 0) | (mu == 0)
    out[fixed] = np.log(floor + alpha)[fixed]
    sd = np.sqrt(var)
    reach = np.minimum(span, np.ceil(mu + EXACT_SPREAD * sd + 2))  # the largest Y worth summing to
    exact = ~fixed & (mu - EXACT_SPREAD * sd < 5) & (reach < MAX_SUPPORT)
    if not exact.any():
        return out
    idx = np.flatnonzero(exact)
    laws, w_hi = _count_laws(span[idx], mu[idx], var[idx])
    value = np.zeros(len(idx))
    for (n, p, ab), weight in zip(laws, (1 - w_hi, w_hi)):
        used = weight > 0
        window = reach[idx].copy()
        beta = used & np.isfinite(ab)  # a beta-binomial's tail is its beta's: a few sd do not hold its mass
        if beta.any():
            window[beta] = np.minimum(n[beta], np.ceil(n[beta] * stats_beta.isf(TAIL_MASS, p[beta] * ab[beta],
                                                                                (1 - p[beta]) * ab[beta])) + 2)
            window = np.minimum(window, MAX_SUPPORT)
        # windows grouped by powers of two, so that one wide law does not widen every other's
        bucket = np.ceil(np.log2(np.minimum(n, window + 1) + 2)).astype(int)
        for b in np.unique(bucket[used]):
            sel = used & (bucket == b)
            value[sel] += weight[sel] * _expected_log(n[sel], p[sel], ab[sel], floor[idx[sel]] + alpha, 2**b + 1)
    out[idx] = value
    return out


@dataclass
class HeldoutPath:
    """Expected held-out log-loss of models 0..T-1 (nats per token of E) and what it comes from."""

    paradigm: str
    rate: float
    alpha: float
    log_loss: np.ndarray  # (T,) E[-log M_t(v | x)] averaged over E: bias and variance
    bias_loss: np.ndarray  # (T,) -log E[M_t(v | x)] averaged over E: the expected model's (bias alone; the
    # rest, log_loss - bias_loss >= 0 by Jensen, is the models' spread around it)
    train_visits: np.ndarray  # (T,) training tokens of each generation (visits summed over contexts)
    unseen_in_r: np.ndarray  # (T,) log-loss share of E's pairs that R never showed (the accumulate term)
    context_visits: np.ndarray  # (T, V+1) expected training visits to each context
    pair_loss: np.ndarray  # (T, P) expected -log M_t(v | x) of each distinct pair of E (BigramData's order)

    @property
    def perplexity(self) -> np.ndarray:
        return np.exp(self.log_loss)

    @property
    def ratio(self) -> np.ndarray:
        return self.perplexity / self.perplexity[0]

    def crossing(self, bound: float = BOUND) -> int | None:
        """The first generation whose expected held-out perplexity exceeds bound x generation 0's."""
        above = np.flatnonzero(self.ratio > bound)
        return int(above[0]) if len(above) else None


def _subsampled_log_count(real: np.ndarray, pool1: np.ndarray, pool2: np.ndarray, f: float, n: np.ndarray,
                          alpha: float) -> np.ndarray:
    """E[log(T + alpha)] for a subsample's count T of a pair with `real` occurrences in R: the real part is
    Binomial(real, f) (each real document is in the subsample with chance f), the generated part is the
    thinned generated pool count (moments from the pool's, less the real), independent of it. A count of
    few real and few generated occurrences is not one bump: its moments alone put too many zeros."""
    syn1 = np.maximum(pool1 - real, 0.0)
    syn2 = np.maximum(pool2 - 2 * real * pool1 + real**2, syn1**2)
    t1 = f * syn1
    t_var = f * (1 - f) * syn1 + f**2 * (syn2 - syn1**2)
    out = np.zeros(len(real))
    for k in range(int(real.max()) + 1 if len(real) else 0):
        w = binom.pmf(k, real, f)  # (P,) chance that k real occurrences are in the subsample
        live = w > 1e-15
        if live.any():
            out[live] += w[live] * _log_count_mean(k + t1[live], t_var[live], np.full(live.sum(), float(k)),
                                                   np.maximum(n[live], k + t1[live]), alpha)
    return out


def _random_visits(mean_visits: np.ndarray, per_visit: np.ndarray, per_visit_var: np.ndarray,
                   backoff: np.ndarray, alpha: float, A: float, scored: np.ndarray) -> tuple[np.ndarray, ...]:
    """(expected loss, E[M], E[M^2]) of pairs whose context only generated text visits, and few times
    (module note 1): visits are Poisson(mean_visits); with none the model backs off to `backoff`; with n the
    pair's count has mean n mu and variance n mu (1 - mu) + n (n - 1) var(mu), mu the per-visit chance of
    the token. The loss is computed where `scored` (the probes need only the moments)."""
    top = int(np.ceil(mean_visits.max() + 8 * np.sqrt(mean_visits.max()) + 8)) if len(mean_visits) else 0
    loss, m1, m2, mass = (np.zeros(len(mean_visits)) for _ in range(4))
    for n in range(top + 1):
        w = poisson.pmf(n, mean_visits)  # (P,)
        mass += w
        if n == 0:
            _add_backoff(w, backoff, loss, m1, m2)
            continue
        live = w > 1e-12
        if live.any():
            mu, var_mu = per_visit[live], per_visit_var[live]
            t1 = n * mu
            _add_count(live, w[live], t1, n * mu * (1 - mu) + n * (n - 1) * var_mu, np.zeros(live.sum()),
                       np.full(live.sum(), float(n)), alpha, A, scored, loss, m1, m2)
    return loss / mass, m1 / mass, m2 / mass


def _add_backoff(w, backoff, loss, m1, m2) -> None:
    """Add, with weight w, the case where the context is not visited: the model backs off."""
    loss += w * -np.log(backoff)
    m1 += w * backoff
    m2 += w * backoff**2


def _add_count(rows, w, t1, t_var, floor, n, alpha, A, scored, loss, m1, m2) -> None:
    """Add, with weight w, the case where the context is visited n times and the pair's count has these
    moments, at `rows` (a mask or indices) of the accumulators."""
    index = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
    m1[index] += w * (t1 + alpha) / (n + A)
    m2[index] += w * (t_var + t1**2 + 2 * alpha * t1 + alpha**2) / (n + A) ** 2
    score = scored[index]
    if score.any():
        log_t = _log_count_mean(t1[score], t_var[score], floor[score], n[score], alpha)
        loss[index[score]] += w[score] * (np.log(n[score] + A) - log_t)


def _subsampled_few_visits(real_visits, real, syn_visits, syn1, syn2, f: float, backoff, alpha: float, A: float,
                           scored) -> tuple[np.ndarray, ...]:
    """(expected loss, E[M], E[M^2]) of pairs at contexts a subsample visits few times though R saw them:
    each real visit is in the subsample with chance f, j of them (binomial), of which k are the pair's
    (hypergeometric); generated visits are their expectation f syn_visits, the generated count thinned from
    the pool's (moments syn1, syn2), except that with no real visit they are Poisson (none: back-off)."""
    lam = f * syn_visits  # expected generated visits in the subsample
    mu = np.clip(syn1 / np.maximum(syn_visits, 1e-300), 0, 1)  # chance a generated visit is the pair's
    t_syn = f * syn1
    var_syn = f * (1 - f) * syn1 + f**2 * np.maximum(syn2 - syn1**2, 0.0)
    var_mu = np.maximum(syn2 - syn1**2, 0.0) / np.maximum(syn_visits, 1e-300) ** 2
    loss, m1, m2 = (np.zeros(len(real)) for _ in range(3))
    # No real visit: the generated visits alone (Poisson), as for a context R never saw.
    w0 = binom.pmf(0, real_visits, f)
    part = _random_visits(lam, mu, var_mu, backoff, alpha, A, scored)
    for acc, value in zip((loss, m1, m2), part):
        acc += w0 * value
    top = int(np.ceil((f * real_visits).max() + 8 * np.sqrt((f * real_visits).max()) + 8)) if len(real) else 0
    for j in range(1, min(top, int(real_visits.max(initial=0))) + 1):
        wj = binom.pmf(j, real_visits, f)
        for k in range(0, min(j, int(real.max(initial=0))) + 1):
            w = wj * hypergeom.pmf(k, real_visits, real, j)  # (P,) j real visits kept, k of them the pair's
            live = np.flatnonzero(w > 1e-12)
            if len(live):
                _add_count(live, w[live], k + t_syn[live], var_syn[live], np.full(len(live), float(k)),
                           j + lam[live], alpha, A, scored, loss, m1, m2)
    return loss, m1, m2


def _unvisited(paradigm: str, visits_r: np.ndarray, train_visits: np.ndarray, pool_visits: np.ndarray,
               f: float) -> np.ndarray:
    """(V+1,) the chance that D_t does not visit a context (the model then backs off), where visits are
    random (module note 1): Poisson for generated text, each real visit kept with chance f in a subsample."""
    unseen = visits_r == 0
    rand = unseen | ((paradigm != "accumulate") & (train_visits < RANDOM_VISITS_BELOW))
    generated_only = rand & (unseen | (paradigm == "replace"))
    real_few = rand & ~generated_only
    none_real = binom.pmf(0, visits_r, f)
    generated = f * np.maximum(pool_visits - visits_r, 0.0)  # a subsample's expected generated visits
    return np.where(generated_only, np.exp(-train_visits), np.where(real_few, none_real * np.exp(-generated), 0.0))


def heldout_path(data: BigramData, alpha: float, paradigm: str, generations: int, rate: float = 1.0) -> HeldoutPath:
    """The expected held-out log-loss of the add-alpha bigram, generation by generation (module note)."""
    if paradigm not in PARADIGMS:
        raise LmcollapseError(f"theory of held-out perplexity covers paradigm.name {', '.join(PARADIGMS)}, not "
                              f"{paradigm!r}; set paradigm.name to one of them")
    if alpha <= 0:
        raise LmcollapseError("theory of held-out perplexity needs smoothing > 0 (with 0 a pair R never "
                              "showed has probability 0 and the log-loss is infinite)")
    V, A, N = data.vocab_size, alpha * data.vocab_size, data.n_real_docs
    visits_r = data.context_visits  # (V+1,)
    unigram = np.asarray(data.counts.sum(axis=0)).ravel()  # (V,) the back-off level's counts in R
    # Tracked pairs: E's pairs, then three probes per context: counts 0 and 1 of a token other than the end
    # (their means give the context's mean kernel: means are affine in the starting count), and the end
    # token itself (the cap adds end tokens that no law drew).
    n_e, contexts = len(data.heldout_context), np.arange(V + 1)
    ctx = np.concatenate([data.heldout_context, contexts, contexts, contexts])
    other = (data.eos_id + 1) % V
    tok = np.concatenate([data.heldout_token, np.full(2 * (V + 1), other), np.full(V + 1, data.eos_id)])
    real = np.concatenate([np.asarray(data.counts[data.heldout_context, data.heldout_token]).ravel(),
                           np.zeros(V + 1), np.ones(V + 1), np.asarray(data.counts[:, data.eos_id].todense()).ravel()])
    probe0, probe1 = slice(n_e, n_e + V + 1), slice(n_e + V + 1, n_e + 2 * (V + 1))
    probe_end = slice(n_e + 2 * (V + 1), None)
    ends = tok == data.eos_id
    scored = np.arange(len(ctx)) < n_e  # E's pairs; the probes only carry moments
    unigram_law = (unigram + alpha) / (unigram.sum() + A)  # the model's law where its context is unseen
    backoff = unigram_law[tok]
    unvisited = np.zeros(V + 1)  # chance that a context is unvisited in D_t (R visits every context it saw)
    unseen = visits_r[ctx] == 0  # contexts R never visited: only generated text ever visits them
    weight, total_weight = data.heldout_weight, data.heldout_weight.sum()
    new_docs = N if paradigm == "replace" else max(int(round(rate * N)), 1)
    accumulating = paradigm != "replace"

    # Generation 0: the fit to R (exact).
    n0 = visits_r[ctx].astype(np.float64)
    m1 = np.where(unseen, backoff, (real + alpha) / (n0 + A))  # E[M_t(v | x)]
    m2 = m1**2  # E[M_t(v | x)^2]
    pair_loss = -np.log(m1[:n_e])
    pool1, pool2, pool_train = real.copy(), real**2, real**2  # E[P], E[P^2], E[P T]: the pool's count
    train1, train2 = real.copy(), real**2  # E[T], E[T^2]: the training set's count
    pool_visits, train_visits, pool_docs = visits_r.astype(np.float64), visits_r.astype(np.float64), N
    floor = real if paradigm == "accumulate" else np.zeros_like(real)
    losses, biases, shares, sizes, per_pair, visits_per_generation = [], [], [], [], [], []
    for t in range(generations):
        if t > 0:
            a = (m1[probe1] - m1[probe0]) * visits_r  # E[M(v | x)] = a(x) p_R(v | x) + b(x) u + ... q
            visits_per_doc, capped_per_doc = occupation(data, a, m1[probe_end], unvisited, unigram_law)
            new_visits = new_docs * visits_per_doc  # (V+1,)
            cut = np.where(ends, new_docs * capped_per_doc[ctx], 0.0)  # end tokens the cap appended
            draws = new_visits[ctx] - new_docs * capped_per_doc[ctx]  # successors drawn from the law
            previous_m1, previous_m2 = m1, m2
            # E[P M_{t-1}]: the pool's count against the previous model that draws the new documents
            pool_m = np.where(unseen, pool1 * m1, (pool_train + alpha * pool1) / (train_visits[ctx] + A))
            c1 = draws * m1 + cut  # E[C], E[C^2], E[P C] of the new documents' counts
            c2 = draws * m1 + draws * (draws - 1) * m2 + 2 * cut * draws * m1 + cut**2
            pc = draws * pool_m + cut * pool1
            if accumulating:
                pool1, pool2 = pool1 + c1, pool2 + 2 * pc + c2
                pool_visits, pool_docs = pool_visits + new_visits, pool_docs + new_docs
            else:
                pool1, pool2, pool_visits = c1, c2, new_visits
            f = N / pool_docs if paradigm == "accumulate-subsample" else 1.0
            pv = np.maximum(pool_visits[ctx], 1.0)
            # hypergeometric thinning of a count P of pv visits: Var(T | P) = f (1 - f) P (pv - P) / (pv - 1)
            thin_var = f * (1 - f) * np.maximum(pv * pool1 - pool2, 0.0) / np.maximum(pv - 1, 1.0)
            train1, train2, pool_train = f * pool1, thin_var + f**2 * pool2, f * pool2
            train_visits = f * pool_visits
            n = train_visits[ctx]
            # Pairs whose context's visits are few and all generated: visits are Poisson, and none means
            # back-off (module note 1). Else visits are their expectation.
            rand = unseen | ((paradigm != "accumulate") & (n < RANDOM_VISITS_BELOW))
            det = ~rand
            var = np.maximum(train2 - train1**2, 0.0)
            pair_all = np.zeros(len(ctx))
            sd = det & scored
            pair_all[sd] = np.log(n[sd] + A) - _log_count_mean(train1[sd], var[sd], floor[sd], n[sd], alpha)
            if paradigm == "accumulate-subsample":
                few = sd & (real <= SPLIT_REAL_BELOW)
                pair_all[few] = np.log(n[few] + A) - _subsampled_log_count(real[few], pool1[few], pool2[few],
                                                                          f, n[few], alpha)
            m1, m2 = (train1 + alpha) / (n + A), (train2 + 2 * alpha * train1 + alpha**2) / (n + A) ** 2
            if rand.any():
                if accumulating:  # the pool's share of the context's visits that went to the token
                    mu = np.clip(pool1[rand] / pv[rand], 0, 1)
                    var_mu = np.maximum(pool2[rand] - pool1[rand] ** 2, 0.0) / pv[rand] ** 2
                else:  # the chance per visit that the token follows, cut documents' end tokens included
                    mu = np.clip(c1[rand] / np.maximum(new_visits[ctx][rand], 1e-300), 0, 1)
                    var_mu = np.maximum(previous_m2[rand] - previous_m1[rand] ** 2, 0.0)
                only_generated = rand & (unseen | (paradigm == "replace"))
                g = only_generated[rand]
                pair_all[only_generated], m1[only_generated], m2[only_generated] = _random_visits(
                    n[only_generated], mu[g], var_mu[g], backoff[only_generated], alpha, A, scored[only_generated])
                few = rand & ~only_generated  # accumulate-subsample at a context R saw
                if few.any():
                    syn1 = np.maximum(pool1[few] - real[few], 0.0)
                    syn2 = np.maximum(pool2[few] - 2 * real[few] * pool1[few] + real[few] ** 2, syn1**2)
                    syn_visits = np.maximum(pool_visits[ctx][few] - visits_r[ctx][few], 0.0)
                    pair_all[few], m1[few], m2[few] = _subsampled_few_visits(
                        visits_r[ctx][few].astype(np.float64), real[few], syn_visits, syn1, syn2, f, backoff[few],
                        alpha, A, scored[few])
            pair_loss = pair_all[:n_e]
            unvisited = _unvisited(paradigm, visits_r, train_visits, pool_visits, f)
        total = (weight * pair_loss).sum()
        losses.append(total / total_weight)
        biases.append((weight * -np.log(m1[:n_e])).sum() / total_weight)
        per_pair.append(pair_loss)
        shares.append((weight * pair_loss)[real[:n_e] == 0].sum() / total)
        sizes.append(train_visits.sum())
        visits_per_generation.append(train_visits)
    return HeldoutPath(paradigm, rate, alpha, np.array(losses), np.array(biases), np.array(sizes), np.array(shares),
                       np.array(visits_per_generation), np.array(per_pair))


def heldout_for(config, generations: int | None = None) -> HeldoutPath:
    """heldout_path for a run config it covers: a text corpus with end tokens, model ngram of order 2,
    pure sampling, replace, accumulate or accumulate-subsample, no gates."""
    from lmcollapse.running.parts import load_source

    if config.model.name != "ngram" or config.model.order != 2:
        raise LmcollapseError("theory of held-out perplexity covers model.name=ngram with model.order=2 (bigram)")
    if config.gates:
        raise LmcollapseError("theory of held-out perplexity covers runs without gates")
    s = config.sampler
    if s.temperature != 1.0 or s.top_k or s.top_p < 1.0:
        raise LmcollapseError("theory of held-out perplexity covers pure sampling (temperature 1, no top-k/top-p)")
    source = load_source(config)
    data = BigramData.from_corpora(source.train, source.held_out, s.max_tokens)
    rate = getattr(config.paradigm, "rate", 1.0)
    return heldout_path(data, config.model.smoothing, config.paradigm.name, generations or config.generations, rate)
