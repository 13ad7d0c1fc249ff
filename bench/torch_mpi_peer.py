#!/usr/bin/env python3
"""The PyTorch peer of mpi_bench: one data-parallel Adam step on the gloo
backend with 2 processes, at the same sizes, timed the same way.

  /usr/bin/python3 bench/torch_mpi_peer.py [--rounds R] [--sizes 1048576,16777216]

Debian's python3-torch (1.13) provides torch.distributed with gloo. The
parameters are 64 float32 tensors (N/64 elements each), with a fixed
gradient per rank, as a model's would be. Contenders, each step timed from a
barrier to its end on the slowest rank, median over the rounds:

  all_reduce           all_reduce of every gradient (async, then wait):
                       the floor of a DDP-style step on gloo
  DDP-style + Adam     that all_reduce, grad /= P, torch.optim.Adam.step()
                       (foreach, PyTorch's default)
  ZeroRedundancy(Adam) that all_reduce, grad /= P, and
                       ZeroRedundancyOptimizer(Adam).step(), which steps
                       this rank's share of the tensors and broadcasts them
State bytes per rank: the Adam moments this rank holds (exp_avg, exp_avg_sq).
"""

import argparse
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.optim import ZeroRedundancyOptimizer

TENSORS = 64


def timed(step):
    dist.barrier()
    start = time.perf_counter()
    step()
    mine = torch.tensor([time.perf_counter() - start], dtype=torch.float64)
    dist.all_reduce(mine, op=dist.ReduceOp.MAX)
    return mine.item()


def state_bytes(optimizer):
    if isinstance(optimizer, ZeroRedundancyOptimizer):
        optimizer = optimizer.optim
    total = 0
    for state in optimizer.state.values():
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                total += state[key].numel() * state[key].element_size()
    return total


def worker(rank, world, sizes, rounds):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    if rank == 0:
        print(f"torch {torch.__version__}, gloo, {world} processes, {TENSORS} tensors, "
              f"{rounds} rounds; median ms per step on the slowest rank\n")
        print(f"{'N':>10}  {'contender':<28}  {'ms':>9}  {'x all_reduce':>12}  {'state MiB/rank':>14}")
    for n in sizes:
        per = n // TENSORS
        steps = 3 if n >= 1 << 24 else 10
        params_adam = [torch.full((per,), 0.5, requires_grad=True) for _ in range(TENSORS)]
        params_zero = [torch.full((per,), 0.5, requires_grad=True) for _ in range(TENSORS)]
        params_ar = [torch.full((per,), 0.5, requires_grad=True) for _ in range(TENSORS)]
        for k, group in enumerate((params_adam, params_zero, params_ar)):
            for i, p in enumerate(group):
                idx = torch.arange(per, dtype=torch.float64) + i * per
                p.grad = (0.25 + 0.5 * torch.sin(0.001 * idx + rank).abs()).float()
        adam = torch.optim.Adam(params_adam, lr=1e-3)
        zero = ZeroRedundancyOptimizer(params_zero, optimizer_class=torch.optim.Adam, lr=1e-3)

        def reduce(params):
            handles = [dist.all_reduce(p.grad, async_op=True) for p in params]
            for h in handles:
                h.wait()

        def with_optimizer(params, optimizer):
            def step():
                reduce(params)
                for p in params:
                    p.grad.div_(world)
                optimizer.step()
            return step

        contenders = [
            ("all_reduce", lambda: reduce(params_ar), None),
            ("DDP-style + Adam", with_optimizer(params_adam, adam), adam),
            ("ZeroRedundancy(Adam)", with_optimizer(params_zero, zero), zero),
        ]
        times = {name: [] for name, _, _ in contenders}
        for _, step, _ in contenders:
            step()  # state, pages
        for r in range(rounds):
            for k in range(len(contenders)):
                name, step, _ = contenders[(k + r) % len(contenders)]
                for _ in range(steps):
                    times[name].append(timed(step))
        floor = statistics.median(times["all_reduce"])
        for name, _, optimizer in contenders:
            b = torch.tensor([state_bytes(optimizer) if optimizer else 0], dtype=torch.float64)
            dist.all_reduce(b, op=dist.ReduceOp.MAX)
            if rank == 0:
                m = statistics.median(times[name])
                print(f"{n:>10}  {name:<28}  {1e3 * m:>9.2f}  {m / floor:>12.2f}  "
                      f"{b.item() / 2**20:>14.1f}")
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default="1048576,16777216")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    mp.spawn(worker, args=(args.processes, sizes, args.rounds), nprocs=args.processes)


if __name__ == "__main__":
    main()
