"""``msgan-eval inspect``: per-image flags (blank, saturated, noise, duplicate, copy-of-train,
unrealistic) calibrated on a reference set of real images."""
import click

from msgan_eval import defaults

from .options import FiniteFloat, emit, features_option, inception_run_options, vgg16_weights_option


def _human(result) -> str:
    d = result.to_dict()
    lines = [f"Inspected {d['n']} images of {d['inputs']['images']} against {d['n_reference']} "
             f"reference images ({d['inputs']['ref']}):",
             f"  degenerate {d['degenerate_fraction']:.1%}  (blank, saturated or noise)"]
    for key in ("duplicate_fraction", "copy_fraction", "unrealistic_fraction"):
        value = d[key]
        lines.append(f"  {key[:-len('_fraction')]:<10} "
                     f"{'not computed' if value is None else f'{value:.1%}'}")
    lines.append("  flags: " + ", ".join(f"{f} {'-' if c is None else c}"
                                         for f, c in d["flags"].items()))
    for flag, reason in d["not_computed"].items():
        lines.append(f"  not computed: {flag}: {reason}")
    lines += [f"  note: {n}" for n in d["notes"]]
    return "\n".join(lines)


@click.command()
@click.argument("path", type=click.Path())
@click.option("--ref", required=True, type=click.Path(), metavar="REF",
              help=f"Real images held out from training (at least "
                   f"{defaults.INSPECT_MIN_REFERENCE}): every threshold is calibrated on them.")
@click.option("--train", type=click.Path(), default=None, metavar="TRAIN",
              help="Training images: flag samples nearer to one than held-out images are "
                   "(copy-of-train).")
@click.option("--k", "k", type=click.IntRange(min=1), default=defaults.REALISM_K,
              show_default=True,
              help="Nearest neighbours of the realism score's radii (precision/recall's).")
@click.option("--prune-percentile", type=FiniteFloat(min=0, max=100, min_open=True), default=None,
              help="Realism max over the reference balls no larger than this percentile of "
                   "their radii (the paper's ranking score: 50); default: every ball, so "
                   "unrealistic = outside k-NN precision's balls.")
@features_option(default=defaults.PRDC_FEATURES)
@click.option("--near-duplicate-cosine", type=FiniteFloat(min=0, max=1, min_open=True),
              default=defaults.NEAR_DUPLICATE_COSINE, show_default=True,
              help="Cosine similarity of features at or above which two samples are duplicates.")
@click.option("--html", type=click.Path(dir_okay=False), default=None, metavar="OUT.html",
              help="Write a page showing the flagged images, grouped by flag.")
@vgg16_weights_option
@inception_run_options
def inspect(path, ref, train, k, prune_percentile, features, near_duplicate_cosine, html, vgg16_weights, preset,
            inception_weights, feature_weights, device, batch_size, num_workers, skip_bad, as_json, quiet):
    """Flag each image at PATH that lies outside what the real images at --ref show: blank,
    saturated, noise (degenerate), duplicate, copy-of-train (with --train) and unrealistic
    (realism score of Kynkaanniemi et al. 2019 below 1)."""
    from msgan_eval.evaluate.inspect import inspect as evaluate_inspect

    result = evaluate_inspect(path, ref, train=train, k=k, prune_percentile=prune_percentile,
                              features=features, preset=preset,
                              near_duplicate_cosine=near_duplicate_cosine,
                              inception_weights=inception_weights, vgg16_weights=vgg16_weights,
                              feature_weights=feature_weights, device=device, batch_size=batch_size, num_workers=num_workers,
                              html=html, skip_bad=skip_bad, quiet=quiet)
    emit(result.to_dict(), as_json, _human(result))
