"""Baseline vs candidate: every metric with a bootstrap interval, a verdict each, one report.

The reference set is read once: its FID statistics (cached like ``msgan-eval fid``'s), its NDB
bins and its pixel vectors serve both runs. A metric that cannot run (weights missing offline, a
statistics file given where NDB needs images) is *skipped with its reason* in the report; the
other metrics still run. Nothing here imports training code.

Under torchrun every rank calls :func:`compare_runs`: FID features and LPIPS distances are measured
in shards and gathered, so rank 0 bootstraps exactly what one process would; NDB (one K-means fit)
runs on rank 0 alone, last, after the collectives. Rank 0 gets the report, the other ranks None.
"""
from __future__ import annotations

import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from .. import __version__, defaults, distributed
from ..errors import UserError, WeightsUnavailable
from ..images import ImageSet
from ..metrics import bootstrap as bs
from .schema import METRICS, RUNS, SCHEMA_ID

FAMILIES = {"fid": ("fid",), "lpips": ("lpips",), "ndb": ("ndb", "jsd")}   # --metrics -> report
PACKAGES = ("numpy", "scipy", "torch", "torchvision", "scikit-learn", "pillow", "lpips",
            "pytorch-fid", "click")
CI_METHOD = "percentile, re-centred on the estimate"
MAIN_PROCESS_ONLY = ("ndb",)    # families with no sharded work: rank 0 runs them alone


@dataclass
class CompareConfig:
    """Every parameter of a comparison (recorded in the report's ``parameters``)."""

    metrics: Tuple[str, ...] = ("fid", "lpips", "ndb")
    bootstrap: int = defaults.BOOTSTRAP
    seed: int = defaults.SEED
    confidence: float = defaults.CONFIDENCE
    dims: int = defaults.FID_DIMS
    inception_weights: Optional[str] = None
    lpips_net: str = defaults.LPIPS_NET
    lpips_pairs: str = defaults.LPIPS_PAIRS
    lpips_num_pairs: int = defaults.LPIPS_NUM_PAIRS
    lpips_resize: Optional[int] = None
    lpips_backbone: Optional[str] = None
    ndb_bins: int = defaults.NDB_BINS
    ndb_alpha: float = defaults.NDB_ALPHA
    device: str = defaults.DEVICE
    batch_size: int = defaults.BATCH_SIZE
    num_workers: int = defaults.NUM_WORKERS


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


def _fid(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
         log: Log) -> MetricOutcome:
    from ..features.extract import extract_inception_features, image_set_statistics
    from ..features.inception import resolve_inception_weights
    from ..features.stats_cache import load_fid_stats
    from ..metrics.fid import RankDeficientCovarianceWarning

    weights = resolve_inception_weights(cfg.inception_weights)
    out = MetricOutcome(weights={"inception": weights.as_dict()})
    if ref.stats_path is not None:
        stats = load_fid_stats(ref.stats_path)
        if stats.dims != cfg.dims:
            raise UserError(f"--ref {ref.stats_path}: statistics of {stats.dims} dimensions, but "
                            f"--dims {cfg.dims}; use --dims {stats.dims}")
        if stats.weights_sha256 and stats.weights_sha256 != weights.sha256:
            raise UserError(f"--ref {ref.stats_path}: computed with other Inception weights "
                            f"(sha256 {stats.weights_sha256[:12]}, not {weights.sha256[:12]}); "
                            "recompute it or pass the matching --inception-weights")
    else:
        log("fid: reference statistics (cached after the first run)")
        stats = image_set_statistics(ref.images, weights=weights, dims=cfg.dims, device=cfg.device,
                                     batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                                     quiet=quiet)
    est = {}
    for run, images in runs.items():
        log(f"fid: {run} features ({len(images)} images)")
        feats = extract_inception_features(images, weights=weights, dims=cfg.dims,
                                           device=cfg.device, batch_size=cfg.batch_size,
                                           num_workers=cfg.num_workers, quiet=quiet)
        if not distributed.is_main_process():
            continue                      # rank 0 alone bootstraps
        if len(feats) <= cfg.dims:
            out.notes.append(f"fid: {run} has {len(feats)} images for {cfg.dims} feature dimensions; "
                             "its FID is biased upwards (compare runs of equal size only)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            est[run] = bs.bootstrap_fid(feats, stats.mu, stats.sigma, rng=run_rng(cfg.seed, run, "fid"),
                                        n_boot=cfg.bootstrap, confidence=cfg.confidence)
    out.estimates["fid"] = est
    return out


