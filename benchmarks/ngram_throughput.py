"""Throughput and memory of one count-model generation (fit + sample + metrics) on the whole KJV,
beside NLTK's nltk.lm MLE trigram (fit + generate) on the same tokens.

    python benchmarks/ngram_throughput.py [--order 3] [--scale 10] [--nltk-generate 2000]

Prints tokens/s for each stage (medians of six generations, three timed before NLTK's run and three after,
as the machine's speed drifts), the peak memory of the generation (tracemalloc, which sees numpy's
allocations), and the same for a corpus `--scale` times larger (KJV repeated) to show memory grows with the
corpus by a small constant factor. Needs `pip install nltk` for the reference (without it, or with
--skip-nltk, three generations).
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import time
import tracemalloc

import numpy as np

from lmcollapse.running.parts import load_source
from lmcollapse.running.parts import load_config
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.metrics import GenerationView, default_metrics, measure
from lmcollapse.metrics import base as metrics_base
from lmcollapse.metrics.base import RealStatistics
from lmcollapse.metrics.resampling import Resampled
from lmcollapse.models.ngram import NGramModel
from lmcollapse.models.decoding import Sampler
from lmcollapse.config import NGramConfig, SamplerConfig


def kjv(n_eval: int = 1000):
    config = load_config({"corpus": {"name": "kjv", "n_train": 30834 - n_eval, "n_eval": n_eval}})
    return load_source(config)


def one_generation(real: Corpus, held_out: Corpus, order: int, smoothing: float, stats: RealStatistics, seed: int = 0,
                   trace_memory: bool = False, ci_rounds: int = 0) -> dict:
    """Fit, sample N documents, measure: the work of one generation, timed by stage.

    tracemalloc slows numpy allocations, so timings come from a run without it and memory from one with it.
    """
    gc.collect()
    if trace_memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    model = NGramModel(NGramConfig(order=order, smoothing=smoothing)).fit(real)
    t1 = time.perf_counter()
    samples = model.sample(len(real), sampler=Sampler(SamplerConfig(max_tokens=128)), seed=seed, generation=1)
    t2 = time.perf_counter()
    # `stats` persists across generations as in the runner (R's distinct n-grams are found once per run).
    view = GenerationView(0, model, real, real, samples, samples, real, held_out, real_stats=stats)
    measure(view, [m for m in default_metrics() if m not in ("kl_to_truth", "tv_to_truth")],
            seed=seed, rounds=ci_rounds)
    t3 = time.perf_counter()
    peak = None
    if trace_memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"train_tokens": real.n_tokens, "sampled_tokens": samples.n_tokens, "fit_s": t1 - t0,
            "sample_s": t2 - t1, "metrics_s": t3 - t2, "total_s": t3 - t0, "peak_bytes": peak}


def nltk_reference(real: Corpus, symbols: list[str], order: int, n_generate: int) -> dict | None:
    try:
        from nltk.lm import MLE
        from nltk.lm.preprocessing import padded_everygram_pipeline
    except ImportError:
        print("nltk not installed: pip install nltk for the reference figures")
        return None
    sentences = [[symbols[t] for t in real.doc(i)] for i in range(len(real))]
    t0 = time.perf_counter()
    train, vocab = padded_everygram_pipeline(order, sentences)
    lm = MLE(order)
    lm.fit(train, vocab)
    t1 = time.perf_counter()
    generated = lm.generate(n_generate, random_seed=0)
    t2 = time.perf_counter()
    return {"train_tokens": real.n_tokens, "fit_s": t1 - t0, "generated": len(generated),
            "generate_s": t2 - t1}


def half_sample_draw_s(n_docs: int, rounds: int = 100, trials: int = 5) -> float:
    """Seconds an interval spends drawing its half-samples alone (a metric that costs nothing to recompute)."""
    free = Resampled(0.0, n_docs, lambda mask: 0.0, lambda masks: np.zeros(len(masks)))
    best = float("inf")
    for trial in range(trials):
        start = time.perf_counter()
        free.interval(np.random.default_rng(trial), rounds)
        best = min(best, time.perf_counter() - start)
    return best


def sort_s(n_keys: int, trials: int = 5) -> float:
    """Seconds numpy takes to sort n_keys random int64 keys: the floor under counting n-grams by sorting."""
    keys = np.random.default_rng(0).integers(0, 2**40, n_keys)
    best = float("inf")
    for _ in range(trials):
        copy = keys.copy()
        start = time.perf_counter()
        copy.sort()
        best = min(best, time.perf_counter() - start)
    return best


def counting_sort_s(n_keys: int, bound: int, trials: int = 5) -> float:
    """Seconds numpy takes to order n_keys random 16-bit tokens below bound stably (a counting sort): what
    each n-gram level costs on top of the one below (ngrams.sorted_ngram_levels, the fit's counted_by_level)."""
    keys = np.random.default_rng(0).integers(0, bound, n_keys).astype(np.uint16)
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        np.argsort(keys, kind="stable")
        best = min(best, time.perf_counter() - start)
    return best


def repeat(corpus: Corpus, times: int) -> Corpus:
    return Corpus.concat([corpus] * times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--smoothing", type=float, default=1e-4)
    parser.add_argument("--scale", type=int, default=10, help="size of the large-corpus run, in KJVs")
    parser.add_argument("--nltk-generate", type=int, default=20000, help="tokens NLTK generates (it is slow)")
    parser.add_argument("--skip-nltk", action="store_true")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}")
    data = kjv()
    symbols = data.tokenizer.symbols_
    print(f"KJV: {len(data.train)} training verses, {data.train.n_tokens:,} tokens, vocabulary {len(symbols):,}")

    cache = RealStatistics(data.train)
    one_generation(data.train, data.held_out, args.order, args.smoothing, cache)  # generation 0 fills the cache
    # Each stage's median over three generations, and three more after NLTK's run: this shared machine's speed
    # drifts by a quarter or more within a minute, so ours is timed on both sides of NLTK's minute.
    timed = [one_generation(data.train, data.held_out, args.order, args.smoothing, cache, seed=seed)
             for seed in (1, 2, 3)]
    ref = None if args.skip_nltk else nltk_reference(data.train, symbols, args.order, args.nltk_generate)
    if ref is not None:
        timed += [one_generation(data.train, data.held_out, args.order, args.smoothing, cache, seed=seed)
                  for seed in (4, 5, 6)]
    ours = {key: np.median([t[key] for t in timed]) for key in timed[0] if key != "peak_bytes"}
    ours["sampled_tokens"] = int(ours["sampled_tokens"])
    totals = ", ".join(f"{t['total_s']:.2f}" for t in timed)
    ours["peak_bytes"] = one_generation(data.train, data.held_out, args.order, args.smoothing, cache, seed=2,
                                        trace_memory=True)["peak_bytes"]
    # A process's first generation with intervals also pays for importing scipy.sparse and first calls; a
    # run pays that once, so it is left out. The extra seconds are the median of three pairs of generations,
    # with the columns' intervals drawn two at a time (as runs do) and, alternately, one at a time.
    one_generation(data.train, data.held_out, args.order, args.smoothing, cache, ci_rounds=100)
    as_runs_do = metrics_base.INTERVAL_THREADS
    extra, serial = [], []
    for seed in (1, 2, 3):
        for threads, found in ((as_runs_do, extra), (1, serial)):
            metrics_base.INTERVAL_THREADS = threads
            with_intervals = one_generation(data.train, data.held_out, args.order, args.smoothing, cache, seed=seed,
                                            ci_rounds=100)
            without = one_generation(data.train, data.held_out, args.order, args.smoothing, cache, seed=seed)
            found.append(with_intervals["metrics_s"] - without["metrics_s"])
    metrics_base.INTERVAL_THREADS = as_runs_do
    processed = ours["train_tokens"] + ours["sampled_tokens"]
    ours_rate = processed / ours["total_s"]
    print(f"\nlmcollapse ngram order {args.order} (medians of {len(timed)} generations"
          f"{', 3 before and 3 after NLTK' if len(timed) > 3 else ''}): fit {ours['fit_s']:.2f}s, sample "
          f"{ours['sample_s']:.2f}s ({ours['sampled_tokens']:,} tokens), metrics {ours['metrics_s']:.2f}s, total "
          f"{ours['total_s']:.2f}s (each: {totals})")
    print(f"  throughput: {ours['train_tokens'] / ours['total_s'] / 1e6:.2f}M corpus tokens/s "
          f"({ours_rate / 1e6:.2f}M tokens/s trained + sampled), peak memory {ours['peak_bytes'] / 2**20:.0f} MiB")
    print(f"  95% intervals (ci_rounds=100, the default) add {np.median(extra):+.2f}s to the metrics (median of "
          f"3 pairs; {', '.join(f'{e:+.2f}' for e in extra)}); drawn one column at a time "
          f"{np.median(serial):+.2f}s ({', '.join(f'{e:+.2f}' for e in serial)})")
    print(f"  of which drawing one column's 100 half-samples of {len(data.train):,} documents (each column has "
          f"its own stream): {1000 * half_sample_draw_s(len(data.train)):.0f} ms")
    counting_ms = 1000 * counting_sort_s(ours["sampled_tokens"], len(symbols))
    print(f"  numpy sorts {ours['sampled_tokens']:,} random int64 keys (one n's keys of the samples) in "
          f"{1000 * sort_s(ours['sampled_tokens']):.0f} ms on this machine; a stable counting sort of as many tokens "
          f"(one n-gram level on top of the one below) takes {counting_ms:.0f} ms")

    if ref is not None:
        gen_rate = ref["generated"] / ref["generate_s"]
        # NLTK's time for the same generation: its fit plus generating as many tokens as we sampled.
        nltk_total = ref["fit_s"] + ours["sampled_tokens"] / gen_rate
        nltk_rate = processed / nltk_total
        print(f"\nnltk.lm MLE order {args.order}: fit {ref['fit_s']:.1f}s ({ref['train_tokens'] / ref['fit_s']:,.0f} "
              f"tokens/s), generate {gen_rate:,.0f} tokens/s (measured on {ref['generated']} tokens)")
        print(f"  same generation would take {nltk_total:,.0f}s: {nltk_rate:,.0f} tokens/s")
        same_work = ours["fit_s"] + ours["sample_s"]
        print(f"  speed-up of lmcollapse, whole generation (our metrics included, NLTK has none): "
              f"{nltk_total / ours['total_s']:,.0f}x")
        print(f"  speed-up on the same work (fit + sample): {nltk_total / same_work:,.0f}x "
              f"(fit alone {ref['fit_s'] / ours['fit_s']:,.0f}x, sampling alone "
              f"{(ours['sampled_tokens'] / ours['sample_s']) / gen_rate:,.0f}x)")

    big = repeat(data.train, args.scale)
    corpus_bytes = big.tokens.nbytes + big.offsets.nbytes
    del data
    held_out = kjv().held_out
    cache = RealStatistics(big)
    one_generation(big, held_out, args.order, args.smoothing, cache)
    result = one_generation(big, held_out, args.order, args.smoothing, cache, seed=1)
    result["peak_bytes"] = one_generation(big, held_out, args.order, args.smoothing, cache, seed=2,
                                          trace_memory=True)["peak_bytes"]
    print(f"\n{args.scale}x KJV ({big.n_tokens / 1e6:.1f}M tokens, {corpus_bytes / 2**20:.0f} MiB as int32 tokens + "
          f"offsets): total {result['total_s']:.1f}s, "
          f"{(result['train_tokens'] + result['sampled_tokens']) / result['total_s'] / 1e6:.2f}M tokens/s, "
          f"peak {result['peak_bytes'] / 2**20:.0f} MiB = {result['peak_bytes'] / corpus_bytes:.1f}x the corpus")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
