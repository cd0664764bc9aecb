"""What the DRIT and StackGAN demos share: training their arms several at a time (one process
and one torch thread per run: the small convolutions of the CPU-sized models gain nothing from a
second thread, and two processes keep two cores busy), timing, and image strips for the HTML."""
from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

Job = Tuple[str, object, object, str, bool]     # ("module:function", config, run dir, device, quiet)


def train_one(job: Job) -> Dict[str, float]:
    """Run one training job in this process with one thread: its wall and CPU seconds. A
    module-level function so a process pool can run it."""
    import torch

    target, config, run_dir, device, quiet = job
    module, name = target.split(":")
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    getattr(importlib.import_module(module), name)(config, run_dir, quiet=quiet, device=device)
    return {"wall": round(time.perf_counter() - t0, 1), "cpu": round(time.process_time() - c0, 1)}


def effective_workers(workers: int) -> int:
    """``workers``, capped at the command's thread count (unset outside a command)."""
    from msgan_eval.threads import current_threads

    return max(1, min(workers, current_threads() or workers))


def train_all(jobs: List[Job], names: List[str], workers: int) -> Dict[str, Dict[str, float]]:
    """{run name: wall and CPU seconds} of every job, ``workers`` at a time (spawned processes),
    never more processes than the command's threads (``--threads``, ``$MSGAN_EVAL_THREADS``): with
    one thread the runs train one after the other in this process (no process start, no second
    torch import: what the tests and a ``--threads 1`` user ask for)."""
    workers = effective_workers(workers)
    if workers <= 1 or len(jobs) == 1:
        from msgan_eval.demo import torch_threads

        with torch_threads(1):
            return dict(zip(names, map(train_one, jobs)))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(workers, len(jobs)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        return dict(zip(names, pool.map(train_one, jobs)))


def total_seconds(t0: float, c0: float, runs: Dict[str, Dict[str, float]], workers: int) -> dict:
    """Wall and CPU seconds since (t0, c0): CPU of this process plus, when the runs trained in
    other processes, theirs."""
    parallel = effective_workers(workers) > 1 and len(runs) > 1
    children = sum(v["cpu"] for v in runs.values()) if parallel else 0.0
    return {"wall": round(time.perf_counter() - t0, 1),
            "cpu": round(time.process_time() - c0 + children, 1)}


def timed(fn, *args):
    """(fn(*args), its wall and CPU seconds in this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, {"wall": round(time.perf_counter() - t0, 1),
                    "cpu": round(time.process_time() - c0, 1)}


def sample_arms(out: Path, config, arms, sample_run: Callable[[Path, Path, int], Path],
                what: str, log: Callable[[str], None]) -> Dict[str, List[Path]]:
    """{arm: its sample folders, one per seed}: each seed's run of each arm sampled by
    ``sample_run(run dir, sample dir, seed)`` with that seed's noise (both arms of a seed share it)."""
    from msgan_eval.demo import arm_name

    folders: Dict[str, List[Path]] = {arm: [] for arm, _ in arms}
    for seed in range(config.seed, config.seed + config.seeds):
        for arm, _ in arms:
            run = arm_name(arm, seed, config.seeds)
            log(f"demo: {what} with {run}")
            folders[arm].append(sample_run(out / "runs" / run, out / "samples" / run, seed))
    return folders


def compare_samples(folders: Dict[str, List[Path]], ref: Path, config, *, quiet: bool,
                    log: Callable[[str], None], command: List[str]):
    """((report, runs), seconds): ``compare`` of every arm's samples against ``ref`` with the
    demo's evaluation settings (:class:`msgan_eval.demo.DemoEvaluation`), seeds pooled."""
    from msgan_eval.demo import compare_arms
    from msgan_eval.report.compare import CompareConfig

    compare_config = CompareConfig(bootstrap=config.bootstrap, seed=config.seed,
                                   ndb_bins=config.ndb_bins, device=config.device, dims=config.dims,
                                   inception_weights=config.inception_weights,
                                   lpips_backbone=config.lpips_backbone)
    samples = {arm: [f / "samples" for f in fs] for arm, fs in folders.items()}
    return timed(lambda: compare_arms(samples, ref, compare_config, quiet=quiet, log=log,
                                      command=command))


def strip_img(paths, alt: str, zoom: int = 2) -> str:
    """An embedded PNG of the images side by side (2-pixel white gaps), like the pairs rows."""
    import html

    import numpy as np

    from msgan_eval.images import decode_image
    from msgan_eval.report.render import png_base64

    images = [decode_image(p) for p in paths]
    h, w = images[0].shape[:2]
    strip = np.full((h, len(images) * (w + 2) - 2, 3), 255, np.uint8)
    for k, img in enumerate(images):
        strip[:, k * (w + 2):k * (w + 2) + w] = img
    return (f"<img alt='{html.escape(alt)}' width='{strip.shape[1] * zoom}' "
            f"style='image-rendering:pixelated' src='data:image/png;base64,{png_base64(strip)}'>")
