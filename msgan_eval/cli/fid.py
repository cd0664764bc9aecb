"""``msgan-eval fid``, ``stats`` and ``weights``: parse, call, print, pick the exit code."""
from __future__ import annotations

import sys

import click

from msgan_eval import __version__

from .options import (
    batch_size_option,
    device_option,
    dims_option,
    emit,
    feature_weights_option,
    features_option,
    inception_weights_option,
    json_option,
    num_workers_option,
    preset_option,
    quiet_option,
    skip_bad_option,
    vgg16_weights_option,
)


def _no_cache_option(f):
    return click.option("--no-cache", is_flag=True,
                        help="Do not read or write cached reference statistics.")(f)


def _extraction_options(f):
    """The options shared by ``fid`` and ``stats``: how images become Inception statistics."""
    for option in reversed((dims_option, features_option(), preset_option, device_option,
                            batch_size_option(), num_workers_option, inception_weights_option,
                            feature_weights_option, _no_cache_option, skip_bad_option)):
        f = option(f)
    return f


def _per_class_lines(result) -> str:
    if result.per_class is None:
        return ""
    width = max(len(c) for c in result.per_class)
    rows = [f"\nper-class FID: mean {result.fid_per_class_mean:.6f} over {len(result.per_class)} classes"]
    rows += [f"  {c:<{width}}  {v:.6f}" for c, v in result.per_class.items()]
    rows += [f"  left out (missing from {side}): {', '.join(names)}"
             for side, names in (result.missing_classes or {}).items()]
    return "\n".join(rows)


@click.command()
@click.argument("path_a", metavar="A", type=click.Path())
@click.argument("path_b", metavar="B", type=click.Path())
@_extraction_options
@click.option("--cache-generated", is_flag=True,
              help="Cache B's statistics too (by default only A, the reference, is cached).")
@click.option("--per-class", is_flag=True,
              help="Also the FID of each condition (sub-folder) of A against B's of the same name, "
                   "and their mean.")
@click.option("--skip-missing", is_flag=True,
              help="With --per-class: leave out conditions one side lacks (listed) instead of refusing.")
@json_option
@quiet_option
def fid(path_a, path_b, dims, features, preset, device, batch_size, num_workers, inception_weights,
        feature_weights, no_cache, skip_bad, cache_generated, per_class, skip_missing, as_json,
        quiet):
    """FID between A and B (image folders/arrays or .npz statistics files), same as pytorch-fid
    (or, with --preset, as torch-fidelity or clean-fid).

    A is taken as the reference: its statistics are cached for the next run, B's only with
    --cache-generated.
    """
    from msgan_eval import distributed
    from msgan_eval.evaluate.fid import fid as evaluate_fid
    from msgan_eval.progress import warn

    distributed.init_distributed()
    result = evaluate_fid(path_a, path_b, dims=int(dims), preset=preset, device=device, batch_size=batch_size,
                          num_workers=num_workers, inception_weights=inception_weights,
                          use_cache=not no_cache, cache_generated=cache_generated,
                          skip_bad=skip_bad, quiet=quiet, per_class=per_class,
                          skip_missing=skip_missing, features=features,
                          feature_weights=feature_weights)
    if distributed.is_main_process():   # rank 0 alone prints
        for bad_file, _ in result.skipped_files:
            warn(f"skipped unreadable {bad_file}")
        for note in result.warnings:
            warn(note)
        emit(result.to_dict(), as_json,
             f"{_fd_name(result.features)}: {result.fid:.6f}  (n = {result.n[0]} / {result.n[1]}, "
             f"dims {result.dims}, preset {result.preset})" + _per_class_lines(result))
    distributed.close_distributed()


@click.command()
@click.argument("path", type=click.Path())
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False),
              help="Statistics file to write (.npz, readable by pytorch-fid).")
