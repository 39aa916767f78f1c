"""Which probe mode can tell a trained GPT from the same architecture untrained, at CPU scale?

Trains generation 0 of a small GPT on 2,000 KJV verses (BPE 1,000, 2 layers of width 64, block 64, 2
epochs at 3e-3), then probes it and an untrained copy on kjv-genre (600 training and 400 test verses):
the linear probe on frozen last-token states, and fine-tuning for 3 epochs at three learning rates.
Each comparison is made with 3 seeds (the untrained copy's initialisation and the probe's own seed);
prints every accuracy and the mean; the README's "The downstream probe" quotes them. About a minute on
2 cores.

    python benchmarks/probe_modes.py
"""
from __future__ import annotations

import tempfile

import lmcollapse
from lmcollapse.config import ProbeConfig
from lmcollapse.running.parts import new_model
from lmcollapse.probes.protocol import probe
from lmcollapse.probes.split import ProbeSplit

CONFIG = {"corpus": {"n_train": 2000, "n_eval": 300}, "tokenizer": {"name": "bpe", "vocab_size": 1000},
          "model": {"name": "gpt", "block_size": 64, "n_embd": 64, "n_layer": 2, "n_head": 2, "epochs": 2, "lr": 3e-3},
          "sampler": {"max_tokens": 63}, "generations": 1, "ci_rounds": 0, "metrics": ["heldout_ppl"],
          "probe": {"task": "kjv-genre", "n_train": 600, "n_test": 400, "epochs": 3}}
SEEDS = (0, 1, 2)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = lmcollapse.run(CONFIG, out_dir=f"{tmp}/run")
        split = ProbeSplit.read(run.path / "docs")
        trained = run.model(0)
        print(f"{'mode':<18} {'trained (3 seeds)':>24} {'untrained (3 seeds)':>24}  mean difference")
        for mode, lr in (("linear", None), ("finetune", 1e-4), ("finetune", 3e-4), ("finetune", 1e-3)):
            settings = ProbeConfig(task="kjv-genre", mode=mode, **({"lr": lr} if lr else {}))
            ours, theirs = [], []
            for seed in SEEDS:
                ours.append(probe(trained, split, settings, seed=seed).accuracy.value)
                untrained = new_model(run.config).untrained(run.real, seed=seed)
                theirs.append(probe(untrained, split, settings, seed=seed).accuracy.value)
            label = mode if lr is None else f"{mode} lr {lr:g}"
            show = lambda xs: " ".join(f"{x:.3f}" for x in xs)  # noqa: E731
            print(f"{label:<18} {show(ours):>24} {show(theirs):>24}  {sum(ours) / 3 - sum(theirs) / 3:+.3f}")


if __name__ == "__main__":
    main()
