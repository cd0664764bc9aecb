"""Peak memory of FID statistics: streaming float64 sums keep it independent of the image count.

Writes seeded random PNG folders of each size, runs ``msgan-eval stats DIR -o FILE --no-cache`` in
a fresh process per size and reports each process's peak RSS (``ru_maxrss`` of that child alone).
Issue 7 target: 2k and 20k images within 10% of each other. On 2 CPU cores the 20k run took
825 s (2026-11-27); shrink ``--n`` for a quicker check, or use ``--device cuda``.

    .venv/bin/python benchmarks/bench_memory.py [--n 2000 20000] [--device auto] [--dims 2048]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

VENV_BIN = Path(sys.executable).parent

# Runs the command as this wrapper's only child, so RUSAGE_CHILDREN is that command's peak alone.
_PEAK_OF_CHILD = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
                  "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def write_pngs(folder: Path, n: int, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")
    return folder


def peak_rss_mib(cmd) -> tuple:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK_OF_CHILD, *map(str, cmd)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{done.stderr[-2000:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024.0, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dims", default="2048")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        for n in args.n:
            folder = write_pngs(Path(tmp) / f"n{n}", n)
            cmd = [VENV_BIN / "msgan-eval", "stats", folder, "-o", Path(tmp) / f"n{n}.npz",
                   "--no-cache", "--quiet", "--dims", args.dims, "--device", args.device,
                   "--batch-size", args.batch_size]
            rss, seconds = peak_rss_mib(cmd)
            rows.append({"n": n, "peak_rss_mib": rss, "seconds": seconds})
    spread = max(r["peak_rss_mib"] for r in rows) / min(r["peak_rss_mib"] for r in rows) - 1
    if args.json:
        print(json.dumps({"rows": rows, "spread": spread, "dims": args.dims}))
        return 0
    for r in rows:
        print(f"{r['n']:>6} images: peak RSS {r['peak_rss_mib']:.0f} MiB ({r['seconds']:.0f}s)")
    print(f"spread {100 * spread:.1f}% (target: within 10%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
