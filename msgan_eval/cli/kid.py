"""``msgan-eval kid``: Kernel Inception Distance between two image sets (torch-fidelity's KID)."""
import click

from msgan_eval import defaults

from .options import (
    emit,
    features_option,
    inception_run_options,
    seed_option,
)


def _human(result) -> str:
    lines = [f"KID of {result.inputs[0]} vs {result.inputs[1]} ({result.features}, "
             f"{result.preset or 'its own'} preprocessing):",
             f"  kid {result.kid:.6f} +- {result.kid_std:.6f}  (mean and std over {result.subsets} "
             f"subsets of {result.subset_size}, seed {result.seed})",
             f"  {result.n[0]} vs {result.n[1]} images"]
    lines += [f"  note: {w}" for w in result.warnings]
    return "\n".join(lines)


@click.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("--subsets", type=click.IntRange(min=1), default=defaults.KID_SUBSETS,
              show_default=True, help="Random subsets averaged (torch-fidelity's kid_subsets).")
@click.option("--subset-size", type=click.IntRange(min=2), default=defaults.KID_SUBSET_SIZE,
              show_default=True,
              help="Images per subset; a smaller set uses the largest size that fits (recorded).")
@seed_option
@features_option()
@inception_run_options
def kid(a, b, subsets, subset_size, seed, features, preset, inception_weights, feature_weights,
        device, batch_size, num_workers, skip_bad, as_json, quiet):
    """KID between the images at A and B: unbiased MMD^2 of Inception pool3 features (or
    --features) under the kernel (x.y / d + 1)^3, mean and std over random subsets
    (torch-fidelity's computation)."""
    from msgan_eval.evaluate.kid import kid as evaluate_kid

    result = evaluate_kid(a, b, subsets=subsets, subset_size=subset_size, seed=seed, preset=preset,
                          features=features, inception_weights=inception_weights,
                          feature_weights=feature_weights, device=device,
                          batch_size=batch_size, num_workers=num_workers, skip_bad=skip_bad,
                          quiet=quiet)
    emit(result.to_dict(), as_json, _human(result))
