"""Options shared by several commands, and the one way results are printed."""
import json
import os

import click

from .. import defaults


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
    return click.option("--num-workers", type=click.IntRange(min=0), default=defaults.NUM_WORKERS,
                        show_default=True, help="DataLoader workers that decode images.")(f)


def skip_bad_option(f):
    return click.option("--skip-bad", is_flag=True,
                        help="Skip unreadable image files (they are counted) instead of stopping.")(f)


def seed_option(f):
    return click.option("--seed", type=int, default=defaults.SEED, show_default=True)(f)


def dims_option(f):
    return click.option("--dims", type=click.Choice([str(d) for d in defaults.FID_DIMS_CHOICES]),
                        default=str(defaults.FID_DIMS), show_default=True,
                        help="Inception features: 64, 192, 768 or 2048 (pool3, standard FID).")(f)


def inception_weights_option(f):
    return click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
                        metavar="FILE",
                        help="FID Inception state dict in pytorch-fid's format (else "
                             "$MSGAN_EVAL_INCEPTION_WEIGHTS, the hub cache, the offline "
                             "conversion, or a download).")(f)


def lpips_backbone_option(dest: str = "lpips_backbone"):
    return click.option("--lpips-backbone", dest, type=click.Path(dir_okay=False), default=None,
                        metavar="FILE",
                        help="torchvision backbone weights for LPIPS (else "
                             "$MSGAN_EVAL_LPIPS_BACKBONE, the hub cache, or a download).")


def emit(payload: dict, as_json: bool, human: str) -> None:
    """Results go to stdout: one JSON object with --json, else the human text."""
    if as_json:
        click.echo(json.dumps(payload, sort_keys=False, default=_jsonable))
    else:
        click.echo(human)


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
    "k": "--bins",
    "bins": "--bins-file",
    "reference": "--ref",
    "backbone_weights": "--lpips-backbone",
    "use_cache": "--no-cache",
}


def flag_of(param: str) -> str:
    return PARAMETER_FLAGS.get(param, "--" + param.replace("_", "-"))


def user_message(exc: Exception) -> str:
    """The one-line message of a UserError, with parameters written as flags."""
    from ..errors import ParameterError

    return exc.render(flag_of) if isinstance(exc, ParameterError) else str(exc)
