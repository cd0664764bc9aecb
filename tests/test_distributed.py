"""torchrun: two CPU processes on gloo give the same FID, statistics and compare report as one."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from msgan_eval import distributed
from msgan_eval.cli import main
from msgan_eval.features.stats_cache import load_fid_stats

from conftest import write_random_pngs

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
    """JSON of the CLI: in this process for nproc 1, else rank 0's stdout under torchrun. Every
    process computes with one thread (``--threads 1``; the default follows the machine's load)."""
    args = ["--threads", "1", *args]
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


def test_all_gather_rows_puts_rows_back_in_order_in_one_process():
    rows = np.arange(12, dtype=np.float64).reshape(4, 3)
    got = distributed.all_gather_rows(rows, [2, 0, 3, 1])
    np.testing.assert_array_equal(got, rows[[1, 3, 0, 2]])
    assert got.dtype == np.float64
    with pytest.raises(ValueError, match="0..N-1"):
        distributed.all_gather_rows(rows, [0, 0, 1, 2])
    with pytest.raises(ValueError, match="positions"):
        distributed.all_gather_rows(rows, [0, 1])


_GATHER_SCRIPT = '''
import json
import numpy as np
from msgan_eval import distributed

distributed.init_distributed()
out = {}
for n, shape, dtype in ((7, (5, 2), np.float64), (1, (3,), np.int64)):
    full = np.arange(n * int(np.prod(shape))).reshape(n, *shape).astype(dtype)
    full[::2] *= 3                      # rows that differ, not just 0..N-1 in order
    positions = distributed.shard(range(n))
    got = distributed.all_gather_rows(full[positions], positions)
    out[str(n)] = {"equal": bool(np.array_equal(got, full)), "dtype": str(got.dtype),
                   "mine": len(positions)}
if distributed.is_main_process():
    print(json.dumps(out))
distributed.close_distributed()
'''


def test_all_gather_rows_over_two_processes_restores_the_original_order(tmp_path):
    """Unequal shards (4 + 3 rows) and an empty one (1 row on 2 ranks) come back in order."""
    script = tmp_path / "gather.py"
    script.write_text(_GATHER_SCRIPT)
    cmd = [str(VENV_BIN / "torchrun"), "--standalone", "--nproc_per_node=2", str(script)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out == {"7": {"equal": True, "dtype": "float64", "mine": 4},
                   "1": {"equal": True, "dtype": "int64", "mine": 1}}


def _compare_inputs(root: Path) -> dict:
    """Two runs with two conditions each (so LPIPS conditions are split between the ranks)."""
    from msgan_eval.features.lpips_net import write_random_backbone

    for run, sizes, seed in (("base", (4, 3), 31), ("cand", (3, 3), 32)):
        for k, n in enumerate(sizes):
            write_random_pngs(root / run / f"c{k}", n, seed=seed + 10 * k)
    write_random_pngs(root / "ref", 8, seed=33)
    return {"base": root / "base", "cand": root / "cand", "ref": root / "ref",
            "alex": write_random_backbone("alex", root / "alex.pth")}


def test_compare_two_processes_equal_one(tmp_path, random_weights, monkeypatch):
    inputs = _compare_inputs(tmp_path / "in")
    reports = {}
    for nproc in (1, 2):
        # A cache of its own each, so the 2-process run computes the reference statistics itself.
        monkeypatch.setenv("MSGAN_EVAL_CACHE", str(tmp_path / f"cache{nproc}"))
        out = tmp_path / f"out{nproc}"
        payload = _msgan_eval(["compare", "--baseline", inputs["base"],
                               "--candidate", inputs["cand"], "--ref", inputs["ref"],
                               "--metrics", "fid,lpips,ndb", "--dims", "64",
                               "--inception-weights", random_weights, "--lpips-backbone",
                               inputs["alex"], "--ndb-bins", "3", "--bootstrap", "20", "--out", out,
                               "--device", "cpu", "--json", "--quiet"], nproc)
        assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "report.md"]
        reports[nproc] = json.loads((out / "report.json").read_text())
        assert payload["runs"] == reports[nproc]["runs"]
    one, two = reports[1], reports[2]
    assert (one["parameters"]["processes"], two["parameters"]["processes"]) == (1, 2)
    assert one["metrics"] == two["metrics"] == ["fid", "lpips", "ndb", "jsd"]
    assert one["skipped"] == two["skipped"] == {} and one["verdicts"] == two["verdicts"]
    assert one["inputs"] == two["inputs"]
    for m in one["metrics"]:
        for run in ("baseline", "candidate"):
            got, want = two["runs"][run][m], one["runs"][run][m]
            assert got["value"] == pytest.approx(want["value"], rel=1e-9, abs=1e-12)
            assert got["ci"] == pytest.approx(want["ci"], rel=1e-9, abs=1e-12)
        got, want = two["deltas"][m], one["deltas"][m]
        assert got["value"] == pytest.approx(want["value"], rel=1e-9, abs=1e-12)
        assert got["ci"] == pytest.approx(want["ci"], rel=1e-9, abs=1e-12)
