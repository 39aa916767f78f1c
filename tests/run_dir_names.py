"""The run-directory name of every config the project ships or a study plans, plus one config per component
with non-default keys: what tests/data/run_dir_names.json records and test_rundir checks, so that a change to
how sections are declared never renames (and so orphans) a user's runs.

`python tests/run_dir_names.py > tests/data/run_dir_names.json` records the names of the lmcollapse on the
path; it was run with lmcollapse 0.4.0 (commit 32c8bb9), before the sections moved beside their components.
"""
import json
import sys
from pathlib import Path

from lmcollapse import load_config
from lmcollapse.config import parse_config
from lmcollapse.studies import load_spec as load_study
from lmcollapse.studies import mitigations, paper, quality
from lmcollapse.running.rundir import run_dir_name
from lmcollapse.sweep.spec import load_spec as load_sweep
from lmcollapse.sweep.spec import point_config

ROOT = Path(__file__).resolve().parent.parent

# One config per component, each key away from its default (a name alone when there is no key).
COMPONENTS = {
    "paradigm mix": ["paradigm.name=mix", "paradigm.real_fraction=0.3"],
    "paradigm accumulate": ["paradigm.name=accumulate", "paradigm.rate=0.5"],
    "paradigm accumulate-subsample": ["paradigm.name=accumulate-subsample", "paradigm.rate=0.2"],
    "paradigm fresh": ["paradigm.name=fresh", "paradigm.fresh_fraction=0.2", "corpus.name=markov",
                       "corpus.doc_length=20"],
    "tokenizer word": ["tokenizer.lowercase=true", "tokenizer.min_count=2"],
    "tokenizer bpe": ["tokenizer.name=bpe", "tokenizer.vocab_size=3000"],
    "tokenizer pretrained": ["tokenizer.name=pretrained", "tokenizer.path=tok", "tokenizer.eos_token=</s>"],
    "model ngram": ["model.order=3", "model.smoothing=0.01"],
    "model gpt": ["model.name=gpt", "model.n_layer=3", "model.lr=0.001", "model.warm_start=true"],
    "model hf": ["model.name=hf", "model.block_size=64"],
    "corpus files": ["corpus.name=files", "corpus.path=a.txt", "corpus.unit=paragraph"],
    "corpus markov": ["corpus.name=markov", "corpus.vocab_size=9", "corpus.order=2", "corpus.doc_length=20"],
    "corpus categorical": ["corpus.name=categorical", "corpus.probs=[0.5,0.3,0.2]", "corpus.doc_length=5"],
    "corpus tinystories": ["corpus.name=tinystories", "corpus.path=stories.jsonl", "corpus.n_train=100"],
    "gates": ["gates=[dedup, {name: perplexity, high: 0.5}, {name: verifier, error_rate: 0.1}]"],
}


# Presets changed on purpose since 0.4.0 (another experiment, so another directory: P19 trains the GPT presets
# to within a few percent of their best held-out loss), and configs added since: names(as_of_0_4=True) puts
# back the 0.4.0 values and leaves the new configs out, so that everything else about them stays checked.
EPOCHS_IN_0_4 = {"cpu-gpt.yaml": 4, "paper": 2, "mitigations": 2}
ADDED_SINCE_0_4 = {"markov-gpt.yaml", "gpt-finetune", "gpt-markov"}  # configs, and the paper study's model rows
# The mitigation benchmark's rows in 0.4.0. Its version 2 (P21) dropped six of them (DROPPED_BY_VERSION_2: peers
# not as published, a tautological verifier) and added others; names(as_of_0_4=True) leaves the added ones out.
MITIGATIONS_0_4 = {"none", "exact-dedup", "dedup", "perplexity band", "verifier", "verifier noisy 0.2", "token-edit",
                   "reweight", "detector-resample", "tce", "temperature 0.7", "top-p 0.9", "top-k 50", "mix 0.5",
                   "fresh 0.1", "accumulate r=0.1"}
DROPPED_BY_VERSION_2 = {"verifier", "verifier noisy 0.2", "token-edit", "detector-resample", "tce", "top-k 50"}


def _study(name: str, as_of_0_4: bool) -> dict:
    spec = load_study(name)
    if as_of_0_4:
        gpt = spec["models"]["gpt"]
        (gpt.get("base") or gpt)["model"]["epochs"] = EPOCHS_IN_0_4[name]
    return spec


def names(as_of_0_4: bool = False) -> dict[str, str]:
    out = {"lmcollapse run (the built-in default)": run_dir_name(load_config(None))}
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        if path.stem == "quality-vs-quantity" or (as_of_0_4 and path.name in ADDED_SINCE_0_4):  # a study: below
            continue
        # A local copy of TinyStories: the hub needs HF datasets, which the tests do not install.
        overrides = ["corpus.path=stories.jsonl"] if "tinystories" in path.stem else []
        if as_of_0_4 and path.name in EPOCHS_IN_0_4:
            overrides.append(f"model.epochs={EPOCHS_IN_0_4[path.name]}")
        spec = load_sweep(path, overrides)
        for point in spec.points():
            for seed in spec.seeds:
                out[f"configs/{path.name} {point.label} seed {seed}"] = run_dir_name(point_config(spec, point, seed))
    for quick in (False, True):
        suffix = " quick" if quick else ""
        spec = paper.effective_spec(_study("paper", as_of_0_4), quick)
        for p in paper.points(spec):
            if as_of_0_4 and p.model in ADDED_SINCE_0_4:
                continue
            out[f"paper{suffix} {p.model} {p.label}"] = run_dir_name(load_config(p.config))
        spec = mitigations.effective_spec(_study("mitigations", as_of_0_4), quick)
        shipped = [p for p in mitigations.points(spec)[0]  # not a gate a test loaded with --plugin
                   if p.mitigation in spec["mitigations"] or p.setting == mitigations.REFERENCE]
        for p in shipped:
            if as_of_0_4 and (p.model in ADDED_SINCE_0_4 or p.mitigation not in MITIGATIONS_0_4):
                continue
            out[f"mitigations{suffix} {' '.join(p.tags.values())}"] = run_dir_name(load_config(p.config))
        spec = quality.effective_spec(load_study(str(ROOT / "configs" / "quality-vs-quantity.yaml")), quick)
        for v in quality.variants(spec):
            out[f"quality-vs-quantity{suffix} {v.setting} {v.label}"] = run_dir_name(load_config(v.config))
    for label, overrides in COMPONENTS.items():
        out[label] = run_dir_name(parse_config(None, overrides))  # validated, not checked against extras
    return out


if __name__ == "__main__":
    json.dump(names(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
