"""``train``'s options for the shared loop: checkpoints kept, evaluation while training,
TensorBoard (``msgan_eval.train.loop``). Every trainer gets them; ``--resume`` keeps the run's
stored settings unless an option is given again."""
import os
from dataclasses import asdict, fields

import click

from msgan_eval import defaults

from .options import inception_weights_option, lpips_backbone_option

# command-line parameter -> Evaluation field
_EVAL_FIELDS = {"eval_every": "every", "eval_ref": "ref", "eval_metrics": "metrics",
                "eval_per_class": "per_class", "eval_inputs": "inputs",
                "eval_per_input": "per_input", "eval_dims": "dims", "eval_bootstrap": "bootstrap",
                "eval_ndb_bins": "ndb_bins", "keep_best": "keep_best",
                "inception_weights": "inception_weights", "lpips_backbone": "lpips_backbone"}


def _keep(value: str):
    if value.strip().lower() == "all":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise click.BadParameter(f"{value!r}: use all or a number of checkpoints >= 1",
                                 param_hint="--keep-checkpoints")
    return n


def loop_options(f):
    """The decorators of the loop's options (applied to ``train``)."""
    opts = [
        click.option("--keep-checkpoints", default=str(defaults.TRAIN_KEEP_CHECKPOINTS),
                     show_default=True, metavar="all|N",
                     help="Generator snapshots kept in OUT/checkpoints/step-N.pt (the newest N)."),
        click.option("--eval-every", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Evaluate every N steps (and the last) against --eval-ref: "
                          "OUT/track.json, track.csv, track.html, best.pt."),
        click.option("--eval-ref", type=click.Path(), default=None,
                     help="Reference images for --eval-every (of the samples' size)."),
        click.option("--eval-metrics", default=",".join(defaults.TRACK_METRICS), show_default=True,
                     help="Metric families measured while training (as track --metrics)."),
        click.option("--eval-per-class", type=click.IntRange(min=1), default=defaults.SAMPLES_PER_CLASS,
                     show_default=True, help="Samples per class per evaluation (as sample)."),
        click.option("--eval-inputs", type=click.IntRange(min=1), default=defaults.P2P_INPUTS,
                     show_default=True, help="Image-to-image: test inputs per evaluation."),
        click.option("--eval-per-input", type=click.IntRange(min=1), default=defaults.P2P_PER_INPUT,
                     show_default=True, help="Image-to-image: samples per input per evaluation."),
        click.option("--eval-bootstrap", type=click.IntRange(min=10, max=defaults.MAX_BOOTSTRAP),
                     default=defaults.BOOTSTRAP, show_default=True),
        click.option("--eval-ndb-bins", type=click.IntRange(min=2), default=defaults.NDB_BINS,
                     show_default=True),
        click.option("--keep-best", default=None, metavar="METRIC",
                     help="Keep OUT/best.pt, the snapshot of the best step by METRIC "
                          "[default: fid when measured]."),
        click.option("--tensorboard", type=click.Path(file_okay=False), default=None,
                     help="Write losses and metrics as TensorBoard scalars here (needs tensorboard)."),
    ]
    opts.insert(7, click.option("--eval-dims", type=click.Choice([str(d) for d in
                                                                  defaults.FID_DIMS_CHOICES]),
                                default=str(defaults.FID_DIMS), show_default=True,
                                help="Inception features of the evaluations' FID."))
    f = lpips_backbone_option()(inception_weights_option(f))
    for opt in reversed(opts):
        f = opt(f)
    return f


def _given(ctx, name: str) -> bool:
    return ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT


def resolve_loop(ctx, resume_dir):
    """The LoopOptions of this run: the stored ones of a resumed run, with given options over them."""
    from msgan_eval.train.loop import Evaluation, LoopOptions
    from msgan_eval.train.runs import read_run_config

    from .compare import _parse_metrics

    stored = LoopOptions.from_dict(read_run_config(resume_dir, option="--resume").get("loop")) \
        if resume_dir is not None else LoopOptions()
    p = ctx.params
    keep = _keep(p["keep_checkpoints"]) if _given(ctx, "keep_checkpoints") else stored.keep_checkpoints
    board = os.path.abspath(p["tensorboard"]) if _given(ctx, "tensorboard") else stored.tensorboard
    given = {name: p[name] for name in _EVAL_FIELDS if _given(ctx, name)}
    if not given:
        return LoopOptions(keep, stored.evaluation, board)
    base = asdict(stored.evaluation) if stored.evaluation is not None else {}
    for key in ("eval_every", "eval_ref"):
        if key not in given and _EVAL_FIELDS[key] not in base:
            other = next(iter(given))
            raise click.UsageError(f"--{other.replace('_', '-')} needs --eval-every N and "
                                   "--eval-ref REF")
    values = {_EVAL_FIELDS[k]: v for k, v in given.items()}
    if "metrics" in values:
        try:
            values["metrics"] = _parse_metrics(values["metrics"])
        except click.BadParameter as exc:
            raise click.BadParameter(exc.message, param_hint="--eval-metrics") from None
    for key in ("ref", "inception_weights", "lpips_backbone"):
        if values.get(key) is not None:
            values[key] = os.path.abspath(values[key])      # a resumed run finds them from anywhere
    if "dims" in values:
        values["dims"] = int(values["dims"])
    known = {f.name for f in fields(Evaluation)}
    return LoopOptions(keep, Evaluation(**{k: v for k, v in {**base, **values}.items() if k in known}),
                       board)
