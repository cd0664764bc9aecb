"""The 2D trainer's batching: T trials as one batched model vs T single-trial models, same run.

CPU time per training step of all T trials (one torch thread), PacGAN's networks by default:
``batched`` is one step of the (T, ...) model; ``separate`` is T steps of (1, ...) models, i.e.
what T processes or a loop over trials would cost. The ratio is the speed goal (same run, same
machine); the refs note expected ~1.5-2x on a CPU (the step is compute-bound), more on a GPU.

    python benchmarks/bench_toy2d.py [--trials 10] [--steps 5] [--width 1.0] [--pack 1]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def cpu_per_step(config, steps: int) -> float:
    import torch

    from msgan_eval.train.toy2d import Toy2DData, build_toy2d, make_toy2d_step
    from msgan_eval.train.trainer import Dist

    data = Toy2DData(config)
    gan = build_toy2d(config, data, torch.device("cpu"))
    step = make_toy2d_step(gan, data, config, Dist(0, 1, torch.device("cpu"), False))
    idx = np.arange(config.batch_size)
    z = torch.randn(config.batch_size, config.z_dim, generator=torch.Generator().manual_seed(0))
    step(idx, z, z)                                   # warm-up (and the first-epoch refresh)
    t0 = time.process_time()
    for _ in range(steps):
        step(idx, z, z)
    return (time.process_time() - t0) / steps


def main() -> None:
    import torch

    from msgan_eval.train.toy2d import Toy2DConfig

    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--pack", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(1)
    common = dict(dataset="ring", pack=args.pack, width=args.width, n_train=10_000,
                  bn_refresh_batches=0, steps=1)
    batched = cpu_per_step(Toy2DConfig(trials=args.trials, **common), args.steps)
    single = cpu_per_step(Toy2DConfig(trials=1, **common), args.steps)
    print(json.dumps({"trials": args.trials, "width": args.width, "pack": args.pack,
                      "batched_cpu_s_per_step": round(batched, 4),
                      "separate_cpu_s_per_step": round(single * args.trials, 4),
                      "speedup": round(single * args.trials / batched, 2)}))


if __name__ == "__main__":
    main()
