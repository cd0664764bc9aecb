"""The compare report: its parameters, the outcome of each metric family, and the report dict
assembled from them (pure bookkeeping), written as JSON, Markdown and HTML.

The measuring itself is :mod:`msgan_eval.evaluate.compare`.
"""
from __future__ import annotations

import contextlib
import json
import platform
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from msgan_eval import __version__, defaults
from msgan_eval.images import ImageSet
from msgan_eval.metrics import bootstrap as bs
from msgan_eval.metrics.registry import FACTS, FAMILIES
from msgan_eval.threads import current_threads

from .schema import METRICS, RUNS, SCHEMA_ID

PACKAGES = ("numpy", "scipy", "torch", "torchvision", "scikit-learn", "pillow", "lpips",
            "pytorch-fid", "click")
CI_METHOD = "percentile, re-centred on the estimate"


@dataclass
class CompareConfig:
    """Every parameter of a comparison (recorded in the report's ``parameters``)."""

    metrics: Tuple[str, ...] = defaults.COMPARE_METRICS
    bootstrap: int = defaults.BOOTSTRAP
    seed: int = defaults.SEED
    confidence: float = defaults.CONFIDENCE
    dims: int = defaults.FID_DIMS
    preset: Optional[str] = defaults.FID_PRESET   # whose preprocessing (features/preprocess.py);
    # None: the feature space's default
    inception_weights: Optional[str] = None
    lpips_net: str = defaults.LPIPS_NET
    lpips_pairs: str = defaults.LPIPS_PAIRS
    lpips_num_pairs: int = defaults.LPIPS_NUM_PAIRS
    lpips_resize: Optional[int] = None
    lpips_backbone: Optional[str] = None
    ndb_bins: int = defaults.NDB_BINS
    ndb_alpha: float = defaults.NDB_ALPHA
    kid_subsets: int = defaults.KID_SUBSETS            # torch-fidelity's kid_subsets
    kid_subset_size: int = defaults.KID_SUBSET_SIZE    # asked for; a smaller run uses what fits
    prdc_k: int = defaults.PRDC_K                      # one k for precision/recall/density/coverage
    device: str = defaults.DEVICE
    batch_size: int = defaults.BATCH_SIZE
    num_workers: int = defaults.NUM_WORKERS
    skip_missing: bool = False          # fid-per-class: leave out conditions one side lacks (#14)
    protocol: Optional[str] = None      # "msgan": the MSGAN authors' settings (#14)
    # #25: the feature space of fid, fid-per-class, vendi, kid and prdc (inception: as before),
    # and CMMD's own (CLIP ViT-L/14-336 by default, with cmmd-pytorch's preprocessing)
    features: str = defaults.FEATURES
    feature_weights: Optional[str] = None
    cmmd_features: str = defaults.CMMD_FEATURES
    cmmd_weights: Optional[str] = None


@dataclass
class Reference:
    """The reference input: an image set, or (FID only) a statistics file."""

    images: Optional[ImageSet] = None
    stats_path: Optional[Path] = None


@dataclass
class MetricOutcome:
    """What one metric family produced (or why it did not run)."""

    estimates: Dict[str, Dict[str, bs.BootstrapEstimate]] = field(default_factory=dict)  # metric -> run -> est
    weights: Dict[str, dict] = field(default_factory=dict)
    details: Dict[str, object] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


Log = Callable[[str], None]


def run_rng(seed: int, run: str, metric: str) -> np.random.Generator:
    """Independent, reproducible resampling streams per run and metric family."""
    return np.random.default_rng([seed, RUNS.index(run), list(FAMILIES).index(metric)])


def input_summary(images: ImageSet) -> dict:
    """Path, counts and the file-list hash (names and sizes, so it survives a copy) of one input."""
    return {"path": str(images.source), "n_images": len(images), "conditions": len(images.conditions),
            "skipped_files": len(images.skipped), "fingerprint": images.fingerprint(with_mtime=False)}


def _reference_summary(ref: Reference) -> dict:
    if ref.images is not None:
        return input_summary(ref.images)
    from msgan_eval.weights import file_sha256

    return {"path": str(ref.stats_path), "n_images": 0, "conditions": 0, "skipped_files": 0,
            "fingerprint": file_sha256(ref.stats_path), "kind": "fid-statistics"}


def package_versions() -> Dict[str, Optional[str]]:
    versions: Dict[str, Optional[str]] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _estimate_json(est: bs.BootstrapEstimate) -> dict:
    return {"value": est.value, "ci": [est.low, est.high], "bias": est.bias}


