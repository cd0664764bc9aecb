"""Metric curves over training: :class:`Tracker` and :func:`track`.

Each step is measured exactly as ``compare`` measures its candidate run: the same runners
(``evaluate/runners.py``), the same bootstrap and its stream (``run_rng(seed, "candidate",
family)``), so a step's value and interval are ``compare``'s for that sample set. The reference
is prepared once: FID statistics through the statistics cache, NDB bins through the bins cache,
Inception features of the reference (KID, PRDC, per-class FID) through the in-process memo; each
step then costs one extraction of its own samples. ``best(metric)`` says whether the best step is
significantly better than the last: ``compare`` itself, with the last step as the baseline and the
best as the candidate.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from msgan_eval import __version__, defaults
from msgan_eval.errors import ParameterError, UserError, WeightsUnavailable
from msgan_eval.images import ImageSet
from msgan_eval.metrics.registry import CANDIDATE_BETTER, FACTS, FAMILIES
from msgan_eval.report.compare import CompareConfig, Log, Reference

from .inputs import ImagesLike, as_image_set, describe, is_stats_path
from .track_check import check_sizes, reference_fingerprint, settings_mismatch
from .track_series import sample_generator

SCHEMA_ID = "msgan-eval/track/1"
TRACK_FILE = "track.json"
RUN = "candidate"          # each step is compare's candidate run (bootstrap stream 1)
_NOT_SETTINGS = ("metrics", "device", "batch_size", "num_workers")


class Tracker:
    """Evaluate a model step after step against one reference; intervals, best step, verdict.

    Args:
        ref: real images (any image input) or, for FID alone, a statistics ``.npz``.
        metrics: ``compare`` metric families (fid, lpips, ndb, kid, prdc, ...).
        n, sample_batch: images drawn from a generator per update, and per call.
        sampling: how the caller makes each step's images (recorded; resuming needs the same).
        The other parameters are :func:`msgan_eval.compare`'s; ``seed`` is also the generator seed.

    Example:
        >>> t = msgan_eval.Tracker(ref="real/", metrics=["fid", "ndb"])        # doctest: +SKIP
        >>> t.update(1000, lambda n, seed: G.sample(n, seed), n=2000)         # doctest: +SKIP
        >>> t.best("fid")                                                      # doctest: +SKIP
        {'metric': 'fid', 'step': 1000, 'value': 31.2, 'better_than_last': False, ...}
    """

    def __init__(self, ref: ImagesLike, metrics: Sequence[str] = defaults.TRACK_METRICS, *,
                 n: int = defaults.TRACK_GENERATOR_SAMPLES,
                 sample_batch: int = defaults.TRACK_SAMPLE_BATCH,
                 bootstrap: int = defaults.BOOTSTRAP, seed: int = defaults.SEED,
                 confidence: float = defaults.CONFIDENCE, dims: int = defaults.FID_DIMS,
                 preset: str = defaults.FID_PRESET, inception_weights: Optional[str] = None,
                 lpips_net: str = defaults.LPIPS_NET, lpips_pairs: str = defaults.LPIPS_PAIRS,
                 lpips_num_pairs: int = defaults.LPIPS_NUM_PAIRS,
                 lpips_resize: Optional[int] = None, lpips_backbone: Optional[str] = None,
                 ndb_bins: int = defaults.NDB_BINS, ndb_alpha: float = defaults.NDB_ALPHA,
                 kid_subsets: int = defaults.KID_SUBSETS,
                 kid_subset_size: int = defaults.KID_SUBSET_SIZE, prdc_k: int = defaults.PRDC_K,
                 device: str = defaults.DEVICE, batch_size: int = defaults.BATCH_SIZE,
                 num_workers: int = defaults.NUM_WORKERS, skip_bad: bool = False,
                 quiet: bool = True, log: Optional[Log] = None, sampling: Optional[dict] = None):
        from .compare import _check_config

        families = tuple(metrics) if not isinstance(metrics, str) else (metrics,)
        self.config = CompareConfig(
            metrics=tuple(f for f in FAMILIES if f in families) if set(families) <= set(FAMILIES)
            else families, bootstrap=bootstrap, seed=seed, confidence=confidence, dims=int(dims),
            preset=preset, inception_weights=inception_weights, lpips_net=lpips_net,
            lpips_pairs=lpips_pairs, lpips_num_pairs=lpips_num_pairs, lpips_resize=lpips_resize,
            lpips_backbone=lpips_backbone, ndb_bins=ndb_bins, ndb_alpha=ndb_alpha,
            kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, prdc_k=prdc_k,
            device=device, batch_size=batch_size, num_workers=num_workers)
        _check_config(self.config)
        self.n, self.sample_batch, self.quiet = n, sample_batch, quiet
        self.log = log or (lambda msg: None)
        self.reference = _reference(ref, skip_bad, quiet)
        self.settings = {"reference": describe(ref),
                         "reference_fingerprint": reference_fingerprint(self.reference),
                         "parameters": _parameters(self.config),
                         "sampling": dict(sampling or {"kind": "given"})}
        self.history: List[dict] = []
        self.failed: List[dict] = []
        self.skipped: Dict[str, str] = {}
        self.notes: List[str] = []
        self.best_metric: Optional[str] = None
        self.images_of: Optional[Callable[[int], ImagesLike]] = None   # re-creates a step's images
        self._sets: Dict[int, ImageSet] = {}
        self._verdicts: Dict[tuple, dict] = {}
        self._skipped_now: set = set()        # metrics skipped in this process (not retried)

    # --- measuring ---------------------------------------------------------------------------

    def image_set(self, images, n: Optional[int] = None) -> ImageSet:
        """The images of one step: a generator callable is sampled (``n`` images), anything
        else goes through :func:`as_image_set`."""
        if callable(images) and not isinstance(images, ImageSet):
            return sample_generator(images, self.n if n is None else n, self.config.seed,
                                    self.sample_batch)
        return as_image_set(images, param="images", quiet=self.quiet)

    def check(self, images) -> ImageSet:
        """Every metric's checks of these images against the reference, before any extraction."""
        from .compare_checks import preflight

        image_set = self.image_set(images)
        check_sizes(image_set, self.reference)
        preflight({RUN: image_set}, self.reference, self.config)
        return image_set

    def update(self, step: int, images, *, n: Optional[int] = None,
               families: Optional[Sequence[str]] = None) -> dict:
        """Measure ``images`` (or a generator: ``(n, seed) -> images``) as step ``step``; the
        history entry: ``{"step", "n", "<metric>": value, "<metric>_ci": [lo, hi], ...}``."""
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ParameterError(f"{{step}} {step!r}: use a training step (an integer >= 0)", "step")
        families = tuple(families or self.config.metrics)
        done = self.entry(step) or {}
        again = [m for f in families for m in FAMILIES.get(f, ()) if m in done]
        if again:
            raise ParameterError(f"{{step}} {step} already has {', '.join(again)} in the history; "
                                 "each step is measured once", "step")
        t0 = time.perf_counter()
        image_set = self.check(images if n is None else self.image_set(images, n))
        estimates = self._measure(image_set, families)
        entry = self._record(step, len(image_set), estimates)
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        self._sets[step] = image_set
        self._keep_sets()
        return entry

    def _measure(self, image_set: ImageSet, families: Sequence[str]) -> dict:
        from .runners import RUNNERS, cannot_run, weights_named

        estimates = {}
        for family in (f for f in FAMILIES if f in families):
            reason = cannot_run(family, self.reference)
            if reason is None:
                try:
                    outcome = RUNNERS[family]({RUN: image_set}, self.reference, self.config,
                                              self.quiet, self.log)
                except WeightsUnavailable as exc:      # offline without weights: skip, go on
                    if weights_named(family, self.config):
                        raise
                    reason = str(exc)
            if reason is not None:
                self.skipped.update({m: reason for m in FAMILIES[family]})
                self._skipped_now.update(FAMILIES[family])
                continue
            self.notes += [n for n in outcome.notes if n not in self.notes]
            estimates.update({m: e[RUN] for m, e in outcome.estimates.items()})
        return estimates

    def _record(self, step: int, n: int, estimates: dict) -> dict:
        entry = self.entry(step)
        if entry is None:
            entry = {"step": step, "n": n}
            self.history = sorted([*self.history, entry], key=lambda e: e["step"])
        for metric, est in estimates.items():
            entry[metric], entry[f"{metric}_ci"] = est.value, [est.low, est.high]
            self.skipped.pop(metric, None)
        return entry

    def entry(self, step: int) -> Optional[dict]:
        return next((e for e in self.history if e["step"] == step), None)

    def missing(self, step: int) -> tuple:
        """The families not yet measured at ``step`` (those skipped in this process, e.g. for
        weights missing offline, are not tried again)."""
        done = self.entry(step) or {}
        return tuple(f for f in self.config.metrics
                     if not all(m in done or m in self._skipped_now for m in FAMILIES[f]))

    def truncate(self, last_step: int) -> None:
        """Forget the steps after ``last_step`` (a training run resumed from that step)."""
        self.history = [e for e in self.history if e["step"] <= last_step]
        self.failed = [f for f in self.failed if f["step"] <= last_step]

    # --- best step and verdict ---------------------------------------------------------------

    @property
    def metrics(self) -> List[str]:
        """The metrics with at least one value, in the registry's order."""
        return [m for m in FACTS if any(m in e for e in self.history)]

    def default_metric(self) -> Optional[str]:
        measured = self.metrics
        if self.best_metric in measured:
            return self.best_metric
        return "fid" if "fid" in measured else (measured[0] if measured else None)

    def best(self, metric: Optional[str] = None, verdict: bool = True) -> Optional[dict]:
        """``{"metric", "step", "value", "better_than_last", ...}`` of the best step (ties: the
        earliest), or None before any value. ``better_than_last`` is True when ``compare``
        (last step = baseline, best = candidate) finds the best significantly better; None when
        not computed (``verdict=False``) or a step's images cannot be had again."""
        metric = metric or self.default_metric()
        if metric is not None and metric not in FACTS:
            raise ParameterError(f"{{best}} {metric}: not a metric; use one of "
                                 f"{', '.join(self.metrics) or ', '.join(FACTS)}", "best")
        rows = [(e["step"], e[metric]) for e in self.history if e.get(metric) is not None]
        if not rows:
            return None
        sign = -1.0 if FACTS[metric].higher_is_better else 1.0
        step, value = min(rows, key=lambda r: (sign * r[1], r[0]))
        last = rows[-1][0]
        out = {"metric": metric, "step": step, "value": value, "last_step": last,
               "better_than_last": False if step == last else None}
        if step != last and verdict:
            out.update(self._verdict(metric, step, last))
        return out

    def _verdict(self, metric: str, best: int, last: int) -> dict:
        from .compare import compare_runs

        key = (metric, best, last)
        if key not in self._verdicts:
            sets = {s: self._step_set(s) for s in (best, last)}
            missing = [s for s, v in sets.items() if v is None]
            if missing:
                return {"verdict_note": f"step {missing[0]}'s images are no longer available "
                                        "(its checkpoint was not kept)"}
            config = replace(self.config, metrics=(FACTS[metric].family,))
            report = compare_runs(sets[last], sets[best], self.reference, config, quiet=self.quiet,
                                  log=self.log)
            delta = report["deltas"][metric]
            self._verdicts[key] = {"better_than_last": report["verdicts"][metric] == CANDIDATE_BETTER,
                                   "verdict": report["verdicts"][metric],
                                   "delta": delta["value"], "delta_ci": delta["ci"]}
        return self._verdicts[key]

    def _step_set(self, step: int) -> Optional[ImageSet]:
        if step in self._sets:
            return self._sets[step]
        if self.images_of is None:
            return None
        try:
            images = self.images_of(step)
        except (KeyError, UserError):
            return None
        return None if images is None else as_image_set(images, param="images", quiet=self.quiet)

    def _keep_sets(self) -> None:
        """Hold the image sets of the last step and of each metric's best step (the verdict's
        inputs), no others."""
        keep = {self.history[-1]["step"]} if self.history else set()
        for metric in self.metrics:
            best = self.best(metric, verdict=False)
            keep.add(best["step"])
        self._sets = {s: v for s, v in self._sets.items() if s in keep}

    # --- files -------------------------------------------------------------------------------

    def to_dict(self, verdict: bool = True) -> dict:
        """``track --json``: ``{"metrics", "history", "best", ...}`` (strict JSON values)."""
        return {"schema": SCHEMA_ID, "version": __version__, "metrics": self.metrics,
                "history": [dict(e) for e in self.history],
                "best": self.best(verdict=verdict),
                "skipped": {m: self.skipped[m] for m in FACTS if m in self.skipped},
                "failed": list(self.failed), "notes": list(self.notes),
                "bootstrap": {"n": self.config.bootstrap, "seed": self.config.seed,
                              "confidence": self.config.confidence,
                              "stream": "compare's candidate run: default_rng([seed, 1, family])"},
                "settings": self.settings}

    def write(self, out_dir: "str | os.PathLike[str]", verdict: bool = True,
              html: bool = True) -> Dict[str, Path]:
        """track.json, track.csv and (``html``) track.html in ``out_dir``, each atomically."""
        from msgan_eval.report.track import write_track_files

        return write_track_files(Path(out_dir), self.to_dict(verdict=verdict), with_html=html)

    def resume(self, path: "str | os.PathLike[str]") -> None:
        """Continue the curve in ``path`` (a track.json): its settings must be this tracker's."""
        path = Path(path)
        try:
            stored = json.loads(path.read_text())
            if stored.get("schema") != SCHEMA_ID or not isinstance(stored.get("history"), list):
                raise ValueError(f"not a {SCHEMA_ID} file")
        except (OSError, ValueError, AttributeError) as exc:
            raise UserError(f"{path}: not a readable track file ({exc}); move it away or choose "
                            "another output folder") from None
        problem = settings_mismatch(stored.get("settings") or {}, self.settings)
        if problem is not None:
            raise UserError(f"{path}: its curve was measured with {problem}; track with the same "
                            "settings, or write the curve to another folder")
        self.history = sorted(stored["history"], key=lambda e: e["step"])
        self.failed = list(stored.get("failed") or [])
        self.skipped = dict(stored.get("skipped") or {})
        self.notes = list(stored.get("notes") or [])
        best = stored.get("best") or {}
        if best.get("verdict") is not None:      # same settings: the verdict still holds
            self._verdicts[(best["metric"], best["step"], best["last_step"])] = {
                k: best[k] for k in ("better_than_last", "verdict", "delta", "delta_ci")}


