"""``msgan-eval cmmd``: CMMD between two image sets (cmmd-pytorch's computation, with an interval)."""
import click

from msgan_eval import defaults

from .options import (
    FiniteFloat,
    batch_size_option,
    device_option,
    emit,
    feature_weights_option,
    features_option,
    json_option,
    num_workers_option,
    preset_option,
    quiet_option,
    seed_option,
    skip_bad_option,
)


def _human(result) -> str:
    lines = [f"CMMD of {result.inputs[1]} against {result.inputs[0]} ({result.features}, "
             f"{result.preset or 'its own'} preprocessing):",
             f"  cmmd {result.cmmd:.4f}  [{result.low:.4f}, {result.high:.4f}] "
             f"({100 * result.confidence:g}% bootstrap interval over B, {result.bootstrap} "
             f"resamples, seed {result.seed})",
             f"  {result.n[0]} vs {result.n[1]} images"]
    lines += [f"  note: {w}" for w in result.warnings]
    return "\n".join(lines)


@click.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@features_option(default=defaults.CMMD_FEATURES)
@preset_option
@feature_weights_option
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=1, max=defaults.MAX_BOOTSTRAP),
              default=defaults.BOOTSTRAP, show_default=True,
              help="Bootstrap resamples of B's images for the interval.")
@click.option("--confidence", type=FiniteFloat(0, 1, min_open=True, max_open=True),
              default=defaults.CONFIDENCE, show_default=True)
@seed_option
@device_option
@batch_size_option()
@num_workers_option
@skip_bad_option
@json_option
@quiet_option
def cmmd(a, b, features, preset, feature_weights, n_boot, confidence, seed, device, batch_size,
         num_workers, skip_bad, as_json, quiet):
    """CMMD between the reference images A and the images B: 1000 x the biased MMD of
    L2-normalised CLIP ViT-L/14@336px embeddings under a Gaussian RBF kernel (sigma 10), as
    sayakpaul/cmmd-pytorch computes it (its centre crop and resize; float64 sums)."""
    from msgan_eval.evaluate.cmmd import cmmd as evaluate_cmmd

    result = evaluate_cmmd(a, b, features=features, preset=preset,
                           feature_weights=feature_weights, bootstrap=n_boot, seed=seed,
                           confidence=confidence, device=device, batch_size=batch_size,
                           num_workers=num_workers, skip_bad=skip_bad, quiet=quiet)
    emit(result.to_dict(), as_json, _human(result))
