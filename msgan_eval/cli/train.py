"""``msgan-eval train`` and ``msgan-eval sample``: the bundled conditional DCGAN / MSGAN trainers."""
import dataclasses
import time

import click

from msgan_eval import __version__, defaults
from msgan_eval.distributed import is_main_process
from msgan_eval.fileio import check_writable
from msgan_eval.train import DATASETS, MODELS

from .options import FiniteFloat, device_option, emit, json_option, quiet_option, refuse_given
from .train_loop import loop_options, resolve_loop

# Options a resumed run takes from its config.json unless given again on the command line.
_CONFIG_OPTIONS = ("dataset", "data_root", "ms_weight", "steps", "epochs", "batch_size", "width",
                   "seed", "checkpoint_every", "subset_per_class", "pack", "trials")
# Image-to-image only (Pix2PixConfig); the categorical trainer refuses them.
_PAIRED_OPTIONS = ("upsample", "lr_decay_steps", "ms_warmup", "ms_ramp", "ms_eps", "ms_cap", "d_width")


def paired_options(f):
    """The image-to-image trainer's options (docs/image-to-image.md), no defaults of their own:
    a new run takes Pix2PixConfig's, a resumed one its config.json's."""
    for option in reversed((
            click.option("--upsample", type=click.Choice(["basic", "bilinear"]), default=None,
                         help="Image-to-image: the generator's up-sampling, official --upsample "
                              "(basic = transposed conv) [default: basic]."),
            click.option("--lr-decay-steps", type=click.IntRange(min=0), default=None,
                         help="Image-to-image: the last N steps decay the learning rate linearly "
                              "to 0 (official --niter_decay) [default: 0]."),
            click.option("--ms-warmup", type=click.IntRange(min=0), default=None,
                         help="Image-to-image: steps trained with the mode-seeking weight at 0 "
                              "[default: 0]."),
            click.option("--ms-ramp", type=click.IntRange(min=0), default=None,
                         help="Image-to-image: then steps over which the weight rises linearly "
                              "to --ms-weight [default: 0]."),
            click.option("--ms-eps", type=FiniteFloat(min=0, min_open=True), default=None,
                         help="Image-to-image: eps of the term 1 / (lz + eps) [default: 1e-05, "
                              "the official]."),
            click.option("--ms-cap", type=FiniteFloat(min=0, min_open=True), default=None,
                         help="Image-to-image: count lz only up to this (DSGAN's tau) "
                              "[default: none]."),
            click.option("--d-width", type=FiniteFloat(min=1 / 128, max=16), default=None,
                         help="Image-to-image: the discriminator's channel multiplier "
                              "[default: --width]."))):
        f = option(f)
    return f


@click.command()
@click.option("--dataset", type=click.Choice(DATASETS), default="fashion-mnist", show_default=True,
              help="Training data; 'folder' reads --data-root/<class name>/*.png; "
                   "fashion-mnist-edges and paired-folder train the image-to-image model.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Run folder: config.json, log.jsonl, checkpoint.pt.")
@click.option("--data-root", type=click.Path(), default=None,
              help="Where the dataset lives (the class folders for --dataset folder).")
@click.option("--ms-weight", type=FiniteFloat(min=0), default=defaults.MS_WEIGHT,
              show_default=True, help="Weight of the mode seeking loss; 0 = the DCGAN baseline.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Train this many steps.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Or this many epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=defaults.TRAIN_BATCH_SIZE,
              show_default=True, help="Per process under torchrun (image-to-image default: 16).")
@click.option("--width", type=FiniteFloat(min=1 / 128, max=16), default=defaults.TRAIN_WIDTH,
              show_default=True,
              help="Channel multiplier (1.0 = the official DCGAN 512/256/128; pix2pix ngf = ndf = 64).")
@click.option("--subset-per-class", type=click.IntRange(min=1), default=None,
              help="Train on this many seeded random images per class.")
@click.option("--seed", type=click.IntRange(min=0), default=defaults.SEED, show_default=True)
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=defaults.TRAIN_CHECKPOINT_EVERY,
              show_default=True, help="Steps between checkpoints (one is written at the end).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--model", type=click.Choice(MODELS), default=None,
              help="drit: DRIT (--ms-weight 0) or DRIT + MS on unpaired data (fashion-mnist-tints, "
                   "unpaired-folder; default batch 2); stackgan: StackGAN++ (--ms-weight 0) or "
                   "StackGAN++ + MS on captioned data (fashion-mnist-captions, cub; default batch "
                   "24) [default: chosen by --dataset].")
