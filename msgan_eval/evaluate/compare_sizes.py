"""What ``compare`` does around the metrics: runs of unequal size, NDB bins too fine for the
z-test, and the duplicates note of every report.

**Unequal sizes.** FID (biased upwards at small n), NDB/JSD (noisier bin counts), per-class FID and
the Vendi score (which grows with n) all depend on the number of images, so a run of 30 images
against one of 200 of the same distribution gets spurious verdicts. ``compare`` therefore
*subsamples the larger run to the smaller n* before every metric: without replacement, seeded
(``default_rng([seed, 7])``), per condition when both runs have the same conditions (each condition
cut to the smaller run's count of it) and over the whole set otherwise. The report records it in
``details.equal_size`` and a note; ``inputs`` keep the full sizes.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.report.compare import CompareConfig, MetricOutcome

SUBSAMPLE_STREAM = 7     # rng([seed, 7]): apart from the bootstrap streams ([seed, run, family])
MIN_KEPT = 2             # no run, and no condition of the larger run, is cut below 2 images
MIN_PER_NDB_BIN = 5      # the two-proportion z-test's usual rule: expected counts of 5 or more


def _per_condition_cut(big: ImageSet, small: ImageSet, rng: np.random.Generator) -> List[int]:
    """A condition is never cut below MIN_KEPT images (a 1-image condition of the smaller run
    would otherwise leave the larger run's with one image, whose Vendi score is 1.0 whatever it
    shows): the counts then differ there, which the note says."""
    sizes = {c: len(idx) for c, idx in small.groups().items()}
    keep: List[int] = []
    for cond, idx in big.groups().items():
        n = min(max(sizes[cond], MIN_KEPT), len(idx))
        keep.extend(np.asarray(idx)[rng.choice(len(idx), n, replace=False)].tolist())
    return sorted(keep)


def check_run_sizes(runs: Dict[str, ImageSet]) -> None:
    """ParameterError naming the run (not the other one, which would be cut to its size) when a
    run holds fewer than MIN_KEPT images."""
    for run, images in runs.items():
        if len(images) < MIN_KEPT:
            raise ParameterError(f"{{{run}}} {images.source}: {len(images)} image(s); compare needs "
                                 f"at least {MIN_KEPT} images per run", run)


def _cut(big: ImageSet, small: ImageSet, rng: np.random.Generator) -> Tuple[List[int], bool]:
    if big.conditions == small.conditions:
        return _per_condition_cut(big, small, rng), True
    return sorted(rng.choice(len(big), len(small), replace=False).tolist()), False


def equal_size_runs(runs: Dict[str, ImageSet], seed: int) -> Tuple[Dict[str, ImageSet], MetricOutcome]:
    """The runs cut to a common size (the smaller run's), and what was done, for the report."""
    out = MetricOutcome()
    check_run_sizes(runs)
    sizes = {run: len(images) for run, images in runs.items()}
    if len(set(sizes.values())) == 1:
        return runs, out
    big, small = sorted(runs, key=lambda r: -sizes[r])
    rng = np.random.default_rng([seed, SUBSAMPLE_STREAM])
    keep, by_condition = _cut(runs[big], runs[small], rng)
    cut = runs[big].subset(keep)
    runs = {**runs, big: cut}
    if len(cut) != sizes[small]:          # per condition, the larger run lacked some images
        keep_small, _ = _cut(runs[small], cut, rng)
        runs[small] = runs[small].subset(keep_small)
    out.details["equal_size"] = {
        "subsampled": big, "from": sizes[big], "to": len(runs[big]), "n": {r: len(s) for r, s in runs.items()},
        "seed": seed, "stream": f"numpy default_rng([seed, {SUBSAMPLE_STREAM}])",
        "by_condition": by_condition}
    out.notes.append(f"runs of unequal size: {big} ({sizes[big]} images) was subsampled to "
                     f"{len(runs[big])} (seeded, without replacement"
                     + (", per condition" if by_condition else "")
                     + ") so the metrics that depend on n (FID, NDB, Vendi, KID, PRDC) compare "
                     "equal n; LPIPS diversity uses every image")
    if len(runs[big]) != len(runs[small]):
        out.notes.append(f"runs of unequal size: {big} keeps {len(runs[big])} images against "
                         f"{small}'s {len(runs[small])}: no condition is cut below {MIN_KEPT} "
                         "images (one image has no diversity to measure)")
    return runs, out


def ndb_bin_notes(runs: Dict[str, ImageSet], config: CompareConfig) -> List[str]:
    """A warning when a run has fewer than MIN_PER_NDB_BIN images per NDB bin on average."""
    if "ndb" not in config.metrics:
        return []
    n = min(len(images) for images in runs.values())
    if n >= MIN_PER_NDB_BIN * config.ndb_bins:
        return []
    return [f"ndb: {n} images in {config.ndb_bins} bins is {n / config.ndb_bins:.1f} per bin; the "
            f"per-bin z-test needs about {MIN_PER_NDB_BIN} or more, so NDB and its verdict are "
            f"unreliable (use --ndb-bins {max(2, n // MIN_PER_NDB_BIN)} or more images)"]


def duplicates_outcome(runs: Dict[str, ImageSet], config: CompareConfig, quiet: bool,
                       features_ready: bool) -> MetricOutcome:
    """Exact and near duplicates per run and condition (near only when Inception features were
    extracted for a metric anyway: this note never runs the network by itself)."""
    from .vendi import duplicate_table

    out = MetricOutcome()
    table = {}
    for run, images in runs.items():
        feats = None
        # The 0.99 cosine rule is calibrated on Inception pool3 (non-negative features): with
        # another --features space the near duplicates are not measured.
        if features_ready and config.features == "inception":
            from msgan_eval.features.inception import resolve_inception_weights

            from .features import inception_features

            feats = inception_features(images, weights=resolve_inception_weights(config.inception_weights),
                                       dims=config.dims, device=config.device,
                                       batch_size=config.batch_size,
                                       num_workers=config.num_workers, quiet=quiet,
                                       preset=config.preset)
        table[run] = duplicate_table(images, feats)
    out.details["duplicates"] = table
    parts = [f"{run} exact {t['exact']:.3f}, near " + ("n/a" if t["near"] is None else f"{t['near']:.3f}")
             for run, t in table.items()]
    out.notes.append("duplicates (fraction of images repeating an earlier one of their condition): "
                     + "; ".join(parts) + f" (near: {next(iter(table.values()))['near_rule']})")
    return out
