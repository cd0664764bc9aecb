"""``msgan-eval vendi``: the Vendi score per condition (cosine kernel on Inception features)."""
import click

from msgan_eval import defaults

from .options import (
    dims_option,
    emit,
    features_option,
    inception_run_options,
    real_images_named,
)


def _duplicates_line(dup: dict) -> str:
    near = "n/a" if dup["near"] is None else f"{dup['near']:.3f}"
    return (f"  duplicates: exact {dup['exact']:.3f}, near {near} "
            f"(fraction of images repeating an earlier one; near: {dup['near_rule']})")


def _human(result) -> str:
    lines = [f"Vendi score of {result.path} ({result.kernel} kernel on {result.features}, "
             f"{result.preset or 'its own'} preprocessing, n = {result.n}):",
             f"  vendi {result.vendi:.4f}  (mean over "
             f"{sum(v is not None for v in result.per_condition.values())} conditions)"]
    width = max(len(c) for c in result.per_condition)
    for cond, value in result.per_condition.items():
        shown = "n/a (fewer than 2 images)" if value is None else f"{value:.4f}"
        lines.append(f"    {cond:<{width}}  {shown}")
    lines.append(_duplicates_line(result.duplicates))
    if result.gated is not None:
        g = result.gated
        if g["kept_fraction"] is None:
            lines.append(f"  vendi_gated not computed: {g['gate']['reason']}")
        else:
            value = "n/a" if g["vendi_gated"] is None else f"{g['vendi_gated']:.4f}"
            lines.append(f"  vendi_gated {value}  (kept {g['kept_fraction']:.1%} of the samples: "
                         f"{g['gate']['rule']})")
    lines += [f"  note: {w}" for w in result.warnings]
    return "\n".join(lines)


@click.command()
@click.argument("path", type=click.Path())
@dims_option
@features_option()
@click.option("--real", type=click.Path(), default=None, metavar="REF",
              help="Real images (at least 50): also report vendi_gated, the Vendi score of the "
                   "samples whose realism score against them is >= 1, and kept_fraction.")
@click.option("--realism-k", type=click.IntRange(min=1), default=defaults.REALISM_K,
              show_default=True, help="Nearest neighbours of the realism gate's radii.")
@inception_run_options
def vendi(path, dims, features, real, realism_k, preset, inception_weights, feature_weights, device,
          batch_size, num_workers, skip_bad, as_json, quiet):
    """Vendi score of PATH per condition: exp(entropy of the eigenvalues of K/n), K the cosine
    similarity of Inception features (Friedman & Dieng 2023); needs no reference set."""
    from msgan_eval.evaluate.vendi import vendi as evaluate_vendi
    from msgan_eval.progress import warn

    result = real_images_named(lambda: evaluate_vendi(
        path, dims=int(dims), preset=preset, features=features, device=device,
        batch_size=batch_size, num_workers=num_workers, inception_weights=inception_weights,
        feature_weights=feature_weights, skip_bad=skip_bad, quiet=quiet, real=real,
        realism_k=realism_k))
    for bad_file, _ in result.skipped_files:
        warn(f"skipped unreadable {bad_file}")
    for note in result.warnings:
        warn(note)
    emit(result.to_dict(), as_json, _human(result))