@click.option("--pack", type=click.IntRange(min=1), default=1, show_default=True,
              help="ring/grid (and stacked): PacGAN's packing, D sees this many samples concatenated.")
@click.option("--trials", type=click.IntRange(min=1), default=10, show_default=True,
              help="ring/grid: independent trials trained together as one batched model.")
@paired_options
@loop_options
@device_option
@quiet_option
@json_option
@click.pass_context
def train(ctx, dataset, out, data_root, ms_weight, steps, epochs, batch_size, width,
          subset_per_class, seed, checkpoint_every, resume, model, pack, trials, device, quiet,
          as_json, **more):
    """Train the conditional DCGAN (--ms-weight 0) or its MSGAN twin into the run folder OUT.

    With --dataset fashion-mnist-edges or paired-folder: pix2pix with noise (--ms-weight 0) or
    its MSGAN twin (image-to-image). With --dataset stacked-fashion-mnist or stacked-mnist
    (--data-root with MNIST's idx files): PacGAN Table 2's DCGAN (--pack M, --ms-weight; default
    batch 64, ms-weight 0). With --dataset ring or grid: PacGAN's 2D experiment (--pack
    M, --trials N batched, --ms-weight for the MSGAN arm; default batch 100, ms-weight 0); the run
    folder also gets points.npy and modes.json (modes per trial, mean +- SE).
    """
    from msgan_eval.train.runs import checkpoint_step, read_log

    given = {name: ctx.params[name] for name in _CONFIG_OPTIONS
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}
    if "steps" in given and "epochs" in given:
        raise click.UsageError("give --steps or --epochs, not both")
    check_writable(out, "--out", folder=True)
    config_from_run, new_config, run_training = _trainer(out if resume else None, dataset, model)
    given.update({name: more[name] for name in _PAIRED_OPTIONS if more.get(name) is not None})
    known = {f.name for f in dataclasses.fields(new_config)}
    stray = [name for name in _PAIRED_OPTIONS if name in given and name not in known]
    if stray:
        raise click.UsageError(f"--{stray[0].replace('_', '-')} is an option of the image-to-image "
                               "trainer (--dataset fashion-mnist-edges or paired-folder)")
    if resume:
        config = config_from_run(out)
        if "steps" in given or "epochs" in given:
            config.steps = config.epochs = None
    else:
        config = new_config()
    for name, value in given.items():
        if not hasattr(config, name):
            raise click.UsageError(f"--{name.replace('_', '-')} does not apply to --dataset "
                                   f"{config.dataset}")
        setattr(config, name, value)
    loop = resolve_loop(ctx, out if resume else None)
    start = checkpoint_step(out) if resume else 0
    t0 = time.perf_counter()
    run_training(config, out, resume=resume, quiet=quiet, device=device, loop=loop)
    seconds = time.perf_counter() - t0
    if not is_main_process():   # under torchrun only rank 0 prints
        return
    rows = list(read_log(out))
    done = rows[-1]["step"] if rows else 0
    last = {k: v for k, v in rows[-1].items() if k.startswith("loss")} if rows else {}
    payload = {"version": __version__, "run": out, "dataset": config.dataset,
               "ms_weight": config.ms_weight, "seed": config.seed, "width": config.width,
               "batch_size": config.batch_size, "start_step": start, "step": done,
               "seconds": round(seconds, 3),
               "steps_per_second": round((done - start) / seconds, 3) if done > start else None,
               "losses": last, **_track_summary(out, loop)}
    losses = ", ".join(f"{k} {v:.3f}" for k, v in last.items())
    human = f"trained {out} to step {done} (ms-weight {config.ms_weight}) in {seconds:.1f}s; {losses}"
    if getattr(config, "task", None) == "toy2d":
        payload["modes"], text = _toy2d_summary(out)
        human += "\n" + text
    emit(payload, as_json, human)