def _lpips(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
           log: Log) -> MetricOutcome:
    from ..diversity import sharded_pair_distances
    from ..features.lpips_net import heads_sha256, resolve_lpips_backbone

    backbone = resolve_lpips_backbone(cfg.lpips_net, cfg.lpips_backbone)   # skip before any work
    out = MetricOutcome(weights={backbone.spec.key: backbone.as_dict(),
                                 f"lpips-{cfg.lpips_net}-heads": {"sha256": heads_sha256(cfg.lpips_net)}})
    if backbone.status != "verified":
        out.notes.append(f"lpips: UNVERIFIED backbone {backbone.path} (neither torchvision's "
                         "published file nor our conversion): not standard LPIPS numbers")
    est = {}
    for run, images in runs.items():
        log(f"lpips: {run} ({cfg.lpips_net}, {cfg.lpips_pairs} pairs)")
        try:
            distances = sharded_pair_distances(images, net=cfg.lpips_net, pairs=cfg.lpips_pairs,
                                               num_pairs=cfg.lpips_num_pairs, seed=cfg.seed,
                                               device=cfg.device, batch_size=cfg.batch_size,
                                               resize=cfg.lpips_resize,
                                               backbone_weights=backbone.path, quiet=quiet)
        except UserError as exc:
            if isinstance(exc, WeightsUnavailable):
                raise
            # lpips_diversity speaks of its own command's --resize; here the option is --lpips-resize.
            raise UserError(str(exc).replace("--resize", "--lpips-resize")) from None
        if distributed.is_main_process():     # rank 0 alone bootstraps
            est[run] = bs.bootstrap_lpips(distances, rng=run_rng(cfg.seed, run, "lpips"),
                                          n_boot=cfg.bootstrap, confidence=cfg.confidence)
    out.estimates["lpips"] = est
    return out


def _ndb(runs: Dict[str, ImageSet], ref: Reference, cfg: CompareConfig, quiet: bool,
         log: Log) -> MetricOutcome:
    from ..metrics.ndb import assign_bins, bin_counts, ndb_from_counts
    from ..ndb_data import images_to_vectors

    bins = reference_bins(ref.images, cfg.ndb_bins, cfg.seed, quiet, log)
    out = MetricOutcome()
    details = {"k": bins.k, "reference": bins.proportions.tolist()}
    ndb, jsd = {}, {}
    for run, images in runs.items():
        log(f"ndb: {run} bin assignments")
        labels = assign_bins(bins, images_to_vectors(images, ref.images, quiet=quiet))
        full = ndb_from_counts(bins, bin_counts(labels, bins.k), cfg.ndb_alpha)
        details[run] = [b.generated_proportion for b in full.per_bin]
        details[f"{run}_different"] = [b.different for b in full.per_bin]
        ndb[run], jsd[run] = bs.bootstrap_ndb(bins, labels, rng=run_rng(cfg.seed, run, "ndb"),
                                              n_boot=cfg.bootstrap, alpha=cfg.ndb_alpha,
                                              confidence=cfg.confidence)
    out.estimates.update(ndb=ndb, jsd=jsd)
    out.details["ndb"] = details
    return out


def reference_bins(ref: ImageSet, k: int, seed: int, quiet: bool, log: Log):
    """NDB bins of the reference, from our cache when the same file list was binned before."""
    import hashlib

    from ..metrics.ndb import fit_bins
    from ..ndb_data import bins_info_for, bins_mismatches, images_to_vectors, load_bins, save_bins
    from ..paths import cache_dir

    info = bins_info_for(ref)
    # Keyed with modification times too, like the FID statistics cache: a file rewritten in
    # place with the same name and size must not reuse stale bins.
    key = hashlib.sha256(f"ndb-bins 1\n{ref.fingerprint()}\n{k}\n{seed}\n".encode()).hexdigest()
    path = cache_dir() / "ndb-bins" / f"{key}.npz"
    if path.is_file():
        try:
            bins, stored = load_bins(path)
            if not bins_mismatches(bins, stored, ref, {"k": k, "seed": seed}):
                log(f"ndb: reference bins from the cache ({path})")
                return bins
        except UserError as exc:
            log(f"ndb: ignoring cached bins: {exc}")
    log(f"ndb: fitting {k} K-means bins on the reference ({len(ref)} images)")
    try:
        bins = fit_bins(images_to_vectors(ref, None, quiet=quiet), k=k, seed=seed)
    except ValueError as exc:
        raise UserError(f"--ref {ref.source}: {exc} (--ndb-bins)") from None
    try:
        save_bins(path, bins, info)
    except OSError as exc:     # a read-only cache must not fail the comparison
        log(f"ndb: could not cache the bins ({exc})")
    return bins


RUNNERS = {"fid": _fid, "lpips": _lpips, "ndb": _ndb}


def _cannot_run(family: str, reference: Reference) -> Optional[str]:
    if family == "ndb" and reference.images is None:
        return f"--ref {reference.stats_path} is a FID statistics file; NDB needs reference images"
    return None


def _weights_named(family: str, config: CompareConfig) -> bool:
    """Whether the user named this family's weights file (option or environment variable)."""
    from ..weights import INCEPTION, LPIPS_BACKBONES

    if family == "fid":
        return bool(config.inception_weights or os.environ.get(INCEPTION.env_var))
    if family == "lpips":
        spec = LPIPS_BACKBONES[config.lpips_net]
        return bool(config.lpips_backbone or os.environ.get(spec.env_var))
    return False