def assemble_report(runs: Dict[str, ImageSet], reference: Reference, config: CompareConfig,
                    outcomes: Dict[str, MetricOutcome], skipped: Dict[str, str],
                    seconds: Dict[str, float], command: List[str], processes: int = 1) -> dict:
    """The report dict from the metric outcomes (pure bookkeeping, no computation).

    ``processes`` is the number of torchrun processes that shared the work (recorded, like
    ``fid``'s, among the parameters).
    """
    estimates = {m: e for o in outcomes.values() for m, e in o.estimates.items()}
    metrics = [m for m in METRICS if m in estimates]
    deltas, verdicts = {}, {}
    for m in metrics:
        v = bs.compare_estimates(estimates[m]["baseline"], estimates[m]["candidate"],
                                 higher_is_better=FACTS[m].higher_is_better,
                                 confidence=config.confidence)
        deltas[m] = {"value": v.delta, "ci": [v.low, v.high], "better": FACTS[m].better}
        verdicts[m] = v.verdict
    inputs = {run: input_summary(images) for run, images in runs.items()}
    inputs["reference"] = _reference_summary(reference)
    details: Dict[str, object] = {"seconds": seconds}
    for o in outcomes.values():
        details.update(o.details)
    runs_json = {run: {m: _estimate_json(estimates[m][run]) for m in metrics} for run in RUNS}
    return {
        "schema": SCHEMA_ID, "version": __version__, "metrics": metrics,
        "runs": runs_json, "deltas": deltas, "verdicts": verdicts,
        "overall": overall_json(verdicts, deltas, runs_json, details, skipped),
        "skipped": {m: skipped[m] for m in METRICS if m in skipped},
        "inputs": inputs,
        "bootstrap": {"n": config.bootstrap, "seed": config.seed, "confidence": config.confidence,
                      "method": CI_METHOD,
                      "streams": "numpy default_rng([seed, run (0 baseline, 1 candidate), "
                                 "family (its index in metrics.registry.FAMILIES: 0 fid, "
                                 "1 lpips, 2 ndb, then the others in table order)])"},
        "parameters": {**asdict(config), "processes": processes, "threads": current_threads()},
        "provenance": {"tool": {"name": "msgan-eval", "version": __version__},
                       "packages": package_versions(),
                       "weights": {k: v for o in outcomes.values() for k, v in o.weights.items()},
                       "command": list(command)},
        "details": details,
        "notes": [n for o in outcomes.values() for n in o.notes],
    }


def overall_json(verdicts: Dict[str, str], deltas: Dict[str, dict], runs: Dict[str, dict],
                 details: dict, skipped) -> dict:
    """The report's ``overall``: the joint verdict (``metrics.overall``) of the per-metric ones,
    its reasons naming the degenerate flags of ``details["degenerate"]`` (``evaluate/inspect``)."""
    from msgan_eval.metrics.overall import overall_verdict

    flagged = details.get("degenerate") or {}
    # the flags are named only where they describe the samples the estimate does (a multi-run
    # arm's estimate is a mean over runs, its details those of its first run)
    flags = {run: flagged[run]["fractions"] for run in RUNS
             if "fractions" in flagged.get(run, {}) and "degenerate" in runs[run]
             and flagged[run]["fraction"] == runs[run]["degenerate"]["value"]}
    return overall_verdict(verdicts, {m: d["value"] for m, d in deltas.items()},
                           values={run: {m: e["value"] for m, e in runs[run].items()} for run in RUNS},
                           flags=flags, skipped=tuple(skipped)).as_dict()


REPORT_FILES = {"json": "report.json", "md": "report.md", "html": "report.html"}


def check_report_folder(out_dir: Union[str, Path]) -> Optional[str]:
    """Why ``out_dir`` cannot take a report (None if it can): it is replaced as one unit, so it
    must be new, empty, or a previous report folder (never a folder holding other files)."""
    out_dir = Path(out_dir)
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        return "is a file; give a folder"
    others = sorted(p.name for p in out_dir.iterdir() if p.name not in REPORT_FILES.values())
    if others:
        return (f"holds other files ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}) "
                "and the report folder is replaced as one unit; choose a new or empty folder, or "
                "a previous report folder")
    return None


def write_report(out_dir: Union[str, Path], report: dict, runs: Dict[str, ImageSet],
                 extra_html: str = "", *, swap: bool = True) -> Dict[str, Path]:
    """``report.json``, ``report.md`` and ``report.html`` in ``out_dir``, built in a folder aside
    and swapped in as one unit: after a kill or a full disk the old report stays whole (never a
    new report.json beside an old report.html). ``swap=False`` writes into ``out_dir`` as it is,
    for a caller that builds ``out_dir`` itself aside (the demo). ``extra_html`` (e.g. the
    image-to-image demo's input / target / samples rows) goes into the HTML after the sample grids."""
    from msgan_eval.fileio import owned_dir

    from .flagged import flagged_html
    from .render import render_html, render_markdown, sample_grid
    from .schema import validate_report

    out_dir = Path(out_dir)
    problem = check_report_folder(out_dir) if swap else None
    if problem is not None:          # the swap would delete the other files
        from msgan_eval.errors import UserError

        raise UserError(f"{out_dir}: {problem}")
    validate_report(report)          # never write a report that check would refuse
    grids = {run: sample_grid(images) for run, images in runs.items()}
    extra_html = flagged_html(report, runs) + extra_html
    texts = {"json": json.dumps(report, indent=2, sort_keys=False) + "\n",
             "md": render_markdown(report), "html": render_html(report, grids, extra_html)}
    ours = lambda folder: check_report_folder(folder) is None       # noqa: E731
    with (owned_dir(out_dir, "--out", ours) if swap else contextlib.nullcontext(out_dir)) as build:
        for kind, name in REPORT_FILES.items():
            (build / name).write_text(texts[kind], encoding="utf-8", errors="backslashreplace")
    return {kind: out_dir / name for kind, name in REPORT_FILES.items()}


def stderr_log(quiet: bool) -> Log:
    """Stage messages on stderr (the progress story between tqdm bars), hidden by --quiet."""
    def log(msg: str) -> None:
        if not quiet:
            print(f"msgan-eval: {msg}", file=sys.stderr, flush=True)
    return log
