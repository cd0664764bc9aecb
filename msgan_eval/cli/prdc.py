"""``msgan-eval prdc``: precision, recall, density and coverage of generated images."""
import click

from msgan_eval import defaults

from .options import (
    emit,
    features_option,
    inception_run_options,
    vgg16_weights_option,
)


def _human(result) -> str:
    how = f", {result.preset} preprocessing" if result.preset else ""
    lines = [f"PRDC of {result.inputs[1]} against {result.inputs[0]} ({result.features}{how}, "
             f"k = {result.k}):",
             f"  precision {result.precision:.4f}  recall {result.recall:.4f}",
             f"  density   {result.density:.4f}  coverage {result.coverage:.4f}",
             f"  {result.n[0]} real vs {result.n[1]} generated images"]
    lines += [f"  note: {w}" for w in result.warnings]
    return "\n".join(lines)


@click.command()
@click.argument("real", type=click.Path())
@click.argument("gen", type=click.Path())
@click.option("--k", "k", type=click.IntRange(min=1), default=defaults.PRDC_K, show_default=True,
              help="Nearest neighbours of the radii (3: Kynkaanniemi et al.; 5: Naeem et al.).")
@features_option(default=defaults.PRDC_FEATURES)
@vgg16_weights_option
@inception_run_options
def prdc(real, gen, k, features, vgg16_weights, preset, inception_weights, feature_weights, device,
         batch_size, num_workers, skip_bad, as_json, quiet):
    """Precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020)
    of the images at GEN against the real images at REAL (prdc's compute_prdc)."""
    from msgan_eval.evaluate.prdc import prdc as evaluate_prdc

    result = evaluate_prdc(real, gen, k=k, features=features, preset=preset,
                           inception_weights=inception_weights, feature_weights=feature_weights,
                           vgg16_weights=vgg16_weights, device=device, batch_size=batch_size,
                           num_workers=num_workers, skip_bad=skip_bad, quiet=quiet)
    emit(result.to_dict(), as_json, _human(result))
