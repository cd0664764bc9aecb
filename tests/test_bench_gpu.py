"""Smoke run of benchmarks/bench_gpu.py on the CPU (no GPU here): tiny sizes, random Inception."""
import os
import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


def _run(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}   # a smoke run on a shared 2-core machine
    return subprocess.run([sys.executable, str(BENCH), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)


def test_bench_gpu_runs_on_cpu_with_tf32_off(random_weights):
    result = _run("--device", "cpu", "--images", 2, "--batch-sizes", 2, "--diff-images", 2,
                  "--frechet-n", 100, "--frechet-dims", 32, "--inception-weights", random_weights)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    extraction = [line for line in lines if line.startswith("extraction cpu batch 2 ")]
    assert len(extraction) == 1 and "tf32=False" in extraction[0]   # torch's cuDNN default is True
    assert re.search(r"msgan-eval [\d.]+ img/s, ratio [\d.]+x", extraction[0])
    diff = next(line for line in lines if line.startswith("diff of features"))
    maxima = [float(m) for m in re.findall(r"max ([\d.e+-]+)", diff)]
    assert len(maxima) == 2 and all(0 <= m <= 1e-4 for m in maxima), diff
    frechet = next(line for line in lines if line.startswith("frechet d=32 n=100"))
    assert float(re.search(r"rel diff ([\d.e+-]+)", frechet).group(1)) <= 1e-6


def test_bench_gpu_documents_its_options():
    result = _run("--help")
    assert result.returncode == 0
    for option in ("--device", "--allow-tf32", "--images", "--frechet-n", "--inception-weights"):
        assert option in result.stdout
