"""``msgan-eval demo --task modes-stacked``: DCGAN, PacDCGAN2 and MSGAN on stacked Fashion-MNIST
(PacGAN Table 2's networks at a quarter of the width, 1000 batches instead of 50 epochs of 2000),
each run's 26,000 samples counted through the bundled classifier, verdicts over trials.

Not PacGAN's protocol and not its data: Table 2 is stacked MNIST with a 99% digit classifier; the
bundled Fashion-MNIST classifier's 9.9% per-channel error credits a generator of one triple with
about 57 modes (docs/modes.md), so the counts here are comparable between arms only.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from msgan_eval import __version__, defaults
from msgan_eval.errors import UserError
from msgan_eval.fileio import atomic_dir

SCHEMA = "msgan-eval/modes-stacked-demo/1"
ARMS: Tuple[Tuple[str, float, int], ...] = (("DCGAN", 0.0, 1), ("PacDCGAN2", 0.0, 2),
                                            ("MSGAN", 1.0, 1))
COMPARISONS = (("DCGAN", "PacDCGAN2"), ("DCGAN", "MSGAN"))
# PacGAN Table 2 (stacked_MNIST_experiments/results/Table2.png), stacked MNIST, 10 trials.
PACGAN_TABLE2 = {"DCGAN": {"modes": (78.9, 6.46), "kl": (4.50, 0.127)},
                 "PacDCGAN2": {"modes": (1000.0, 0.00), "kl": (0.06, 0.003)}}
SHORT = dict(steps=1000, width=0.25)
OUT_ENTRIES = frozenset({"runs", "report.json", "report.md"})


@dataclass
class StackedDemoConfig:
    trials: int = 3
    seed: int = defaults.SEED
    steps: int = SHORT["steps"]
    width: float = SHORT["width"]
    device: str = "cpu"
    workers: int = 2
    data_root: "str | None" = None
    samples: int = 26000


def _train_one(job) -> Tuple[str, int, float, float]:
    import torch

    from msgan_eval.train.stacked import STACKED_TASK, StackedConfig, evaluate_stacked_run, train

    (name, ms_weight, pack), seed, config, run_dir = job
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    train(StackedConfig(data_root=config.data_root, ms_weight=ms_weight, pack=pack,
                        steps=config.steps, width=config.width, seed=seed,
                        checkpoint_every=10 ** 9),
          run_dir, quiet=True, device=config.device, task=STACKED_TASK)
    evaluate_stacked_run(run_dir, device=config.device, n=config.samples)
    return name, seed, time.perf_counter() - t0, time.process_time() - c0


def _run_all(build: Path, config: StackedDemoConfig, log: Callable[[str], None]) -> Dict:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(arm, config.seed + t, config, build / "runs" / f"{arm[0]}-s{config.seed + t}")
            for t in range(config.trials) for arm in ARMS]
    seconds = {}

    def record(results):
        for name, seed, wall, cpu in results:
            log(f"demo: {name} seed {seed}: trained and counted in {wall:.0f} s ({cpu:.0f} s CPU)")
            seconds[f"{name}-s{seed}"] = {"wall": round(wall, 1), "cpu": round(cpu, 1)}
    if config.workers <= 1:
        record(map(_train_one, jobs))
        return seconds
    with ProcessPoolExecutor(config.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        record(pool.map(_train_one, jobs))
    return seconds


def _report(build: Path, config: StackedDemoConfig) -> dict:
    from msgan_eval.evaluate.modes_trials import compare_trials, load_side, summarise

    runs = {name: [build / "runs" / f"{name}-s{config.seed + t}" for t in range(config.trials)]
            for name, _, _ in ARMS}
    arms = {}
    for name, paths in runs.items():
        side = load_side(paths, "--baseline")
        arms[name] = {"runs": [str(p.relative_to(build)) for p in paths],
                      "summary": summarise(side["trials"]), "trials": side["trials"]}
    comparisons = []
    for base, cand in COMPARISONS:
        c = compare_trials(runs[base], runs[cand])
        comparisons.append({"baseline": base, "candidate": cand, "metrics": c.metrics,
                            "verdicts": c.verdicts, "overall": c.overall})
    classifier = json.loads((runs["DCGAN"][0] / "modes.json").read_text())["classifier"]
    return {"arms": arms, "comparisons": comparisons, "paper": PACGAN_TABLE2,
            "classifier": classifier}


def render_text(report: dict) -> str:
    def ms(v, d=1):
        return "n/a" if v["mean"] is None else \
            f"{v['mean']:.{d}f}" + ("" if v["se"] is None else f" ± {v['se']:.{d}f}")
    err = report["classifier"].get("test_error")
    lines = [f"stacked Fashion-MNIST, {report['trials']} trials per arm, {report['samples']} samples "
             f"each, classifier {report['classifier'].get('name')} (per-channel test error "
             f"{100 * err:.1f}%); PacGAN Table 2 (stacked MNIST) beside:"]
    for arm, entry in report["arms"].items():
        paper = report["paper"].get(arm)
        beside = "" if paper is None else (f"   PacGAN: {paper['modes'][0]} ± {paper['modes'][1]} "
                                           f"modes, KL {paper['kl'][0]} ± {paper['kl'][1]}")
        lines.append(f"  {arm:<10} modes {ms(entry['summary']['modes'])}  KL "
                     f"{ms(entry['summary']['kl'], 3)}{beside}")
    for c in report["comparisons"]:
        lines.append(f"  {c['candidate']} vs {c['baseline']}: " + "; ".join(
            f"{m} {v['verdict']}" for m, v in c["metrics"].items()) + f"; overall {c['overall']['verdict']}")
    return "\n".join(lines + [f"note: {n}" for n in report["notes"]])


def check_out(out: Path) -> bool:
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return False
    try:
        schema = json.loads((out / "report.json").read_text(encoding="utf-8")).get("schema")
    except (OSError, ValueError, AttributeError):
        schema = None
    if out.is_dir() and {p.name for p in out.iterdir()} <= OUT_ENTRIES and schema == SCHEMA:
        return True
    raise UserError(f"--out {out}: exists and is not a previous stacked demo (which would be "
                    "replaced); choose a new folder or delete it")


def run_stacked_demo(out: Path, config: StackedDemoConfig, *, quiet: bool,
                     log: Callable[[str], None], command: List[str]) -> Tuple[dict, Dict[str, Path]]:
    from msgan_eval.evaluate.modes_classifier import load_labeller
    from msgan_eval.fileio import write_json_atomic, write_text_atomic
    from msgan_eval.train.stacked_data import load_digits

    out = Path(out)
    check_out(out)
    load_digits("stacked-fashion-mnist", config.data_root)   # data and classifier before any work
    load_labeller(None, device=config.device)
    t0 = time.perf_counter()
    with atomic_dir(out) as build:
        seconds = _run_all(build, config, log)
        report = {"schema": SCHEMA, "version": __version__, "command": command,
                  "trials": config.trials, "samples": config.samples, "steps": config.steps,
                  "width": config.width, **_report(build, config)}
        seconds["total"] = round(time.perf_counter() - t0, 1)
        report["seconds"] = seconds
        report["notes"] = [f"short setting, NOT PacGAN's protocol: {config.steps} batches of 64 "
                           f"at width {config.width} (PacGAN: 50 epochs of 2000 at width 1); "
                           "stacked Fashion-MNIST, not MNIST"]
        write_json_atomic(build / "report.json", report)
        write_text_atomic(build / "report.md", "```\n" + render_text(report) + "\n```\n")
    return report, {"json": out / "report.json", "md": out / "report.md"}

