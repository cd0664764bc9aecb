"""``msgan-eval lpips``: LPIPS diversity within each condition (sub-folder) of an image set."""
import click

from msgan_eval import defaults

from .options import (
    batch_size_option,
    device_option,
    emit,
    inception_weights_option,
    json_option,
    lpips_backbone_option,
    quiet_option,
    real_images_named,
    seed_option,
    skip_bad_option,
)


def _human(result, path: str, skipped: int) -> str:
    protocol = {"random": f"{result.num_pairs} random pairs per condition, seed {result.seed}",
                "all": "all pairs", "consecutive": "consecutive pairs"}[result.pairs]
    lines = [f"LPIPS diversity of {path} ({result.net}, v{result.lpips_version}, {protocol}):",
             f"  lpips {result.score:.6f}  (std over pairs {result.std:.6f}, "
             f"{result.n_pairs} pairs in {len(result.groups)} conditions)"]
    width = max(len(c) for c in result.groups)
    for cond, value in result.groups.items():
        lines.append(f"    {cond:<{width}}  {value:.6f}  ({result.pairs_per_group[cond]} pairs)")
    if result.all_pairs_used:
        lines.append(f"  note: fewer than {result.num_pairs} pairs exist in "
                     f"{', '.join(result.all_pairs_used)}; all their pairs were used")
    if skipped:
        lines.append(f"  note: {skipped} unreadable files skipped")
    if result.duplicates and result.duplicates["exact"] > 0:
        lines.append(f"  note: {result.duplicates['exact']:.1%} of the images repeat an earlier "
                     "image of their condition pixel for pixel: duplicates raise LPIPS diversity")
    if result.protocol:
        lines.append("  protocol: msgan (50 samples and 50 random pairs per condition)")
    lines += _gated_lines(result.gated)
    lines.append(f"  backbone {result.backbone.path} ({result.backbone.source}, "
                 f"sha256 {result.backbone.sha256[:12]}, {result.backbone.status})")
    if result.backbone.status != "verified":
        lines.append("  note: unverified backbone (neither torchvision's published file nor our "
                     "conversion): these are not standard LPIPS numbers")
    return "\n".join(lines)


def _gated_lines(gated) -> list:
    if gated is None:
        return []
    gate = gated["gate"]
    if gated["kept_fraction"] is None:
        return [f"  lpips_gated not computed: {gate['reason']}"]
    value = gated["lpips_gated"]
    lines = [f"  lpips_gated {'n/a' if value is None else f'{value:.6f}'}  (kept "
             f"{gated['kept_fraction']:.1%} of the samples: {gate['rule']})"]
    lines += [f"    {c}: not computed: {why}" for c, why in gate["not_computed"].items()]
    return lines


@click.command()
@click.argument("path", type=click.Path())
@click.option("--pairs", type=click.Choice(defaults.LPIPS_PAIRS_CHOICES), default=defaults.LPIPS_PAIRS,
              show_default=True,
              help="random: --num-pairs distinct pairs per condition (MSGAN); all: every pair; "
                   "consecutive: 0-1, 1-2, ... (BicycleGAN).")
@click.option("--num-pairs", type=click.IntRange(min=1, max=defaults.LPIPS_MAX_PAIRS),
              default=defaults.LPIPS_NUM_PAIRS,
              show_default=True,
              help="Pairs per condition for --pairs random (all pairs if a condition has fewer).")
@seed_option
@click.option("--net", type=click.Choice(defaults.LPIPS_NET_CHOICES), default=defaults.LPIPS_NET,
              show_default=True, help="LPIPS backbone (lpips v0.1 linear heads).")
@device_option
@batch_size_option()
@click.option("--resize", type=click.IntRange(min=1, max=defaults.LPIPS_MAX_RESIZE), default=None,
              help="Compare at N x N: bilinear, align_corners=False, antialiased "
                   "(torch.nn.functional.interpolate).")
@lpips_backbone_option("backbone")
@click.option("--protocol", type=click.Choice(("msgan",)), default=None,
              help="msgan: 50 samples (seeded random) and 50 random pairs per condition, as the "
                   "MSGAN paper's appendix. Our defaults stay the reference code's.")
@click.option("--real", type=click.Path(), default=None, metavar="REF",
              help="Real images (at least 50): also report lpips_gated, LPIPS over the samples "
                   "whose realism score against them is >= 1, and kept_fraction.")
@click.option("--realism-k", type=click.IntRange(min=1), default=defaults.REALISM_K,
              show_default=True, help="Nearest neighbours of the realism gate's radii.")
@inception_weights_option
@skip_bad_option
@json_option
@quiet_option
def lpips(path, pairs, num_pairs, seed, net, device, batch_size, resize, backbone, protocol,
          real, realism_k, inception_weights, skip_bad, as_json, quiet):
    """LPIPS diversity of the images at PATH, per condition (sub-folder), as the lpips package."""
    from msgan_eval.evaluate.lpips import lpips_diversity

    result = real_images_named(lambda: lpips_diversity(
        path, net=net, pairs=pairs, num_pairs=num_pairs, seed=seed, device=device,
        batch_size=batch_size, resize=resize, backbone_weights=backbone, skip_bad=skip_bad,
        quiet=quiet, protocol=protocol, real=real, realism_k=realism_k,
        inception_weights=inception_weights))
    emit(result.to_dict(), as_json, _human(result, path, result.skipped))
