"""``msgan-eval track``: every checkpoint of a run measured against one reference, as a curve."""
from pathlib import Path

import click

from msgan_eval import defaults

from .compare import _parse_metrics
from .options import (
    FiniteFloat,
    batch_size_option,
    device_option,
    dims_option,
    emit,
    inception_weights_option,
    json_option,
    lpips_backbone_option,
    num_workers_option,
    preset_option,
    quiet_option,
    skip_bad_option,
)

_SAMPLING = ("per_class", "inputs", "per_input")


def _series(ctx, run: str, per_class: int, inputs: int, per_input: int, seed: int, device: str,
            skip_bad: bool):
    """A training run's checkpoints (config.json) or a folder of sample sets named by step."""
    if (Path(run) / "config.json").is_file():
        from msgan_eval.train.tracking import RunSeries, SampleSpec

        return RunSeries(run, SampleSpec(per_class, inputs, per_input, seed), device)
    from msgan_eval.evaluate.track_series import FolderSeries

    given = [name for name in _SAMPLING
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
    if given:
        raise click.UsageError(f"--{given[0].replace('_', '-')} samples a training run's "
                               f"checkpoints; {run} is a folder of sample sets")
    return FolderSeries(run, skip_bad=skip_bad)


def human_summary(payload: dict, files) -> str:
    metrics = payload["metrics"]
    lines = ["step  " + "  ".join(f"{m:>12}" for m in metrics)]
    for e in payload["history"]:
        lines.append(f"{e['step']:<5} " + "  ".join(
            f"{e[m]:>12.4f}" if e.get(m) is not None else f"{'-':>12}" for m in metrics))
    best = payload.get("best")
    if best:
        verdict = best.get("better_than_last")
        lines.append(f"best {best['metric']}: step {best['step']} ({best['value']:.4f}); "
                     + ("it is the last step" if best["step"] == best["last_step"] else
                        "significantly better than the last step" if verdict else
                        "not significantly better than the last step" if verdict is False else
                        best.get("verdict_note", "significance not computed")))
    lines += [f"skipped {m}: {r}" for m, r in payload.get("skipped", {}).items()]
    lines.append(f"curve: {files['html']} (also {files['json'].name}, {files['csv'].name})")
    return "\n".join(lines)


@click.command()
@click.argument("run", type=click.Path())
@click.option("--ref", "ref", required=True, type=click.Path(),
              help="Reference (real) images, of the samples' size; a FID statistics .npz works "
                   "for FID only.")
@click.option("--metrics", default=",".join(defaults.TRACK_METRICS), show_default=True,
              help="Comma-separated metric families, as for compare (fid, lpips, ndb, kid, prdc, "
                   "fid-per-class, vendi, ...).")
@click.option("--best", "best", default=None, metavar="METRIC",
              help="Print the best step by METRIC (e.g. fid) and whether it is significantly better "
                   "than the last one (compare's bootstrap) [default: fid when measured].")
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None,
              help="Folder for track.json, track.csv, track.html [default: RUN]; re-running "
                   "measures only the steps not in its track.json.")
@click.option("--per-class", type=click.IntRange(min=1, max=defaults.MAX_SAMPLES_PER_CLASS),
              default=defaults.SAMPLES_PER_CLASS, show_default=True,
              help="Samples per class of each checkpoint (as sample --per-class).")
@click.option("--inputs", type=click.IntRange(min=1), default=defaults.P2P_INPUTS,
              show_default=True, help="Image-to-image runs: test inputs (as sample --inputs).")
@click.option("--per-input", type=click.IntRange(min=1), default=defaults.P2P_PER_INPUT,
              show_default=True, help="Image-to-image runs: samples per input (as sample).")
@click.option("--seed", type=click.IntRange(min=0, max=2 ** 32 - 1), default=defaults.SEED,
              show_default=True,
              help="Sampling seed (as sample --seed), also the metrics' seed (as compare --seed).")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=10, max=defaults.MAX_BOOTSTRAP),
              default=defaults.BOOTSTRAP, show_default=True, help="Bootstrap resamples per step.")
@dims_option
@preset_option
@inception_weights_option
@click.option("--lpips-net", type=click.Choice(defaults.LPIPS_NET_CHOICES),
              default=defaults.LPIPS_NET, show_default=True)
@lpips_backbone_option()
@click.option("--ndb-bins", type=click.IntRange(min=2), default=defaults.NDB_BINS,
              show_default=True, help="K-means bins fitted on --ref.")
@click.option("--ndb-alpha", type=FiniteFloat(0, 1, min_open=True, max_open=True),
              default=defaults.NDB_ALPHA, show_default=True)
@device_option
@batch_size_option()
@num_workers_option
@skip_bad_option
@json_option
@quiet_option
@click.pass_context
def track(ctx, run, ref, metrics, best, out, per_class, inputs, per_input, seed, n_boot, dims,
          preset, inception_weights, lpips_net, lpips_backbone, ndb_bins, ndb_alpha, device,
          batch_size, num_workers, skip_bad, as_json, quiet):
    """Measure every checkpoint of RUN against --ref: one curve per metric, the best step.

    RUN is a run folder of `msgan-eval train` (each checkpoint is sampled exactly as
    `sample --step N` samples it) or a folder of sample sets named by step (step-1000/, ...).
    """
    from msgan_eval.evaluate.track import Tracker
    from msgan_eval.evaluate.track import track as evaluate_track
    from msgan_eval.report.compare import stderr_log
    from msgan_eval.report.track import TRACK_FILES

    families = _parse_metrics(metrics)
    series = _series(ctx, run, per_class, inputs, per_input, seed, device, skip_bad)
    tracker = Tracker(ref, families, bootstrap=n_boot, seed=seed, dims=int(dims), preset=preset,
                      inception_weights=inception_weights, lpips_net=lpips_net,
                      lpips_backbone=lpips_backbone, ndb_bins=ndb_bins, ndb_alpha=ndb_alpha,
                      device=device, batch_size=batch_size, num_workers=num_workers,
                      skip_bad=skip_bad, quiet=quiet, log=stderr_log(quiet),
                      sampling=series.sampling)
    out = out or run
    payload = evaluate_track(series, tracker=tracker, out=out, best=best, progress_bar=not quiet)
    files = {k: Path(out) / name for k, name in TRACK_FILES.items()}
    emit({**payload, "files": {k: str(v) for k, v in files.items()}}, as_json,
         human_summary(payload, files))
