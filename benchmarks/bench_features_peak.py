"""How close the DINOv2 / CLIP towers run to this CPU's fp32 GEMM peak: the ceiling on any
speed-up of feature extraction over the reference pipelines, which run the same GEMMs.

One thread, thread CPU time (the machines are shared: wall time under load says little). Prints
the GEMM throughput (1024^3 fp32 matmul), then per network its forward FLOPs per image (torch's
FlopCounterMode) and the throughput of a batch-8 forward as a fraction of that peak.

    .venv/bin/python benchmarks/bench_features_peak.py
"""
import time

import timm
import torch
from torch.utils.flop_counter import FlopCounterMode

NETWORKS = (("dinov2-vit-s14", "vit_small_patch14_dinov2", 224),
            ("clip-vit-b32", "vit_base_patch32_clip_224", 224))


def cpu_seconds(step, reps: int) -> float:
    step()                                   # warm-up: allocation, oneDNN kernel selection
    start = time.thread_time()
    for _ in range(reps):
        step()
    return (time.thread_time() - start) / reps


def main() -> None:
    torch.set_num_threads(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    peak = 2 * 1024 ** 3 / cpu_seconds(lambda: a @ b, 20) / 1e9
    print(f"fp32 GEMM 1024^3, 1 thread: {peak:.1f} GFLOP/s")
    for name, timm_name, size in NETWORKS:
        model = timm.create_model(timm_name, pretrained=False, num_classes=0, img_size=size).eval()
        x = torch.randn(8, 3, size, size)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
        flops = counter.get_total_flops() / len(x)
        with torch.no_grad():
            per_image = cpu_seconds(lambda: model(x), 3) / len(x)
        print(f"{name}: {flops / 1e9:.2f} GFLOP/img, {1 / per_image:.2f} img/s, "
              f"{flops / per_image / 1e9:.1f} GFLOP/s = {flops / per_image / 1e9 / peak:.0%} of the "
              f"GEMM peak")


if __name__ == "__main__":
    main()
