"""``msgan-eval ndb``: NDB and JSD of generated images against K-means bins of the training set."""
import click

from .. import __version__, defaults
from ..metrics.ndb import KMEANS_PATHS, NDB_KMEANS
from ..errors import UserError
from .options import emit, json_option, quiet_option, seed_option, skip_bad_option


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


def _load_checked_bins(bins_file, train_set, requested):
    from ..ndb_data import bins_mismatches, load_bins

    bins, info = load_bins(bins_file)
    if train_set is None:
        return bins, info, "file, taken as given (no --train to check it against)"
    problems = bins_mismatches(bins, info, train_set, requested)
    if problems:
        raise UserError(f"--bins-file {bins_file}: does not match --train {train_set.source}: "
                        f"{'; '.join(problems)}; refit without --bins-file (add --save-bins FILE)")
    return bins, info, "file, checked against --train"


def _fit(train_set, k, seed, whiten, max_dims, kmeans, quiet):
    from ..metrics.ndb import fit_bins
    from ..ndb_data import bins_info_for, images_to_vectors

    info = bins_info_for(train_set)       # checks that the training images share one size
    if len(train_set) < k:
        raise UserError(f"--train {train_set.source}: {len(train_set)} training images for --bins "
                        f"{k}; give at least as many training images as bins, or lower --bins")
    train = images_to_vectors(train_set, quiet=quiet)
    if not quiet:
        click.echo(f"fitting {k} K-means bins on {len(train)} training images ...", err=True)
    try:
        bins = fit_bins(train, k=k, seed=seed, whiten=whiten, max_dims=max_dims, kmeans=kmeans)
    except ValueError as exc:
        raise UserError(f"--train {train_set.source}: {exc} (--bins)") from None
    return bins, info


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
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=defaults.NDB_ALPHA, show_default=True,
              help="Significance level of the per-bin two-proportion z-test.")
@click.option("--z-threshold", type=click.FloatRange(min=0), default=None,
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
@skip_bad_option
@json_option
@quiet_option
@click.pass_context
def ndb(ctx, gen, train, bins, alpha, z_threshold, seed, whiten, max_dims, kmeans, save_bins,
        bins_file, plot, skip_bad, as_json, quiet):
    """NDB and JSD of the images at GEN against K-means bins of the training images.

    All images at GEN are pooled (conditions are not separated). Images are compared as RGB pixels
    in [0, 1]; grey images count as three equal channels, and generated images of another size are
    resized to the training size with PIL's bilinear filter.
    """
    from ..images import scan_images
    from ..metrics.ndb import evaluate_bins
    from ..ndb_data import images_to_vectors, save_bins as write_bins

    max_dims = _max_dims(max_dims)
    if plot:
        from ..plots import require_matplotlib

        require_matplotlib()
    if train is None and bins_file is None:
        raise UserError("ndb needs the training images (--train TRAIN) or saved bins "
                        "(--bins-file FILE)")
    train_set = scan_images(train, skip_bad=skip_bad, progress_quiet=quiet) if train else None
    gen_set = scan_images(gen, skip_bad=skip_bad, progress_quiet=quiet)
    if bins_file:
        requested = _explicit(ctx, k=bins, seed=seed, whiten=whiten, max_dims=max_dims)
        fitted, info, bins_source = _load_checked_bins(bins_file, train_set, requested)
    else:
        fitted, info = _fit(train_set, bins, seed, whiten, max_dims, kmeans, quiet)
        bins_source = "fitted on --train"
    samples = images_to_vectors(gen_set, size=info.image_size, quiet=quiet)
    result = evaluate_bins(fitted, samples, alpha=alpha, z_threshold=z_threshold)
    if save_bins:
        write_bins(save_bins, fitted, info)
    if plot:
        from ..plots import plot_ndb_bins

        plot_ndb_bins(plot, result, title=f"NDB {result.ndb}/{result.k}, JSD {result.jsd:.4f}: {gen}")
    if bins_file and train_set is None and not as_json:
        click.echo(f"note: bins from {bins_file} taken as given (fitted on {info.train_source}; "
                   "no --train to check them against)", err=True)
    skipped = len(gen_set.skipped) + (len(train_set.skipped) if train_set else 0)
    payload = {"metric": "ndb", **result.to_dict(), "seed": fitted.seed, "whiten": fitted.whiten,
               "max_dims": fitted.max_dims, "used_dims": int(len(fitted.used_dims)),
               "n_init": fitted.n_init, "max_iter": fitted.max_iter,
               "kmeans": None if bins_file else kmeans, "generated": gen,
               "train": train, "bins_file": bins_file, "bins_source": bins_source,
               "train_fingerprint": info.fingerprint, "image_size": list(info.image_size),
               "saved_bins": save_bins, "plot": plot, "skipped": skipped, "version": __version__}
    emit(payload, as_json, _human(result, gen, bins_source, skipped))