def compare_runs(baseline: ImageSet, candidate: ImageSet, reference: Reference,
                 config: CompareConfig, *, quiet: bool = True, log: Optional[Log] = None,
                 command: Optional[List[str]] = None) -> Optional[dict]:
    """Run every requested metric on both runs and return the report (see ``schema``).

    Under torchrun every rank must call this with the same inputs; rank 0 gets the report and the
    other ranks None.
    """
    log = log or (lambda msg: None)
    unknown = [m for m in config.metrics if m not in FAMILIES]
    if unknown or not config.metrics:
        raise UserError(f"--metrics {','.join(config.metrics)}: use a comma-separated subset of "
                        f"{', '.join(FAMILIES)}")
    if config.seed < 0:
        raise UserError(f"--seed {config.seed}: use a seed >= 0")
    if config.bootstrap < 1 or not 0 < config.confidence < 1:
        raise UserError("--bootstrap must be at least 1 and the confidence between 0 and 1")
    runs = {"baseline": baseline, "candidate": candidate}
    outcomes: Dict[str, MetricOutcome] = {}
    skipped: Dict[str, str] = {}
    seconds: Dict[str, float] = {}
    for family in (f for f in FAMILIES if f in config.metrics):
        if family in MAIN_PROCESS_ONLY and not distributed.is_main_process():
            continue
        reason = _cannot_run(family, reference)
        start = time.perf_counter()
        if reason is None:
            try:
                outcomes[family] = RUNNERS[family](runs, reference, config, quiet, log)
            except WeightsUnavailable as exc:     # offline without weights: skip, keep going
                if _weights_named(family, config):
                    raise                         # a file the user named must work
                reason = str(exc)
        if reason is not None:
            log(f"{family}: skipped: {reason}")
            skipped.update({metric: reason for metric in FAMILIES[family]})
        seconds[family] = round(time.perf_counter() - start, 3)
    if not distributed.is_main_process():
        return None
    return assemble_report(runs, reference, config, outcomes, skipped, seconds, command or [],
                           processes=distributed.world_size())


def input_summary(images: ImageSet) -> dict:
    """Path, counts and the file-list hash (names and sizes, so it survives a copy) of one input."""
    return {"path": str(images.source), "n_images": len(images), "conditions": len(images.conditions),
            "skipped_files": len(images.skipped), "fingerprint": images.fingerprint(with_mtime=False)}


def _reference_summary(ref: Reference) -> dict:
    if ref.images is not None:
        return input_summary(ref.images)
    from ..weights import file_sha256

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
                                 higher_is_better=bs.HIGHER_IS_BETTER[m], confidence=config.confidence)
        deltas[m] = {"value": v.delta, "ci": [v.low, v.high],
                     "better": "higher" if bs.HIGHER_IS_BETTER[m] else "lower"}
        verdicts[m] = v.verdict
    inputs = {run: input_summary(images) for run, images in runs.items()}
    inputs["reference"] = _reference_summary(reference)
    details: Dict[str, object] = {"seconds": seconds}
    for o in outcomes.values():
        details.update(o.details)
    return {
        "schema": SCHEMA_ID, "version": __version__, "metrics": metrics,
        "runs": {run: {m: _estimate_json(estimates[m][run]) for m in metrics} for run in RUNS},
        "deltas": deltas, "verdicts": verdicts,
        "skipped": {m: skipped[m] for m in METRICS if m in skipped},
        "inputs": inputs,
        "bootstrap": {"n": config.bootstrap, "seed": config.seed, "confidence": config.confidence,
                      "method": CI_METHOD,
                      "streams": "numpy default_rng([seed, run (0 baseline, 1 candidate), "
                                 "family (0 fid, 1 lpips, 2 ndb)])"},
        "parameters": {**asdict(config), "processes": processes},
        "provenance": {"tool": {"name": "msgan-eval", "version": __version__},
                       "packages": package_versions(),
                       "weights": {k: v for o in outcomes.values() for k, v in o.weights.items()},
                       "command": list(command)},
        "details": details,
        "notes": [n for o in outcomes.values() for n in o.notes],
    }


def write_report(out_dir: Union[str, Path], report: dict, runs: Dict[str, ImageSet]) -> Dict[str, Path]:
    """``report.json``, ``report.md`` and ``report.html`` in ``out_dir``, each written atomically."""
    from ..fileio import write_json_atomic, write_text_atomic
    from .render import render_html, render_markdown, sample_grid
    from .schema import validate_report

    validate_report(report)          # never write a report that check would refuse
    out_dir = Path(out_dir)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md",
             "html": out_dir / "report.html"}
    grids = {run: sample_grid(images) for run, images in runs.items()}
    write_json_atomic(paths["json"], report)
    write_text_atomic(paths["md"], render_markdown(report))
    write_text_atomic(paths["html"], render_html(report, grids))
    return paths


def stderr_log(quiet: bool) -> Log:
    """Stage messages on stderr (the progress story between tqdm bars), hidden by --quiet."""
    def log(msg: str) -> None:
        if not quiet:
            print(f"msgan-eval: {msg}", file=sys.stderr, flush=True)
    return log
