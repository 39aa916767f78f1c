"""Would training many small GPTs as one batched network pay on a CPU? (P20 item 2)

    python benchmarks/batched_gpts.py [--members 4] [--n-embd 64] [--n-layer 2] [--batch 32] [--repeats 10]

A study trains hundreds of small independent networks, one per run and generation. The idea: stack S of them
into one network (grouped matmuls, per-member optimiser state) so that each operation is S times larger. It
can only pay if a single network's operations are too small to keep a core busy. One torch thread (what each
worker of a study's local pool gets), the paper grid's GPT (2 layers, width 64, vocabulary 1,000, batches of
32 rows of 128 tokens), one AdamW step per member, on random tokens. Timed, per step of all S members:

  separate  S networks one after another: what S runs on one core do today
  vmap      torch.func: the S networks' parameters stacked and the step vmapped (the general technique)
  one-net   one network on an S-times larger batch: the same arithmetic in operations S times larger, as
            large as any grouping could make them (one set of weights instead of S)

and beside them each one's model FLOPs utilisation (MFU): 6 x parameters x tokens/s against the core's
measured float32 matmul rate. A single network that already runs at a share m of that rate leaves batching
at most 1/m to gain, even if batching reached the full rate; whether larger operations get closer is what
one-net measures. Prints the CPU it ran on. The issue's goal was 2.5x.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F

from lmcollapse.models.neural.device import cpu_description
from lmcollapse.models.neural.transformer import GPT, Architecture


def best_seconds(step, repeats: int, trials: int = 3) -> float:
    """The best mean over several trials: a neighbour's burst on a shared machine inflates single timings."""
    for _ in range(2):
        step()  # warm-up: allocator and kernel selection
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def matmul_gflops(n: int = 512, repeats: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 / best_seconds(lambda: a @ b, repeats) / 1e9


def adamw(params) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1, fused=True)


def loss_of(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())  # logits (B, T, V), y (B, T)


def one_step(net, opt, x, y) -> None:
    opt.zero_grad(set_to_none=True)
    loss_of(net(x), y).backward()
    opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4, help="networks stacked (S)")
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32, help="rows per optimiser step and member")
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    S, B, T, V = args.members, args.batch, args.block, args.vocab
    arch = Architecture(V + 1, T, args.n_layer, max(1, args.n_embd // 32), args.n_embd, 0.0)
    nets = [GPT(arch) for _ in range(S)]
    parameters = sum(p.numel() for p in nets[0].parameters())
    x = torch.randint(0, V, (S, B, T))  # (S, B, T) each member's batch
    y = torch.randint(0, V, (S, B, T))
    print(f"{cpu_description()}; torch {torch.__version__}, 1 thread")
    print(f"{S} networks of {parameters:,} parameters ({args.n_layer} layers, width {args.n_embd}), batches of "
          f"{B} x {T} tokens\n")

    optimisers = [adamw(net.parameters()) for net in nets]

    def separate():
        for i, (net, opt) in enumerate(zip(nets, optimisers)):
            one_step(net, opt, x[i], y[i])

    from torch.func import functional_call, stack_module_state, vmap

    shell = copy.deepcopy(nets[0])  # the module whose forward runs with each member's parameters
    stacked, buffers = stack_module_state(nets)  # name -> (S, ...) tensors
    stacked = {k: v.detach().requires_grad_() for k, v in stacked.items()}
    stacked_opt = adamw(list(stacked.values()))
    member_loss = vmap(lambda p, b, xi, yi: loss_of(functional_call(shell, (p, b), (xi,)), yi))

    def vmapped():
        stacked_opt.zero_grad(set_to_none=True)
        member_loss(stacked, buffers, x, y).sum().backward()  # members' losses add: their gradients stay apart
        stacked_opt.step()

    big = copy.deepcopy(nets[0])
    big_opt = adamw(big.parameters())
    x_all, y_all = x.flatten(0, 1), y.flatten(0, 1)  # (S * B, T)

    def one_net():
        big_opt.zero_grad(set_to_none=True)
        loss_of(big(x_all), y_all).backward()
        big_opt.step()

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # vmap warns that attention has no batching rule: part of what is timed
        times = {name: best_seconds(step, args.repeats) for name, step in
                 (("separate", separate), ("vmap", vmapped), ("one-net", one_net))}
    tokens = S * B * T
    rate = matmul_gflops()
    one_row = best_seconds(lambda: one_step(nets[0], optimisers[0], x[0, :1], y[0, :1]), args.repeats)
    full = best_seconds(lambda: one_step(nets[0], optimisers[0], x[0], y[0]), args.repeats)
    print("| technique | ms per step of all members | tokens/s | speed-up over separate | MFU |")
    print("|---|---|---|---|---|")
    for name, seconds in times.items():
        mfu = 6 * parameters * tokens / seconds / 1e9 / rate
        print(f"| {name} | {seconds * 1000:.0f} | {tokens / seconds:,.0f} | {times['separate'] / seconds:.2f}x | "
              f"{mfu:.0%} |")
    print(f"\nthe core's float32 matmul rate (512 x 512): {rate:.0f} GFLOP/s")
    print(f"one network's step: {one_row * 1000:.1f} ms on 1 row, {full * 1000:.1f} ms on {B} rows: the part of a step "
          f"that does not grow with the batch (overhead) is at most {one_row / full:.0%} of it")
    single_mfu = 6 * parameters * tokens / times["separate"] / 1e9 / rate
    print(f"one network alone runs at {single_mfu:.0%} of the matmul rate: batching can give at most "
          f"{1 / single_mfu:.1f}x even at the full rate; S-times larger operations gave "
          f"{times['separate'] / times['one-net']:.2f}x, vmap {times['separate'] / times['vmap']:.2f}x")


if __name__ == "__main__":
    main()