def _toy2d_summary(out):
    """(summary over trials, one line) of a 2D run's modes.json."""
    import json
    from pathlib import Path

    result = json.loads((Path(out) / "modes.json").read_text(encoding="utf-8"))
    s = result["summary"]

    def fmt(m, scale=1.0, digits=2):
        v = s[m]
        if v["mean"] is None:
            return "n/a"
        se = "" if v["se"] is None else f" +- {v['se'] * scale:.{digits}f}"
        return f"{v['mean'] * scale:.{digits}f}{se}"
    line = (f"{result['arm']} on the {result['layout']}, {len(result['trials'])} trials: modes "
            f"{fmt('modes', digits=1)} of {result['trials'][0]['modes_total']}, high quality "
            f"{fmt('high_quality', 100, 1)} %, reverse KL {fmt('reverse_kl')}")
    return s, line


def _track_summary(out: str, loop) -> dict:
    """The curve's file and best step of a run trained with --eval-every (for --json)."""
    import json
    from pathlib import Path

    path = Path(out) / "track.json"
    if loop.evaluation is None or not path.is_file():
        return {}
    return {"track": str(path), "best": json.loads(path.read_text()).get("best")}


def _trainer(resume_dir, dataset: str, model=None):
    """(config_from_run, config class, train function) of the run's task."""
    from msgan_eval.train import (
        CAPTION_DATASETS,
        IMAGE_TO_IMAGE,
        PAIRED_DATASETS,
        STACKED,
        STACKED_DATASETS,
        TEXT_TO_IMAGE,
        TOY2D,
        TOY2D_DATASETS,
        UNPAIRED,
        UNPAIRED_DATASETS,
        check_model,
    )

    task = None
    if resume_dir is not None:
        from msgan_eval.train.runs import read_run_config

        task = read_run_config(resume_dir, option="--resume").get("task")
        paired, toy2d, stacked = task == IMAGE_TO_IMAGE, task == TOY2D, task == STACKED
    else:
        paired, toy2d = dataset in PAIRED_DATASETS, dataset in TOY2D_DATASETS
        stacked = dataset in STACKED_DATASETS
    check_model(model, dataset, None if resume_dir is None else (task or "categorical"))
    if task == UNPAIRED or (resume_dir is None and dataset in UNPAIRED_DATASETS):
        from msgan_eval.train import drit

        return drit.config_from_run, drit.DritConfig, drit.train_drit
    if task == TEXT_TO_IMAGE or (resume_dir is None and dataset in CAPTION_DATASETS):
        from msgan_eval.train import stackgan

        return stackgan.config_from_run, stackgan.StackGanConfig, stackgan.train_stackgan
    if stacked:
        from msgan_eval.train import stacked as stacked_task

        return (stacked_task.config_from_run, stacked_task.StackedConfig,
                stacked_task.train_stacked)
    if toy2d:
        from msgan_eval.train import toy2d_run

        return toy2d_run.config_from_run, toy2d_run.Toy2DConfig, toy2d_run.train_toy2d
    if paired:
        from msgan_eval.train import pix2pix

        return pix2pix.config_from_run, pix2pix.Pix2PixConfig, pix2pix.train_pix2pix
    from msgan_eval.train import trainer

    return trainer.config_from_run, trainer.TrainConfig, trainer.train


def _refuse_other_tasks_options(ctx, task, run_dir) -> None:
    """An option the run's task would ignore is a usage error (main's rule for sample), per task."""
    from msgan_eval.train import IMAGE_TO_IMAGE, TEXT_TO_IMAGE, UNPAIRED

    if task in (IMAGE_TO_IMAGE, UNPAIRED):
        kind = "an image-to-image" if task == IMAGE_TO_IMAGE else "an unpaired image-to-image"
        refuse_given(ctx, ("per_class", "captions"), f"is not for image-to-image runs; {run_dir} "
                     f"is {kind} run: use --inputs and --per-input")
        if task == UNPAIRED:
            refuse_given(ctx, ("grid",), f"is not written for unpaired runs; {run_dir}/samples "
                         "and inputs/ hold the images")
    elif task == TEXT_TO_IMAGE:
        refuse_given(ctx, ("per_class", "inputs", "grid"), f"is not for text-to-image runs; "
                     f"{run_dir} is a text-to-image run: use --captions and --per-input")
    else:
        refuse_given(ctx, ("inputs", "per_input", "captions"), f"is for image-to-image or "
                     f"text-to-image runs; {run_dir} is a categorical run: use --per-class")


