"""Generation-0 fit diagnostics of the paper's GPT under 0.4's preset and 0.5's, beside a long-trained reference.

    python benchmarks/gen0_diagnostics.py [--seeds 0,1,2] [--long-patience 8] [--max-epochs 100] [--threads 1]

The GPT of `reproduce paper` (and of the mitigation benchmark) on its real training set R, three ways:
0.4's preset (2 epochs), 0.5's (8 epochs: studies/paper.yaml) and the long-trained reference (early stopping
on a 10% validation split of R with a long patience: the best held-out loss this size reaches). For each,
the columns the runner's `fit` and `heldout_ppl` metrics report at generation 0, measured the same way (the
metrics module, on N = |R| documents the model samples): held-out perplexity on E, the median probability
the model gives the tokens of its training documents, and the dispersion gap (the entropy of its own samples
minus its held-out cross-entropy, nats: above 0 it writes noisier text than it reads). Means over seeds,
with each seed's value. P19's first "Must show"; docs/paper.md quotes the table.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from lmcollapse.config import GPTConfig, SamplerConfig
from lmcollapse.metrics import GenerationView, measure
from lmcollapse.models.decoding import Sampler
from lmcollapse.models.gpt import GPTModel
from lmcollapse.models.neural.device import cpu_description
from lmcollapse.running.parts import load_config, load_source
from lmcollapse.studies import load_spec

EPOCHS_IN_0_4 = 2  # the paper GPT's epochs in lmcollapse 0.4 (tests/run_dir_names.py holds the same fact)
COLUMNS = [("held-out perplexity", "heldout_ppl", "{:.1f}"), ("median target probability", "target_prob_p50", "{:.3f}"),
           ("dispersion gap (nats)", "dispersion_gap", "{:+.3f}"), ("epochs run", "epochs_run", "{:.0f}")]


def diagnose(section: dict, data, sampler: Sampler, seed: int) -> dict:
    """Fit generation 0 on R with the model section, sample N documents, measure as the runner does."""
    model = GPTModel(GPTConfig(**{k: v for k, v in section.items() if k != "name"}))
    start = time.process_time()
    model.fit(data.train, seed=seed)
    samples = model.sample(len(data.train), sampler=sampler, seed=seed, generation=0)
    view = GenerationView(0, model, data.train, data.train, samples, samples, data.train, data.held_out,
                          max_tokens=sampler.max_tokens)
    row = dict(measure(view, ["heldout_ppl", "model_entropy", "fit"], seed=seed, rounds=0).values)
    row["process_s"] = time.process_time() - start
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--long-patience", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch's CPU threads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"{cpu_description()}; torch threads: {args.threads}")
    spec = load_spec("paper")["models"]["gpt"]
    data = load_source(load_config({k: spec[k] for k in ("corpus", "tokenizer")}))
    sampler = Sampler(SamplerConfig(**spec.get("sampler", {})))
    model = spec["model"]
    fits = {f"0.4 preset ({EPOCHS_IN_0_4} epochs)": {**model, "epochs": EPOCHS_IN_0_4},
            f"0.5 preset ({model['epochs']} epochs)": model,
            "long-trained reference": {**model, "epochs": "auto", "patience": args.long_patience,
                                       "max_epochs": args.max_epochs}}
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"GPT {model['n_layer']} layers, width {model['n_embd']}; R = {len(data.train)} verses, "
          f"E = {len(data.held_out)}; seeds {seeds}; mean (per seed)")
    print("| fit | " + " | ".join(label for label, _, _ in COLUMNS) + " | process-s |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for label, section in fits.items():
        rows = [diagnose(section, data, sampler, seed) for seed in seeds]
        cells = []
        for _, column, fmt in COLUMNS:
            values = np.array([row[column] for row in rows], dtype=float)
            cells.append(f"{fmt.format(values.mean())} ({' / '.join(fmt.format(v) for v in values)})")
        seconds = np.mean([row["process_s"] for row in rows])
        print(f"| {label} | " + " | ".join(cells) + f" | {seconds:.0f} |")


if __name__ == "__main__":
    main()
