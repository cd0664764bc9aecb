"""torchrun: two CPU processes on gloo give the same FID and statistics as one process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_random_pngs
from click.testing import CliRunner

from msgan_eval import distributed
from msgan_eval.cli import main
from msgan_eval.features.stats_cache import load_fid_stats

VENV_BIN = Path(sys.executable).parent


def test_shard_splits_by_rank_without_overlap(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    seen = []
    for r in range(3):
        monkeypatch.setenv("RANK", str(r))
        seen.append(distributed.shard(range(10)))
    assert seen == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    monkeypatch.delenv("WORLD_SIZE")
    assert distributed.shard(range(4)) == [0, 1, 2, 3]
    assert distributed.all_reduce_sum(np.arange(3)).tolist() == [0.0, 1.0, 2.0]


def _msgan_eval(args, nproc):
    """JSON of the CLI: in this process for nproc 1, else rank 0's stdout under torchrun."""
    if nproc == 1:
        # One thread like each torchrun rank: float32 convolutions round differently per thread count.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            result = CliRunner().invoke(main, [str(a) for a in args])
        finally:
            torch.set_num_threads(threads)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [str(VENV_BIN / "torchrun"), "--standalone", f"--nproc_per_node={nproc}",
           "-m", "msgan_eval", *args]
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout   # only rank 0 prints
    return json.loads(lines[0])


def test_two_processes_equal_one(tmp_path, random_weights):
    a = write_random_pngs(tmp_path / "a", 7, seed=21)
    b = write_random_pngs(tmp_path / "b", 6, seed=22)
    common = ["--dims", "64", "--inception-weights", random_weights, "--no-cache", "--json",
              "--quiet", "--device", "cpu"]
    one = _msgan_eval(["fid", a, b, *common], 1)
    two = _msgan_eval(["fid", a, b, *common], 2)
    assert two["processes"] == 2 and one["processes"] == 1
    assert two["n"] == one["n"] == [7, 6]
    assert two["fid"] == pytest.approx(one["fid"], rel=1e-9)

    s1, s2 = tmp_path / "one.npz", tmp_path / "two.npz"
    _msgan_eval(["stats", a, "-o", s1, *common], 1)
    _msgan_eval(["stats", a, "-o", s2, *common], 2)
    one_stats, two_stats = load_fid_stats(s1), load_fid_stats(s2)
    assert two_stats.n == one_stats.n == 7
    np.testing.assert_allclose(two_stats.mu, one_stats.mu, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(two_stats.sigma, one_stats.sigma, rtol=1e-9, atol=1e-14)