@click.command()
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder written by `msgan-eval train`.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="New folder for OUT/<class name>/00000.png ...")
@click.option("--per-class", type=click.IntRange(min=1, max=defaults.MAX_SAMPLES_PER_CLASS),
              default=defaults.SAMPLES_PER_CLASS,
              show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=defaults.SEED, show_default=True)
@click.option("--grid", type=click.Path(dir_okay=False), default=None,
              help="Also write a PNG grid: one row per class (image-to-image runs: per input, with "
                   "its input and target), headed by the class or the input's label.")
@click.option("--inputs", type=click.IntRange(min=1), default=defaults.P2P_INPUTS, show_default=True,
              help="Image-to-image runs: this many test inputs (one condition each).")
@click.option("--per-input", type=click.IntRange(min=1, max=defaults.MAX_SAMPLES_PER_CLASS),
              default=defaults.P2P_PER_INPUT, show_default=True,
              help="Image-to-image and text-to-image runs: samples per input (caption).")
@click.option("--captions", type=click.IntRange(min=1), default=None,
              help="Text-to-image runs: this many captions, one condition each [default: the 70 "
                   "canonical fashion-mnist-captions, or 20 cub test captions].")
@click.option("--step", type=click.IntRange(min=0), default=None,
              help="Sample the checkpoint of this step (OUT/checkpoints/step-N.pt) [default: the last].")
@device_option
@quiet_option
@json_option
@click.pass_context
def sample(ctx, run_dir, out, per_class, seed, grid, inputs, per_input, captions, step, device,
           quiet,
           as_json):
    """Write PER_CLASS samples of each class of a trained run as image folders.

    Image-to-image runs: OUT/samples/<input>/ holds PER_INPUT samples of each of INPUTS test
    inputs (the folder lpips, ndb, fid and compare read), OUT/inputs/ and OUT/targets/ the
    inputs and their ground truth.
    """
    from msgan_eval.train import IMAGE_TO_IMAGE, TEXT_TO_IMAGE, UNPAIRED
    from msgan_eval.train.runs import read_run_config
    from msgan_eval.train.sampler import sample_run

    config = read_run_config(run_dir)
    if config.get("task") in ("toy2d", "stacked"):
        from msgan_eval.errors import UserError

        raise UserError(f"--run {run_dir}: a mode-counting run ({config['task']}); its samples "
                        "are written when training ends (points.npy of each trial, or the counted "
                        "modes.json); count them with `msgan-eval modes`")
    _refuse_other_tasks_options(ctx, config.get("task"), run_dir)
    check_writable(out, "--out", folder=True)
    if grid:
        check_writable(grid, "--grid")
    if config.get("task") == UNPAIRED:
        from .sample_models import sample_unpaired

        return sample_unpaired(run_dir, out, inputs, per_input, seed, step, device, quiet, as_json)
    if config.get("task") == TEXT_TO_IMAGE:
        from .sample_models import sample_captions

        return sample_captions(run_dir, out, captions, per_input, seed, step, device, quiet,
                               as_json)
    if config.get("task") == IMAGE_TO_IMAGE:
        from msgan_eval.train.pix2pix_sampler import sample_pix2pix_run

        sample_pix2pix_run(run_dir, out, inputs=inputs, per_input=per_input, seed=seed,
                           device=device, quiet=quiet, step=step, grid=grid)
        payload = {"version": __version__, "run": run_dir, "out": out, "inputs": inputs,
                   "per_input": per_input, "seed": seed, "step": step, "n": inputs * per_input,
                   "grid": grid}
        emit(payload, as_json, f"wrote {per_input} samples for each of {inputs} test inputs to "
                               f"{out}/samples (inputs and targets beside it)"
                               + (f" and a grid to {grid}" if grid else ""))
        return
    classes = config["class_names"]
    sample_run(run_dir, out, per_class=per_class, seed=seed, grid=grid, device=device, quiet=quiet,
               step=step)
    payload = {"version": __version__, "run": run_dir, "out": out, "per_class": per_class,
               "seed": seed, "step": step, "classes": classes, "n": per_class * len(classes),
               "grid": grid}
    emit(payload, as_json, f"wrote {per_class} samples for each of {len(classes)} classes to {out}"
                           + (f" and a grid to {grid}" if grid else ""))

