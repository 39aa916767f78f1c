"""Early stopping when the training set holds copies: the validation split over rows (before) against over
documents (now), on the mitigation benchmark's fine-tuned GPT under Drayson et al.'s resampling.

    python benchmarks/validation_copies.py [--seed 0] [--bases DIR] [--out /tmp/validation-copies]

Runs the benchmark's `gpt-finetune / replace / detector-importance beta 10` row for 2 generations twice in
this process, one torch thread: with the split as it was (a share of the rows, so copies of one document can
fall on both sides) and as it is (a share of the distinct documents, every copy with its document). The
generation-0 fit sees no copies and is the same both ways; generation 1 trains on the resampled pool, up to
3 copies of a document. Printed per generation and way: epochs run, fit seconds, the validation loss early
stopping read, and held-out perplexity on E (what the benchmark watches). --bases: a folder of pretrained
bases to reuse (a study's OUT/bases); without one, the base is pretrained first (about 8 minutes).
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

import lmcollapse
from lmcollapse.models.neural.training import VALIDATION_STREAM, Training
from lmcollapse.studies import load_spec, mitigations

ROW = ("gpt-finetune", "replace", "detector-importance beta 10")


def split_over_rows(self, corpus, seed):
    """The split as it was before: a share of the rows, whatever documents they copy."""
    if self.validation_share == 0 or len(corpus) < 2:
        return corpus, None
    n = min(max(1, int(round(self.validation_share * len(corpus)))), len(corpus) - 1)
    held = np.zeros(len(corpus), dtype=bool)
    held[np.random.default_rng([seed, VALIDATION_STREAM]).choice(len(corpus), size=n, replace=False)] = True
    return corpus.take(np.flatnonzero(~held)), corpus.take(np.flatnonzero(held))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bases", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/validation-copies"))
    args = parser.parse_args()
    import torch

    from lmcollapse.models.neural.device import cpu_description

    torch.set_num_threads(1)  # what each worker of a study's local pool gets
    print(f"{cpu_description()}; torch threads: 1\n")
    spec = mitigations.effective_spec(load_spec("mitigations"))
    spec["generations"] = 2
    chosen, _ = mitigations.points(spec, (ROW[0],), out_dir=args.out)
    config = next(p.config for p in chosen if (p.model, p.setting, p.mitigation) == ROW)
    if args.bases:
        config["model"]["base"] = str(args.bases)
    config["seed"] = args.seed
    print(f"row: {' / '.join(ROW)}, seed {args.seed}\n")
    print("| split | generation | epochs run | fit s | validation loss | held-out ppl |")
    print("|---|---|---|---|---|---|")
    now = Training._split
    for name, split in (("over rows (before)", split_over_rows), ("over documents (now)", now)):
        Training._split = split
        out = args.out / name.split()[1]
        shutil.rmtree(out, ignore_errors=True)
        try:
            run = lmcollapse.run(config, out_dir=out, progress=False)
        finally:
            Training._split = now
        for t, row in enumerate(run.metrics):
            manifest = run.manifest(t)
            print(f"| {name} | {t} | {row.get('epochs_run')} | {manifest.seconds.get('fit', 0):.1f} | "
                  f"{row.get('validation_loss', float('nan')):.3f} | {row['heldout_ppl']:.2f} |")


if __name__ == "__main__":
    begun = time.perf_counter()
    main()
    print(f"\n(this script: {(time.perf_counter() - begun) / 60:.1f} min)")