@_extraction_options
@json_option
@quiet_option
def stats(path, out, dims, features, preset, device, batch_size, num_workers, inception_weights,
          feature_weights, no_cache, skip_bad, as_json, quiet):
    """Write FID statistics (mu, sigma + n, dims, weights sha256, preset, version) of PATH to OUT."""
    from msgan_eval import distributed
    from msgan_eval.evaluate.fid import statistics
    from msgan_eval.progress import warn

    distributed.init_distributed()
    s = statistics(path, out=out, dims=int(dims), preset=preset, device=device, batch_size=batch_size,
                   num_workers=num_workers, inception_weights=inception_weights,
                   use_cache=not no_cache, skip_bad=skip_bad, quiet=quiet, features=features,
                   feature_weights=feature_weights)
    if distributed.is_main_process():
        for bad_file, _ in s.skipped_files:
            warn(f"skipped unreadable {bad_file}")
        emit(s.to_dict(), as_json,
             f"wrote {s.dims}-d {s.features or 'inception'} {s.preset} statistics of {s.n} "
             f"images to {out}")
    distributed.close_distributed()


def _weights_line(row) -> str:
    """One row per file; the reason of a status ("invalid: <why>") on its own line below."""
    word, _, reason = row.status.partition(": ")
    if row.status == "ok" and row.verification == "unverified":
        reason = "unverified: neither the published file nor our conversion; results are marked so"
        if row.spec.no_hash_reason:
            reason = f"unverified: {row.spec.no_hash_reason}"
    if row.status == "missing" and row.spec.option == "--feature-weights":   # #25's networks
        from msgan_eval.weights import hub_cache_path, published_hash

        reason = (f"missing: {hub_cache_path(row.spec)}{published_hash(row.spec)}, "
                  f"from {row.spec.url}")
    return (f"{row.spec.key:16s} {word:8s} {row.source:10.10s} {(row.sha256 or '-')[:16]:16s} "
            f"{row.location or '-'}" + (f"\n    {reason}" if reason else ""))


def _fd_name(features: str) -> str:
    """FID on Inception; FD_<network> on the others (Stein et al.'s FD_DINOv2)."""
    return "FID" if features == "inception" else f"FD[{features}]"


@click.command()
@inception_weights_option
@vgg16_weights_option
@json_option
@quiet_option
def weights(inception_weights, vgg16_weights, as_json, quiet):
    """Each known weight file: where it was found, its SHA-256 and status (nothing is fetched).

    The DINOv2 and CLIP feature networks are listed by their --features name; each is looked for
    at $MSGAN_EVAL_<NAME>_WEIGHTS, then $TORCH_HOME/hub/checkpoints/<official file>."""
    from msgan_eval.features.inception import inception_weights_status
    from msgan_eval.features.lpips_net import backbone_validator
    from msgan_eval.features.vgg16 import VGG16, validate_vgg16
    from msgan_eval.weights import LPIPS_BACKBONES, inspect_weights

    rows = [inception_weights_status(inception_weights)]
    # Loaded and checked key by key like `lpips` does: a truncated file or another network's
    # weights (e.g. $MSGAN_EVAL_LPIPS_BACKBONE, shared by the three nets) is never listed as ok.
    rows += [inspect_weights(spec, validate=backbone_validator(net))
             for net, spec in LPIPS_BACKBONES.items()]
    # prdc --features vgg16-fc2's file, checked key by key the same way (no offline source).
    rows.append(inspect_weights(VGG16, vgg16_weights, validate=validate_vgg16))
    from msgan_eval.features.checkpoints import network_weights_status
    from msgan_eval.features.networks import NETWORK_NAMES

    rows += [network_weights_status(name) for name in NETWORK_NAMES]
    payload = {"weights": [r.as_dict() for r in rows], "version": __version__}
    emit(payload, as_json, "\n".join(_weights_line(r) for r in rows))
    if any(r.status.startswith("invalid") for r in rows) and not as_json:
        sys.stderr.write("msgan-eval: some weight files are unusable (see above)\n")
