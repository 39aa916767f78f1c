"""The paper's TinyStories-1M preset for two generations on CUDA: does the hf backend train and sample there
in bfloat16 with fused attention, and how fast. Run by benchmarks/cuda_check.sh on a machine with a GPU.

    python benchmarks/cuda_check.py [--stories 20000] [--generations 2]    # on CUDA
    python benchmarks/cuda_check.py --dry-run                              # the same path, tiny, on the CPU

Offline by design (a GPU machine here reaches no hub): the stories are KJV passages of four consecutive
verses, written in TinyStories' published .txt format (stories separated by <|endoftext|>) and read by the
`tinystories` corpus from corpus.path. Everything else is configs/paper-tinystories-1m.yaml: the GPT-Neo
sizes of TinyStories-1M, byte-level BPE of 50,257 entries trained on generation 0's stories, block 1024,
3 epochs, batch 320, samples of up to 600 tokens, replace. Prints the machine, the attention kernel the
model uses, and per generation: training and sampling tokens per second and the held-out perplexity;
then the peak GPU memory.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "src"))

STORY_VERSES = 4  # consecutive verses per story: passages of about 100 words, overlapping by three verses


def write_stories(path: Path, stories: int) -> int:
    """The KJV as TinyStories-format text: overlapping passages of STORY_VERSES verses; how many written."""
    from lmcollapse.sources.text import kjv_path

    verses = [json.loads(line)["text"].strip() for line in kjv_path().read_text().splitlines() if line.strip()]
    count = min(stories, len(verses) - STORY_VERSES + 1)
    passages = (" ".join(verses[i:i + STORY_VERSES]) for i in range(count))
    path.write_text("\n<|endoftext|>\n".join(passages) + "\n")
    return count


def config_for(path: Path, stories: int, generations: int, dry_run: bool) -> dict:
    from lmcollapse.config import read_config_file

    config = read_config_file(ROOT / "configs" / "paper-tinystories-1m.yaml")
    eval_docs = max(stories // 10, 20)
    config.update(generations=generations, save_models=False, ci_rounds=0)
    config["corpus"].update(path=str(path), n_train=stories - eval_docs, n_eval=eval_docs)
    config["model"].update(device="cpu" if dry_run else "cuda", precision="fp32" if dry_run else "bf16")
    if dry_run:  # the same components at toy size, so that the path runs in seconds on a CPU
        config["tokenizer"]["vocab_size"] = 1000
        config["model"].update(block_size=128, batch_size=16, epochs=1)
        config["sampler"]["max_tokens"] = 32
    return config


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return f"CPU {cpu}; GPU {gpu}; torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=20_000, help="stories in R and E together")
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="a tiny version on the CPU (tests run it)")
    parser.add_argument("--out", default=None, help="the run directory (default: a temporary one)")
    args = parser.parse_args()
    import torch

    import lmcollapse

    stories = 240 if args.dry_run else args.stories
    if not args.dry_run and not torch.cuda.is_available():
        sys.exit("cuda_check: no CUDA device here (torch.cuda.is_available() is False); --dry-run runs it on the CPU")
    print(machine())
    with tempfile.TemporaryDirectory() as scratch:
        text = Path(scratch) / "stories.txt"
        written = write_stories(text, stories)
        config = config_for(text, written, args.generations, args.dry_run)
        out = Path(args.out) if args.out else Path(scratch) / "run"
        torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
        started = time.perf_counter()
        run = lmcollapse.run(config, out_dir=out, progress=False)
        wall = time.perf_counter() - started
        model = run.model(0)
        net = model.net_.model if hasattr(model.net_, "model") else model.net_
        attention = getattr(net.config, "_attn_implementation", "n/a")
        parameters = sum(p.numel() for p in net.parameters())
        print(f"model: {config['model']['hf_config']} sizes, {parameters:,} parameters, attention {attention}, "
              f"precision {config['model']['precision']}, device {config['model']['device']}")
        print(f"stories: {written} ({config['corpus']['n_train']} train, {config['corpus']['n_eval']} held out)")
        epochs = config["model"]["epochs"]
        for t in range(run.generations_done):
            manifest = run.manifest(t)
            trained = int(run.corpus(t).lengths.sum()) * epochs  # tokens seen by the optimiser
            sampled = int(run.samples(t).lengths.sum())
            row = run.metrics[t]
            print(f"generation {t}: training {trained / manifest.seconds['fit']:,.0f} tokens/s "
                  f"({manifest.seconds['fit']:.1f} s), sampling {sampled / manifest.seconds['sample']:,.0f} tokens/s "
                  f"({manifest.seconds['sample']:.1f} s), held-out perplexity {row.get('heldout_ppl', float('nan')):.4g}")
        peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
        print(f"peak GPU memory {peak:.2f} GiB; wall {wall:.0f} s for {run.generations_done} generations")


if __name__ == "__main__":
    main()
