"""``msgan-eval fid``, ``stats`` and ``weights``: parse, call, print, pick the exit code."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import List, Optional

import click

from .. import __version__
from ..errors import UserError
from .options import (batch_size_option, device_option, dims_option, emit,
                      inception_weights_option, json_option, num_workers_option, quiet_option,
                      skip_bad_option)


def _no_cache_option(f):
    return click.option("--no-cache", is_flag=True,
                        help="Do not read or write cached reference statistics.")(f)


def _extraction_options(f):
    """The options shared by ``fid`` and ``stats``: how images become Inception statistics."""
    for option in reversed((dims_option, device_option, batch_size_option(), num_workers_option,
                            inception_weights_option, _no_cache_option, skip_bad_option)):
        f = option(f)
    return f


def _warn(message: str) -> None:
    click.echo(f"msgan-eval: warning: {message}", err=True)


def _prepare(paths, weights_file, device):
    """Check the cheap things before any long work: device, and weights if images need them."""
    from ..device import resolve_device
    from ..images import is_stats_file

    if all(is_stats_file(Path(p)) for p in paths):
        return None
    from ..features.inception import resolve_inception_weights

    resolve_device(device)
    return resolve_inception_weights(weights_file)


def _statistics_of(path: str, *, weights, dims, device, batch_size, num_workers, skip_bad, quiet,
                   use_cache):
    """(FidStats, number of skipped files) of an image path or a statistics .npz."""
    from ..features.stats_cache import load_fid_stats
    from ..images import is_stats_file, scan_images

    if is_stats_file(Path(path)):
        stats = load_fid_stats(path)
        if stats.dims != dims:
            raise UserError(f"{path}: holds {stats.dims}-d statistics but --dims is {dims}; "
                            f"pass --dims {stats.dims} or re-create the file")
        return stats, 0
    from ..features.extract import image_set_statistics

    image_set = scan_images(path, skip_bad=skip_bad, progress_quiet=quiet)
    for bad_file, _ in image_set.skipped:
        _warn(f"skipped unreadable {bad_file}")
    stats = image_set_statistics(image_set, weights=weights, dims=dims, device=device,
                                 batch_size=batch_size, num_workers=num_workers, quiet=quiet,
                                 use_cache=use_cache)
    return stats, len(image_set.skipped)


def _check_weights_agree(stats_list, weights_sha256: Optional[str]) -> None:
    known = {s.weights_sha256 for s in stats_list if s.weights_sha256}
    if weights_sha256:
        known.add(weights_sha256)
    if len(known) > 1:
        _warn("the two statistics were computed with different Inception weights "
              f"({', '.join(sorted(k[:12] for k in known))}); the FID is not comparable")


def _rank_deficiency_notes(stats_list) -> List[str]:
    return [f"{s.source}: {s.n} images for {s.dims} dimensions: the covariance is rank-deficient, "
            "so the FID is biased and noisy (use more images than dimensions"
            + (", or a smaller --dims)" if s.dims > 64 else ")")
            for s in stats_list if s.n is not None and s.n <= s.dims]


def _frechet_with_notes(a, b) -> tuple:
    """FID of two FidStats and the warnings it raised, as text (printed on stderr)."""
    from ..metrics.fid import RankDeficientCovarianceWarning, frechet_distance

    notes = _rank_deficiency_notes([a, b])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    for w in caught:
        # The per-set note above already says it better when n is known.
        if issubclass(w.category, RankDeficientCovarianceWarning) and notes:
            continue
        notes.append(str(w.message))
    return value, notes


@click.command()
@click.argument("path_a", metavar="A", type=click.Path())
@click.argument("path_b", metavar="B", type=click.Path())
@_extraction_options
@json_option
@quiet_option
def fid(path_a, path_b, dims, device, batch_size, num_workers, inception_weights, no_cache,
        skip_bad, as_json, quiet):
    """FID between A and B (image folders/arrays or .npz statistics files), same as pytorch-fid."""
    from .. import distributed

    distributed.init_distributed()
    dims, stats, skipped = int(dims), [], []
    weights = _prepare((path_a, path_b), inception_weights, device)
    for path in (path_a, path_b):
        s, k = _statistics_of(path, weights=weights, dims=dims, device=device,
                              batch_size=batch_size, num_workers=num_workers, skip_bad=skip_bad,
                              quiet=quiet, use_cache=not no_cache)
        stats.append(s)
        skipped.append(k)
    if not distributed.is_main_process():   # rank 0 alone computes and prints
        distributed.close_distributed()
        return
    _check_weights_agree(stats, weights.sha256 if weights else None)
    value, notes = _frechet_with_notes(*stats)
    for note in notes:
        _warn(note)
    sha = weights.sha256 if weights else next((s.weights_sha256 for s in stats if s.weights_sha256), None)
    payload = {"fid": value, "n": [s.n for s in stats], "dims": dims, "weights_sha256": sha,
               "weights": weights.as_dict() if weights else None, "version": __version__,
               "inputs": [path_a, path_b], "cached": [s.cached for s in stats],
               "skipped": skipped, "device": device, "batch_size": batch_size,
               "num_workers": num_workers, "processes": distributed.world_size(),
               "warnings": notes}
    emit(payload, as_json, f"FID: {value:.6f}  (n = {stats[0].n} / {stats[1].n}, dims {dims})")
    distributed.close_distributed()


@click.command()
@click.argument("path", type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False),
              help="Statistics file to write (.npz, readable by pytorch-fid).")
@_extraction_options
@json_option
@quiet_option
def stats(path, out, dims, device, batch_size, num_workers, inception_weights, no_cache, skip_bad,
          as_json, quiet):
    """Write FID statistics (mu, sigma + n, dims, weights sha256, version) of PATH to OUT."""
    from .. import distributed
    from ..features.stats_cache import save_fid_stats

    if not out.lower().endswith(".npz"):
        raise click.BadParameter("must end with .npz (pytorch-fid only reads .npz statistics)",
                                 param_hint="--out")
    distributed.init_distributed()
    weights = _prepare((path,), inception_weights, device)
    s, skipped = _statistics_of(path, weights=weights, dims=int(dims), device=device,
                                batch_size=batch_size, num_workers=num_workers, skip_bad=skip_bad,
                                quiet=quiet, use_cache=not no_cache)
    if not distributed.is_main_process():
        distributed.close_distributed()
        return
    save_fid_stats(out, s)
    payload = {"out": out, "n": s.n, "dims": s.dims, "weights_sha256": s.weights_sha256,
               "weights": weights.as_dict() if weights else None, "version": __version__,
               "input": path, "cached": s.cached, "skipped": skipped,
               "processes": distributed.world_size()}
    emit(payload, as_json, f"wrote {s.dims}-d statistics of {s.n} images to {out}")
    distributed.close_distributed()


def _weights_line(row) -> str:
    """One row per file; the reason of a status ("invalid: <why>") on its own line below."""
    word, _, reason = row.status.partition(": ")
    if row.status == "ok" and row.verification == "unverified":
        reason = "unverified: neither the published file nor our conversion; results are marked so"
    return (f"{row.spec.key:14s} {word:8s} {row.source:10.10s} {(row.sha256 or '-')[:16]:16s} "
            f"{row.location or '-'}" + (f"\n    {reason}" if reason else ""))


@click.command()
@inception_weights_option
@json_option
@quiet_option
def weights(inception_weights, as_json, quiet):
    """Each known weight file: where it was found, its SHA-256 and status (nothing is fetched)."""
    from ..features.inception import inception_weights_status
    from ..features.lpips_net import backbone_validator
    from ..weights import LPIPS_BACKBONES, inspect_weights

    rows = [inception_weights_status(inception_weights)]
    # Loaded and checked key by key like `lpips` does: a truncated file or another network's
    # weights (e.g. $MSGAN_EVAL_LPIPS_BACKBONE, shared by the three nets) is never listed as ok.
    rows += [inspect_weights(spec, validate=backbone_validator(net))
             for net, spec in LPIPS_BACKBONES.items()]
    payload = {"weights": [r.as_dict() for r in rows], "version": __version__}
    emit(payload, as_json, "\n".join(_weights_line(r) for r in rows))
    if any(r.status.startswith("invalid") for r in rows) and not as_json:
        sys.stderr.write("msgan-eval: some weight files are unusable (see above)\n")