def _parameters(config: CompareConfig) -> dict:
    """The settings a stored curve must share (weight files by absolute path: the training loop
    stores them so, a command names them from where it runs)."""
    out = {k: v for k, v in asdict(config).items() if k not in _NOT_SETTINGS}
    for key in ("inception_weights", "lpips_backbone"):
        if out[key] is not None:
            out[key] = os.path.abspath(out[key])
    return out


def _reference(ref, skip_bad: bool, quiet: bool) -> Reference:
    if is_stats_path(ref):
        return Reference(stats_path=Path(ref))
    try:
        return Reference(images=as_image_set(ref, param="reference", skip_bad=skip_bad, quiet=quiet))
    except ParameterError:
        raise
    except UserError as exc:
        raise ParameterError(f"{{reference}} {exc}", "reference") from None


def check_best(best: Optional[str], config: CompareConfig) -> None:
    """``best`` names a metric of the requested families (checked before any work)."""
    if best is None:
        return
    if best not in FACTS:
        raise ParameterError(f"{{best}} {best}: not a metric; use one of {', '.join(FACTS)}", "best")
    if FACTS[best].family not in config.metrics:
        raise ParameterError(f"{{best}} {best}: not measured; add {FACTS[best].family} to "
                             "{metrics}", "best", "metrics")


def track(series, *, tracker: Tracker, out: "str | os.PathLike[str]",
          best: Optional[str] = None, progress_bar: bool = True) -> dict:
    """Measure every step of ``series`` (see ``track_series``) not yet in ``out``/track.json,
    write track.json, track.csv and track.html, and return ``track --json``. ``tracker`` holds
    the reference and the metric settings (see :class:`Tracker`)."""
    from msgan_eval.progress import progress

    from .inputs import check_output

    check_best(best, tracker.config)
    check_output(out, "out", folder=True)
    path = Path(out) / TRACK_FILE
    if path.exists():
        tracker.resume(path)
    tracker.images_of, tracker.best_metric = series.images, best
    todo = [s for s in series.steps if tracker.missing(s)]
    if todo:                                   # every input and option checked before any work
        tracker.check(series.images(todo[0]))
    for step in progress(todo, desc="track", quiet=not progress_bar, unit="step"):
        families = tracker.missing(step)
        if not families:
            continue
        tracker.log(f"track: step {step} ({', '.join(families)})")
        tracker.update(step, series.images(step), families=families)
        tracker.write(out, verdict=False, html=False)       # a kill loses at most this step
    tracker.write(out)
    return tracker.to_dict()
