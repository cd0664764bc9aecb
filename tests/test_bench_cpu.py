"""benchmarks/_cpu.py: the AVX2 child really runs on AVX2; the FLOP count is pytorch-fid's network's."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def cpu_bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _cpu

    return _cpu


def test_inception_flops_are_pytorch_fids_convolutions(cpu_bench):
    """The count (fast network, meta device) against pytorch-fid's own InceptionV3 structure:
    2 x multiply-adds of every Conv2d it calls for one 299x299 image."""
    from msgan_eval.features.inception import fid_inception_skeleton

    net = fid_inception_skeleton()
    total = []
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda m, _i, out: total.append(
                2 * out.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]))
    with torch.inference_mode():
        net(torch.empty(1, 3, 299, 299, device="meta"))
    assert len(total) == 94
    assert cpu_bench.inception_gflop_per_image() == pytest.approx(sum(total) / 1e9, rel=1e-12)


def test_frechet_benchmark_runs_each_instruction_set_in_its_child():
    """--isa both: a native child and an AVX2 child (ATen, oneDNN and OpenBLAS held to AVX2)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCHMARKS / "bench_frechet.py"), "--dims", "16",
                           "--n", "50", "--repeats", "1", "--json"], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    assert [r["isa"] for r in rows] == ["native", "avx2"]
    assert rows[1]["blas"] == "Haswell"
    assert all(r["rel_diff"] <= 1e-6 for r in rows)


def test_avx2_child_reports_avx2_kernels(cpu_bench):
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import _cpu, json; "
              "print(json.dumps(_cpu.isa_record('avx2')))")
    env = {**os.environ, **cpu_bench.ISA_ENV["avx2"], "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(BENCHMARKS)], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["aten"] == "AVX2" and "AVX2" in record["onednn"] and "512" not in record["onednn"]
