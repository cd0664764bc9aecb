"""How large is the mode-seeking term's gradient against pix2pix's own terms early in training?

Trains the demo's image-to-image setting (fashion-mnist-edges, width 0.25, batch 16, seed 0) with
``--ms-weight`` W and prints, at a few steps, lz = mean|G(A,z1) - G(A,z2)| / mean|z1 - z2|, the
term 1 / (lz + eps), and the L2 norms of the gradients w.r.t. G's parameters of the GAN term, the
L1 term and W * the mode-seeking term (each taken alone on the same batch, before the update).
The MS gradient is -W / (lz + eps)^2 * d lz: it grows as 1 / lz^2 while G still ignores z.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_pix2pix_msgrad.py [--ms-weight 1] [--steps 300]
        [--upsample basic] [--at 0,10,50,100,200,299] [--ms-cap TAU] [--ms-eps EPS] [--ms-warmup K]
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def grad_norm(loss, params) -> float:
    import torch

    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return float(torch.sqrt(sum((g ** 2).sum() for g in grads if g is not None)))


def probe(gan, real_a, real_b, z1, z2, weight, config) -> dict:
    """lz, the term, and each term's gradient norm on this batch (no update)."""
    import torch

    from msgan_eval.train.losses import mode_seeking_loss
    from msgan_eval.train.pix2pix import lsgan_loss

    params = [p for p in gan.G.parameters()]
    fake = gan.G(torch.cat([real_a, real_a]), torch.cat([z1, z2]))
    fake1, fake2 = torch.split(fake, real_a.shape[0])
    gan_term = (lsgan_loss(gan.D(torch.cat([real_a, fake1], 1)), True)
                + lsgan_loss(gan.D(torch.cat([real_a, fake2], 1)), True))
    l1 = torch.nn.functional.l1_loss(fake1, real_b) * config.lambda_l1
    ms = mode_seeking_loss(fake1, fake2, z1, z2, config.ms_eps, config.ms_cap)
    lz = (torch.mean(torch.abs(fake2 - fake1)) / torch.mean(torch.abs(z2 - z1))).item()
    return {"lz": lz, "ms": ms.item(), "g_gan": grad_norm(gan_term, params),
            "g_l1": grad_norm(l1, params),
            "g_ms": weight * grad_norm(ms, params) if weight else 0.0,
            "g_ms_unit": grad_norm(ms, params)}


def main() -> None:
    import torch

    from msgan_eval.train.data import batch_to_tensor
    from msgan_eval.train.paired_data import load_paired_data
    from msgan_eval.train.pix2pix import Pix2PixConfig, build_pix2pix, ms_weight_at, train_step
    from msgan_eval.train.trainer import epoch_order, step_noise, steps_per_epoch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ms-weight", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--upsample", default="basic")
    parser.add_argument("--ms-cap", type=float, default=None)
    parser.add_argument("--ms-eps", type=float, default=1e-5)
    parser.add_argument("--ms-warmup", type=int, default=0)
    parser.add_argument("--ms-ramp", type=int, default=0)
    parser.add_argument("--at", default="0,10,50,100,200,299")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = Pix2PixConfig(ms_weight=args.ms_weight, steps=args.steps, width=args.width,
                           upsample=args.upsample, ms_cap=args.ms_cap, ms_eps=args.ms_eps,
                           ms_warmup=args.ms_warmup,
                           ms_ramp=args.ms_ramp)
    data = load_paired_data(config.dataset, None, "train")
    gan = build_pix2pix(config, 1, 1, 32, torch.device("cpu"))
    per_epoch = steps_per_epoch(len(data), config.batch_size, 1)
    at = {int(s) for s in args.at.split(",")}
    print("step  weight  lz        1/(lz+eps)  |g_GAN|   |g_L1|    |W g_MS|  |g_MS| (W=1)")
    for step in range(args.steps):
        epoch, pos = divmod(step, per_epoch)
        order = epoch_order(len(data), config.seed, epoch, 0, 1)
        idx = order[pos * config.batch_size:(pos + 1) * config.batch_size]
        real_a, real_b = batch_to_tensor(data.inputs[idx]), batch_to_tensor(data.targets[idx])
        z1, z2 = step_noise(config.seed, 0, step, config.batch_size, config.z_dim)
        weight = ms_weight_at(config, step)
        if step in at:
            r = probe(gan, real_a, real_b, z1, z2, weight, config)
            print(f"{step:4d}  {weight:6.3f}  {r['lz']:.2e}  {r['ms']:10.3g}  {r['g_gan']:.2e}  "
                  f"{r['g_l1']:.2e}  {r['g_ms']:.2e}  {r['g_ms_unit']:.2e}", flush=True)
        train_step(gan, real_a, real_b, z1, z2, weight, config.lambda_l1, config.ms_eps,
                   config.ms_cap)


if __name__ == "__main__":
    main()
