"""Record the reference metrics rows that tests/test_metrics_suite.py compares the metric suite against.

    python tests/data/metrics/record.py [SRC]   # writes reference.json beside this file, from SRC's lmcollapse

Run once, on the code before the metric suite was rewritten for speed (lmcollapse 0.4.0.dev0, commit
557c4dc, whose metric values equal 0.3.0's): the rewritten suite must give the same values and intervals to
floating-point rounding. Each case: a count model fitted on real text, its samples, every default metric
with 95% intervals from 30 half-samples.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent


def recorded_draws(model, n: int, sampler):
    """The samples as the recording drew them: since P20 the count model draws truncated samplers' documents
    from a sparse law in another order (the same law), so the dense path the recording used draws them here,
    and this test stays about the metrics."""
    try:
        from lmcollapse.models import truncated
    except ImportError:  # the code the record was made with has no sparse path
        return model.sample(n, sampler=sampler, seed=5, generation=1)
    saved, truncated.RESHAPE_PER_DRAW = truncated.RESHAPE_PER_DRAW, True
    try:
        return model.sample(n, sampler=sampler, seed=5, generation=1)
    finally:
        truncated.RESHAPE_PER_DRAW = saved


def cases():
    """(name, view) for each reference case: KJV verses under a trigram and a unigram, a Markov chain under top-p."""
    from lmcollapse.config import SamplerConfig
    from lmcollapse.running.parts import load_config, load_source
    from lmcollapse.metrics import GenerationView
    from lmcollapse.metrics.base import RealStatistics
    from lmcollapse.models.ngram import NGramConfig, NGramModel
    from lmcollapse.models.decoding import Sampler

    kjv = load_source(load_config({"corpus": {"name": "kjv", "n_train": 1500, "n_eval": 200}}))
    markov = load_source(load_config({"corpus": {"name": "markov", "vocab_size": 30, "order": 1, "doc_length": 40,
                                                 "n_train": 400, "n_eval": 50}}))
    for name, data, order, sampler in (("kjv-trigram", kjv, 3, {"max_tokens": 128}),
                                       ("kjv-unigram", kjv, 1, {"max_tokens": 60}),
                                       ("markov-bigram-top-p", markov, 2, {"top_p": 0.9})):
        model = NGramModel(NGramConfig(order=order, smoothing=0.01)).fit(data.train)
        samples = recorded_draws(model, len(data.train), Sampler(SamplerConfig(**sampler)))
        yield name, GenerationView(1, model, data.train, data.train, samples, samples, data.train, data.held_out,
                                   real_stats=RealStatistics(data.train), truth=getattr(data, "truth", None),
                                   max_tokens=sampler.get("max_tokens"), doc_length=40 if name.startswith("markov") else None)


def rows() -> dict:
    from lmcollapse.metrics import default_metrics, measure

    out = {}
    for name, view in cases():
        names = [m for m in default_metrics() if view.truth is not None or m not in ("kl_to_truth", "tv_to_truth")]
        row = measure(view, names, seed=11, rounds=30)
        out[name] = {"values": row.values, "intervals": {k: list(v) for k, v in row.intervals.items()}}
    return out


if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else str(HERE.parents[2] / "src"))  # the code to record
    (HERE / "reference.json").write_text(json.dumps(rows(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {HERE / 'reference.json'}")
