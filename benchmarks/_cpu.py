"""CPU instruction sets for the benchmarks: each ISA measured in its own child process.

Users' CPUs are AVX2-only, AVX-512 or GPUs; the developers' CPU has AVX-512. ``--isa avx2`` holds
the kernels of a child process to AVX2 before torch loads (oneDNN convolutions, ATen's vectorised
kernels, MKL's and OpenBLAS's GEMM, numpy's SIMD loops), so both instruction sets are measured on
one machine, in one run. The cores stay the same: caches, clocks and the width of the FMA units
are this machine's.

Also here: a short fp32 GEMM probe (``torch.mm``, best of a few), the measured peak that Inception
throughput is compared with, and the FID Inception's FLOPs per image counted from its convolution
shapes at 299x299.
"""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time

ISA_CHOICES = ("native", "avx2", "both")
ISA_ENV = {
    "native": {},
    # oneDNN (convolutions), ATen (elementwise, pooling), MKL (torch.mm), OpenBLAS (numpy, scipy:
    # the Fréchet distance; Haswell is its AVX2 kernel set), and numpy's own SIMD loops (exp, log,
    # sorting: its AVX-512 targets as numpy >= 2.4 names them; an unknown name is only an
    # ImportWarning, which tests/test_docs_examples.py turns into a failure).
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
             "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
             "NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL,AVX512_SPR"},
}
CHILD = "MSGAN_BENCH_ISA"     # set in a child: the instruction set it runs under


def add_isa_option(parser) -> None:
    parser.add_argument("--isa", choices=ISA_CHOICES, default="both",
                        help="instruction set: native, avx2 (kernels held to AVX2 in a child "
                             "process) or both, one child each (default)")


def child_isa() -> str | None:
    """The instruction set this process was started for, or None in the parent."""
    return os.environ.get(CHILD)


def run_children(script: str, argv: list, isa: str) -> dict:
    """``script argv --json`` once per instruction set, each in a child process: ISA -> its JSON."""
    results = {}
    for name in (("native", "avx2") if isa == "both" else (isa,)):
        env = {**os.environ, **ISA_ENV[name], CHILD: name}
        done = subprocess.run([sys.executable, script, *argv, "--isa", name, "--json"], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{script} --isa {name} failed:\n{done.stderr[-3000:]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def onednn_isa() -> str:
    """The instruction set oneDNN dispatches to, from its verbose header (one tiny convolution)."""
    import torch

    if not hasattr(torch.ops.mkldnn, "_convolution_pointwise"):
        return "unknown"
    sys.stdout.flush()
    with tempfile.TemporaryFile(mode="w+") as captured:
        saved = os.dup(1)
        os.dup2(captured.fileno(), 1)     # oneDNN prints with C stdio, not through sys.stdout
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                torch.ops.mkldnn._convolution_pointwise(
                    torch.ones(1, 8, 8, 8), torch.ones(8, 8, 3, 3), None, [0, 0], [1, 1], [1, 1], 1,
                    "none", [], "")
        finally:
            ctypes.CDLL(None).fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
        captured.seek(0)
        lines = captured.read().splitlines()
    return next((line.split(",isa:", 1)[1] for line in lines if ",isa:" in line), "unknown")


def isa_record(isa: str) -> dict:
    """What the kernels really ran on; an avx2 child that is not held to AVX2 is an error."""
    import torch

    record = {"isa": isa, "aten": torch.backends.cpu.get_cpu_capability(), "onednn": onednn_isa()}
    if isa == "avx2" and (record["aten"] != "AVX2" or "AVX-512" in record["onednn"]):
        raise SystemExit(f"--isa avx2 did not take: ATen {record['aten']}, oneDNN {record['onednn']}")
    return record


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Measured fp32 GEMM rate (``torch.mm`` of two n x n matrices, best of ``repeats``), GFLOP/s."""
    import torch

    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)    # warm-up: MKL's thread pool and buffers
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def inception_gflop_per_image(dims: int = 2048) -> float:
    """FLOPs (2 x multiply-adds) of the FID Inception's convolutions for one 299x299 image.

    Counted from the convolution shapes by running the network on the meta device (no data, no
    weights): the BatchNorm-folded network has the same convolutions as pytorch-fid's.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from msgan_eval.features.inception_fast import FastFIDInception, state_dict_shapes

    state = {k: torch.empty(shape, device="meta") for k, shape in state_dict_shapes().items()}
    net = FastFIDInception(state, dims)
    # On the meta device every convolution takes PyTorch's ordinary road, which the counter knows.
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(torch.empty(1, 3, 299, 299, device="meta"))
    return counter.get_total_flops() / 1e9
