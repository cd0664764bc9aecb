"""``msgan-eval ndb``: NDB and JSD of generated images against K-means bins of the training set."""
import click

from msgan_eval import defaults
from msgan_eval.metrics.ndb import KMEANS_PATHS, NDB_KMEANS

from .options import FiniteFloat, emit, json_option, quiet_option, seed_option, skip_bad_option


def _max_dims(value):
    if value is None or value == "all":
        return value
    try:
        n = int(value)
    except ValueError:
        raise click.BadParameter("use a positive integer or 'all'", param_hint="--max-dims")
    if n < 1:
        raise click.BadParameter("use a positive integer or 'all'", param_hint="--max-dims")
    return n


def _explicit(ctx: click.Context, **values) -> dict:
    """The parameters the user typed (defaults are taken from a bins file instead)."""
    from click.core import ParameterSource

    names = {"k": "bins"}
    return {key: value for key, value in values.items()
            if ctx.get_parameter_source(names.get(key, key)) != ParameterSource.DEFAULT}


def _human(result, gen, bins_source, skipped) -> str:
    lines = [f"NDB of {gen} against {result.k} bins ({bins_source}):",
             f"  ndb {result.ndb}  (NDB/K {result.ndb_ratio:.4f}; "
             + (f"|z| > {result.z_threshold}" if result.z_threshold is not None
                else f"alpha {result.alpha}") + ")",
             f"  jsd {result.jsd:.6f}  (nats, max ln 2)",
             f"  {result.n_samples} generated vs {result.n_train} training samples"]
    if skipped:
        lines.append(f"  note: {skipped} unreadable files skipped")
    return "\n".join(lines)


@click.command()
@click.argument("gen", type=click.Path())
@click.option("--train", default=None, type=click.Path(), help="Training images (the bins' data).")
@click.option("--bins", type=click.IntRange(min=1), default=defaults.NDB_BINS, show_default=True,
              help="Number of K-means bins K.")
@click.option("--alpha", type=FiniteFloat(0, 1, min_open=True, max_open=True),
              default=defaults.NDB_ALPHA, show_default=True,
              help="Significance level of the per-bin two-proportion z-test.")
@click.option("--z-threshold", type=FiniteFloat(min=0), default=None,
              help="Call a bin different when |z| exceeds this (instead of p < alpha).")
@seed_option
@click.option("--whiten", is_flag=True, help="Whiten per dimension with the training mean and std.")
@click.option("--max-dims", default=None, metavar="N|all",
              help="Dimensions used for K-means and assignment (default: all, or a seeded random "
                   "d // 6 when d > 1000, as the reference does).")
@click.option("--kmeans", type=click.Choice(KMEANS_PATHS), default=NDB_KMEANS, show_default=True,
              help="K-means path: 'exact' gives scikit-learn's (the reference's) bins exactly; "
                   "'fast' runs the same seeded steps with float32 distances (NDB agreed within "
                   "2 in benchmarks/bench_ndb.py).")
@click.option("--save-bins", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the bins (with a fingerprint of the training files) for reuse.")
@click.option("--bins-file", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Reuse bins from --save-bins instead of fitting; checked against --train if "
                   "given. Parameters you pass must match the file; the others come from it.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False), metavar="FILE.png",
              help="Plot training vs generated proportions per bin (needs matplotlib).")
@click.option("--protocol", type=click.Choice(("msgan",)), default=None,
              help="msgan: what the MSGAN authors ran (whitening on, 100 bins; HelenMao/MSGAN #18). "
                   "Our defaults stay the reference code's.")
@skip_bad_option
@json_option
@quiet_option
@click.pass_context
def ndb(ctx, gen, train, bins, alpha, z_threshold, seed, whiten, max_dims, kmeans, save_bins,
        bins_file, plot, protocol, skip_bad, as_json, quiet):
    """NDB and JSD of the images at GEN against K-means bins of the training images.

    All images at GEN are pooled (conditions are not separated). Images are compared as RGB pixels
    in [0, 1]; grey images count as three equal channels, and generated images of another size are
    resized to the training size with PIL's bilinear filter.
    """
    from msgan_eval.evaluate.ndb import ndb as evaluate_ndb

    explicit = _explicit(ctx, k=bins, seed=seed, whiten=whiten, max_dims=_max_dims(max_dims))
    result = evaluate_ndb(gen, train=train, bins=bins_file, alpha=alpha, z_threshold=z_threshold,
                          kmeans=kmeans, save_bins=save_bins, plot=plot, skip_bad=skip_bad,
                          quiet=quiet, protocol=protocol, **explicit)
    if bins_file and train is None and not as_json:
        click.echo(f"note: bins from {bins_file} taken as given (fitted on "
                   f"{result.info.train_source}; no --train to check them against)", err=True)
    emit(result.to_dict(), as_json, _human(result, gen, result.bins_source, result.skipped))
