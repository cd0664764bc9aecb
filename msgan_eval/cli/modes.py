"""``msgan-eval modes``: count the modes of 2D ring/grid samples or of stacked digits (PacGAN's)."""
import click

from .options import batch_size_option, device_option, emit, json_option, quiet_option


def _human_2d(r) -> str:
    kl = "n/a (no high-quality sample)" if r.reverse_kl is None else f"{r.reverse_kl:.4f}"
    lines = [f"{r.layout} ({r.modes_total} Gaussians, sigma {r.sigma:g}) of {r.input}:",
             f"  modes        {r.modes} of {r.modes_total}",
             f"  high quality {r.high_quality:.4f}  ({sum(r.counts)} of {r.n} samples within "
             f"{r.threshold:g} sigma of their nearest mode)",
             f"  reverse KL   {kl}  (high-quality histogram vs uniform, natural log)",
             f"  counts       {' '.join(str(c) for c in r.counts)}"]
    return "\n".join(lines + [f"  note: {w}" for w in r.warnings])


def _human_stacked(r) -> str:
    err = r.classifier.get("test_error")
    clf = r.classifier.get("name", "?") + ("" if err is None else f", per-channel test error "
                                                                    f"{100 * err:.2f}%")
    lines = [f"stacked digits of {r.input} ({r.n} items, classifier {clf}):",
             f"  modes {r.modes} of {r.modes_total}",
             f"  KL    {r.kl:.4f}  (label-triple histogram vs uniform over 1000, natural log)"]
    return "\n".join(lines + [f"  note: {w}" for w in r.warnings])


@click.command()
@click.argument("layout", type=click.Choice(["ring", "grid", "stacked"]))
@click.argument("samples", type=click.Path())
@click.option("--classifier", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="stacked: the per-channel digit classifier's weights (default: the bundled "
                   "Fashion-MNIST classifier).")
@device_option
@batch_size_option(500)
@json_option
@quiet_option
def modes(layout, samples, classifier, device, batch_size, as_json, quiet):
    """Modes covered by SAMPLES, as PacGAN's code counts them.

    ring / grid: SAMPLES is an (N, 2) .npy or .csv of points (PacGAN draws 2500); a point is high
    quality within 3 sigma of its nearest mode, a mode is covered by one such point, reverse KL is
    the high-quality histogram's KL to uniform. stacked: SAMPLES is a folder of RGB images or an
    (N, 28, 28, 3) uint8 .npy (26,000 in the protocol); each channel is labelled by a classifier
    and modes are distinct label triples of 1000.
    """
    from msgan_eval.evaluate.modes import modes as evaluate_modes

    result = evaluate_modes(layout, samples, classifier=classifier, device=device,
                            batch_size=batch_size, quiet=quiet)
    human = _human_stacked(result) if layout == "stacked" else _human_2d(result)
    emit(result.to_dict(), as_json, human)
