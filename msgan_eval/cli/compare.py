"""``msgan-eval compare``, ``check`` and ``demo``: baseline vs candidate, the CI gate, the whole story."""
import sys
from pathlib import Path

import click

from msgan_eval import __version__, defaults

from .multirun import SeveralPaths, expand_runs
from .options import (
    FiniteFloat,
    batch_size_option,
    device_option,
    dims_option,
    emit,
    feature_weights_option,
    features_option,
    inception_weights_option,
    json_option,
    lpips_backbone_option,
    num_workers_option,
    preset_option,
    quiet_option,
    refuse_given,
    seed_option,
    skip_bad_option,
)


def _parse_metrics(text: str):
    from msgan_eval.metrics.registry import FAMILIES

    names = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in names if m not in FAMILIES]
    if bad or not names:
        raise click.BadParameter(f"unknown metric {', '.join(bad) or '(none)'}; use a comma-separated "
                                 f"subset of {','.join(FAMILIES)}", param_hint="--metrics")
    return tuple(m for m in FAMILIES if m in names)


def human_summary(report: dict, files) -> str:
    from msgan_eval.evaluate.multirun import multirun_lines
    from msgan_eval.report.render import render_table

    lines = [render_table(report), *multirun_lines(report)]
    lines += [f"note: {n}" for n in report["notes"]]
    if files:
        lines.append(f"report: {files['html']} (also {files['md'].name}, {files['json'].name})")
    return "\n".join(lines)


@click.command()
@click.option("--baseline", required=True, multiple=True, cls=SeveralPaths, type=click.Path(),
              help="Baseline samples (folder or array); several runs (or a glob) pool over seeds.")
@click.option("--candidate", required=True, multiple=True, cls=SeveralPaths, type=click.Path(),
              help="Candidate samples, e.g. MSGAN; several runs (or a glob) as for --baseline.")
@click.option("--ref", "ref", default=None, type=click.Path(),
              help="Reference (real) images; a FID statistics .npz works for FID only. Required, "
                   "except when both sides are mode-counting results (modes.json or 2D run "
                   "folders), which are compared over their trials.")
@click.option("--metrics", default=",".join(defaults.COMPARE_METRICS), show_default=True,
              help="Comma-separated subset of fid, lpips, ndb (ndb also gives jsd), fid-per-class, "
                   "vendi, kid, prdc (precision, recall, density and coverage), degenerate (share "
                   "of blank, saturated or noise samples, flagged by inspect), lpips-gated (LPIPS "
                   "among samples that pass the realism gate) and cmmd.")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=10, max=defaults.MAX_BOOTSTRAP),
              default=defaults.BOOTSTRAP, show_default=True,
              help="Bootstrap resamples per run and metric.")
@seed_option
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None,
              help="Write report.json, report.md and report.html here.")
@dims_option
@features_option()
@preset_option
@inception_weights_option
@feature_weights_option
@click.option("--cmmd-features", type=click.Choice([n for n in defaults.FEATURES_CHOICES]),
              default=defaults.CMMD_FEATURES, show_default=True,
              help="CMMD: the embedding network (cmmd-pytorch's preprocessing for CLIP).")
@click.option("--cmmd-weights", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="CMMD: the --cmmd-features network's file (else the hub cache).")
@click.option("--lpips-net", type=click.Choice(defaults.LPIPS_NET_CHOICES), default=defaults.LPIPS_NET,
              show_default=True)
@click.option("--lpips-pairs", type=click.Choice(defaults.LPIPS_PAIRS_CHOICES),
              default=defaults.LPIPS_PAIRS, show_default=True)
@click.option("--lpips-num-pairs", type=click.IntRange(min=1, max=defaults.LPIPS_MAX_PAIRS),
              default=defaults.LPIPS_NUM_PAIRS,
              show_default=True, help="Random pairs per condition.")
@click.option("--lpips-resize", type=click.IntRange(min=1, max=defaults.LPIPS_MAX_RESIZE), default=None,
              help="Compare LPIPS at N x N (needed below 32 x 32 for alex).")
@lpips_backbone_option()
@click.option("--ndb-bins", type=click.IntRange(min=2), default=defaults.NDB_BINS, show_default=True,
              help="K-means bins fitted on --ref.")
@click.option("--ndb-alpha", type=FiniteFloat(0, 1, min_open=True, max_open=True),
              default=defaults.NDB_ALPHA, show_default=True)
@click.option("--kid-subsets", type=click.IntRange(min=1), default=defaults.KID_SUBSETS,
              show_default=True, help="KID: random subsets averaged (as kid --subsets).")
@click.option("--kid-subset-size", type=click.IntRange(min=2), default=defaults.KID_SUBSET_SIZE,
              show_default=True,
              help="KID: images per subset; a smaller run uses the largest size that fits (noted).")
@click.option("--prdc-k", type=click.IntRange(min=1), default=defaults.PRDC_K, show_default=True,
              help="PRDC: nearest neighbours of the radii (as prdc --k; 3: Kynkaanniemi et al.).")
@click.option("--protocol", type=click.Choice(("msgan",)), default=None,
              help="msgan: NDB whitened with 100 bins, LPIPS on 50 samples and 50 random pairs "
                   "per condition (what the MSGAN authors ran).")
@click.option("--skip-missing", is_flag=True,
              help="fid-per-class: leave out conditions a run or --ref lacks instead of refusing.")
@device_option
@batch_size_option()
@num_workers_option
@skip_bad_option
@json_option
@quiet_option
def compare(baseline, candidate, ref, metrics, n_boot, seed, out, dims, features, preset,
            inception_weights, feature_weights, cmmd_features, cmmd_weights, lpips_net, lpips_pairs, lpips_num_pairs, lpips_resize, lpips_backbone, ndb_bins,
            ndb_alpha, kid_subsets, kid_subset_size, prdc_k, protocol, skip_missing, device,
            batch_size, num_workers, skip_bad, as_json, quiet):
    """Baseline vs candidate on FID, LPIPS diversity and NDB/JSD, with bootstrap intervals.

    Each metric gets a 95% interval per run and a verdict (candidate-better, baseline-better or
    no-significant-difference) from the bootstrap of candidate - baseline; the overall verdict
    joins them (candidate-better: better somewhere, worse nowhere; trade-off: better on some,
    worse on others). A metric that cannot run (e.g. weights missing offline) is reported as
    skipped, with the reason.
    """
    from msgan_eval import distributed
    from msgan_eval.evaluate.compare import compare as evaluate_compare
    from msgan_eval.report.compare import stderr_log

    baseline, candidate = expand_runs("--baseline", baseline), expand_runs("--candidate", candidate)
    if _modes_results(baseline, candidate):
        if out is not None:
            raise click.UsageError("--out: mode-counting results are compared on the terminal; "
                                   "use --json to keep the comparison")
        from msgan_eval.evaluate.modes_trials import compare_trials

        result = compare_trials(baseline, candidate)
        emit(result.to_dict(), as_json, modes_table(result))
        return
    if ref is None:
        raise click.UsageError("Missing option '--ref'")
    distributed.init_distributed()
    quiet = quiet or not distributed.is_main_process()    # under torchrun rank 0 alone speaks
    result = evaluate_compare(
        baseline if len(baseline) > 1 else baseline[0],
        candidate if len(candidate) > 1 else candidate[0], ref, metrics=_parse_metrics(metrics),
        bootstrap=n_boot, seed=seed, dims=int(dims), preset=preset,
        inception_weights=inception_weights, lpips_net=lpips_net,
        lpips_pairs=lpips_pairs, lpips_num_pairs=lpips_num_pairs, lpips_resize=lpips_resize,
        lpips_backbone=lpips_backbone, ndb_bins=ndb_bins, ndb_alpha=ndb_alpha,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, prdc_k=prdc_k, device=device,
        batch_size=batch_size, num_workers=num_workers, out=out, skip_bad=skip_bad, quiet=quiet,
        log=stderr_log(quiet), command=[Path(sys.argv[0]).name, *sys.argv[1:]],
        protocol=protocol, skip_missing=skip_missing, features=features,
        feature_weights=feature_weights, cmmd_features=cmmd_features, cmmd_weights=cmmd_weights)
    if result is not None:         # another torchrun rank: rank 0 writes and prints the report
        emit(result.to_dict(), as_json, human_summary(result.report, result.files))
    distributed.close_distributed()


def _modes_results(baseline, candidate) -> bool:
    """Whether both sides are mode-counting results (one each) rather than image sets."""
    from msgan_eval.evaluate.modes_trials import is_trials_result

    sides = [is_trials_result(p) for p in (*baseline, *candidate)]
    if any(sides) and not all(sides):
        raise click.UsageError("give mode-counting results (modes.json or 2D run folders) on both "
                               "--baseline and --candidate, or images on both")
    return all(sides)


def modes_table(result) -> str:
    """One row per metric: each arm's mean +- SE over trials, the difference with its interval."""
    from msgan_eval.metrics.registry import TRIAL_FACTS as FACTS

    def ms(v, digits):
        if v["mean"] is None:
            return "n/a"
        return f"{v['mean']:.{digits}f}" + ("" if v["se"] is None else f" +- {v['se']:.{digits}f}")
    b, c = result.baseline, result.candidate
    lines = [f"{b['layout']}: baseline {b['arm']} ({b['trials']} trials) vs candidate {c['arm']} "
             f"({c['trials']} trials), mean +- standard error, 95% Welch interval of the difference"]
    for m, v in result.metrics.items():
        d = FACTS[m].digits + 1
        ci = "n/a" if v["ci"][0] is None else f"[{v['ci'][0]:+.{d}f}, {v['ci'][1]:+.{d}f}]"
        delta = "n/a" if v["delta"] is None else f"{v['delta']:+.{d}f}"
        lines.append(f"  {FACTS[m].label:<22} ({v['better']} better)  {ms(v['baseline'], d):>18}  "
                     f"{ms(v['candidate'], d):>18}  {delta} {ci}  {v['verdict']}")
    overall = result.overall
    lines.append(f"  overall: {overall['verdict']} ({'; '.join(overall['reasons'])})")
    return "\n".join(lines + [f"note: {n}" for n in result.notes])


@click.command()
@click.argument("report", type=click.Path())
@click.option("--expect", "-e", required=True, type=click.Path(), metavar="EXPECT.toml",
              help="Rules, e.g. [candidate.fid] max = 40, [delta.fid] max = 0.5, "
                   "[verdicts] ndb = \"candidate-better\", [overall] verdict = \"candidate-better\".")
@json_option
@quiet_option
def check(report, expect, as_json, quiet):
    """Gate REPORT (report.json, or the folder holding it) on EXPECT.toml.

    Exit 0 when every rule holds, 1 when any fails, 2 on bad input.
    """
    from msgan_eval.report.check import evaluate_rules, load_report, load_rules, summary_line

    path = Path(report)
    if path.is_dir():
        path = path / "report.json"
    rules = load_rules(expect)
    results = evaluate_rules(load_report(path), rules)
    passed = all(r.passed for r in results)
    payload = {"report": str(path), "expect": expect, "passed": passed,
               "rules": [r.as_dict() for r in results], "version": __version__}
    emit(payload, as_json, "\n".join([r.line() for r in results] + [summary_line(results)]))
    sys.exit(0 if passed else 1)


# demo's sampling options and the tasks that read them
TASK_OPTIONS = {"per_class": ("categorical",), "inputs": ("image-to-image", "unpaired"),
                "per_input": ("image-to-image", "unpaired", "text-to-image"),
                "captions": ("text-to-image",)}


def _refuse_other_tasks_options(ctx, task: str) -> None:
    """An image demo's sampling option its task would ignore is a usage error, never silence."""
    for name, tasks in TASK_OPTIONS.items():
        if task not in tasks:
            refuse_given(ctx, (name,), f"is for --task {' or '.join(tasks)}, not --task {task}")


@click.command()
@click.option("--task", type=click.Choice(["categorical", "image-to-image", "unpaired",
                                           "text-to-image", "modes", "modes-stacked"]),
              default="categorical", show_default=True,
              help="categorical: class-conditional DCGAN vs MSGAN; image-to-image: pix2pix with "
                   "noise vs MSGAN on fashion-mnist-edges (outline -> item); unpaired: DRIT vs "
                   "DRIT + MS on fashion-mnist-tints (grey item -> tinted item); text-to-image: "
                   "StackGAN++ vs StackGAN++ + MS on fashion-mnist-captions (hues counted); modes: "
                   "GAN, PacGAN2, MSGAN, MSGAN+PacGAN2 on the 2D ring and grid, modes counted as "
                   "PacGAN; modes-stacked: DCGAN, PacDCGAN2, MSGAN on stacked Fashion-MNIST.")
@click.option("--full", is_flag=True,
              help="modes: PacGAN's protocol exactly (400 epochs; for a GPU, with --device cuda) "
                   "instead of the short CPU setting.")
@click.option("--trials", type=click.IntRange(min=2), default=None,
              help="modes: trials per arm, trained together as one batched model [default: 10]; "
                   "modes-stacked: runs per arm [default: 3].")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="modes: arms trained at the same time, one process and one thread each.")
@click.option("--out", "-o", type=click.Path(file_okay=False), default="msgan-eval-demo",
              show_default=True,
              help="Folder for the runs, samples, reference and report: new, empty, or a previous "
                   "demo's output (replaced once the new one is complete).")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help=f"Training steps of each GAN [default: {defaults.DEMO_STEPS} categorical, "
                   f"{defaults.P2P_DEMO_STEPS} image-to-image, {defaults.DRIT_DEMO_STEPS} "
                   f"unpaired, {defaults.STACKGAN_DEMO_STEPS} text-to-image].")
@click.option("--width", type=FiniteFloat(min=1 / 128, max=16), default=None,
              help=f"Channel multiplier of both GANs (1.0 = the paper's) [default: "
                   f"{defaults.DEMO_WIDTH} categorical, {defaults.P2P_DEMO_WIDTH} image-to-image, "
                   f"{defaults.DRIT_DEMO_WIDTH} unpaired, {defaults.STACKGAN_DEMO_WIDTH} "
                   "text-to-image].")
@click.option("--per-class", type=click.IntRange(min=2, max=defaults.MAX_SAMPLES_PER_CLASS),
              default=defaults.DEMO_PER_CLASS,
              show_default=True,
              help="Samples per class of each run (categorical).")
@click.option("--inputs", type=click.IntRange(min=1, max=defaults.MAX_SAMPLES_PER_CLASS),
              default=defaults.P2P_INPUTS, show_default=True,
              help="Test inputs, one condition each (image-to-image, unpaired).")
@click.option("--per-input", type=click.IntRange(min=2, max=defaults.MAX_SAMPLES_PER_CLASS),
              default=defaults.P2P_PER_INPUT,
              show_default=True,
              help="Samples per input or caption (image-to-image, unpaired, text-to-image).")
@click.option("--captions", type=click.IntRange(min=11, max=defaults.CANONICAL_CAPTIONS),
              default=None, help="Text-to-image: the first N canonical captions, one condition "
                                 "each: the 10 colourless ones (hues counted), then N-10 naming a "
                                 f"colour [default: all {defaults.CANONICAL_CAPTIONS}].")
@click.option("--ref-per-class", type=click.IntRange(min=2, max=defaults.DEMO_MAX_REF_PER_CLASS),
              default=defaults.DEMO_REF_PER_CLASS,
              show_default=True, help="Held-out test images per class in the reference.")
@click.option("--ndb-bins", type=click.IntRange(min=2), default=defaults.DEMO_NDB_BINS,
              show_default=True)
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=10, max=defaults.MAX_BOOTSTRAP),
              default=defaults.BOOTSTRAP, show_default=True)
@seed_option
@click.option("--seeds", type=click.IntRange(min=1, max=defaults.DEMO_MAX_SEEDS),
              default=defaults.DEMO_SEEDS, show_default=True,
              help="Training runs per arm (seeds SEED, SEED+1, ...); above 1 the verdicts pool "
                   "the runs (two-level bootstrap) and the report lists each run's values.")
@click.option("--data-root", type=click.Path(), default=None, help="Folder with the idx files.")
@inception_weights_option
@dims_option
@lpips_backbone_option()
@device_option
@json_option
@quiet_option
@click.pass_context
def demo(ctx, task, full, trials, workers, out, steps, width, per_class, inputs, per_input,
         captions, ref_per_class, ndb_bins, n_boot, seed, seeds, data_root, inception_weights, dims,
         lpips_backbone, device, as_json, quiet):
    """Train a GAN and its MSGAN twin on Fashion-MNIST, sample, compare: offline, on a CPU.

    Both GANs share seed, data order and steps; only the mode seeking weight differs (0 vs 1;
    image-to-image: 0 vs 10 with eps 1, a cap and a warm-up, chosen by the ablation in
    docs/image-to-image.md).
    categorical: about 7 minutes on 2 quiet CPU cores with the defaults (under 15 when busy).
    image-to-image: pix2pix ignores its noise, MSGAN does not; under 10 minutes on 2 cores. The
    report judges every sample (class agreement, blank / noise fraction).
    """
    from msgan_eval.demo import DemoConfig, run_demo
    from msgan_eval.report.compare import stderr_log

    _refuse_other_tasks(ctx, task)
    if task == "modes":
        return _modes_demo(out, full, trials or 10, workers, seed, steps, device, as_json, quiet)
    if task == "modes-stacked":
        return _stacked_demo(out, trials or 3, workers, seed, steps, width, data_root, device,
                             as_json, quiet)
    common = dict(ref_per_class=ref_per_class, ndb_bins=ndb_bins, bootstrap=n_boot, seed=seed,
                  seeds=seeds, data_root=data_root, inception_weights=inception_weights,
                  lpips_backbone=lpips_backbone, dims=int(dims), device=device)
    if task == "unpaired":
        from msgan_eval.demos.unpaired import UnpairedDemoConfig, train_sample_compare_unpaired

        config = UnpairedDemoConfig(steps=steps or defaults.DRIT_DEMO_STEPS,
                                    width=width or defaults.DRIT_DEMO_WIDTH, inputs=inputs,
                                    per_input=per_input, **common)
        work, arms = (train_sample_compare_unpaired,
                      "DRIT (ms-weight 0), candidate = DRIT + MS (ms-weight 1)")
    elif task == "text-to-image":
        from msgan_eval.demos.text_to_image import TextDemoConfig, train_sample_compare_text

        config = TextDemoConfig(steps=steps or defaults.STACKGAN_DEMO_STEPS,
                                width=width or defaults.STACKGAN_DEMO_WIDTH, per_caption=per_input,
                                captions=captions,
                                **common)
        work, arms = (train_sample_compare_text,
                      "StackGAN++ (ms-weight 0), candidate = StackGAN++ + MS (ms-weight 1)")
    elif task == "image-to-image":
        from msgan_eval.demo_pairs import PairsDemoConfig, train_sample_compare_pairs

        config = PairsDemoConfig(steps=steps or defaults.P2P_DEMO_STEPS,
                                 width=width or defaults.P2P_DEMO_WIDTH, inputs=inputs,
                                 per_input=per_input, **common)
        work, arms = train_sample_compare_pairs, ("pix2pix with noise (ms-weight 0), candidate = "
                                                   f"MSGAN ({config.describe_term()})")
    else:
        config = DemoConfig(steps=steps or defaults.DEMO_STEPS, width=width or defaults.DEMO_WIDTH,
                            per_class=per_class, **common)
        work, arms = None, "DCGAN (ms-weight 0), candidate = MSGAN (ms-weight 1)"
    report, files = run_demo(Path(out), config, quiet=quiet, log=stderr_log(quiet),
                             command=[Path(sys.argv[0]).name, *sys.argv[1:]], work=work)
    payload = {**report, "files": {k: str(v) for k, v in files.items()}}
    total = report["details"]["demo"]["seconds"]["total"]
    took = (f"{total['wall']:.0f} s in all ({total['cpu']:.0f} s of CPU)" if isinstance(total, dict)
            else f"{total:.0f} s in all")
    emit(payload, as_json, f"baseline = {arms}\n"
                           + human_summary(report, files) + f"\ndemo: {took}")



_IMAGE_DEMO_OPTIONS = ("per_class", "inputs", "per_input", "captions", "ref_per_class", "ndb_bins",
                       "n_boot", "seeds", "inception_weights", "dims", "lpips_backbone")


def _refuse_other_tasks(ctx, task):
    """Options of another demo task given on the command line are refused by name (#23: an
    ignored option is an error, never silence)."""
    if task in ("modes", "modes-stacked"):
        ignored = _IMAGE_DEMO_OPTIONS + (("width", "data_root") if task == "modes" else ("full",))
        refuse_given(ctx, ignored, f"does not apply to --task {task}")
        return
    refuse_given(ctx, ("full", "trials", "workers"), "is for --task modes and modes-stacked")
    _refuse_other_tasks_options(ctx, task)


def _modes_demo(out, full, trials, workers, seed, steps, device, as_json, quiet):
    from msgan_eval.demos.modes import demo_config, run_modes_demo
    from msgan_eval.demos.modes_report import render_text
    from msgan_eval.report.compare import stderr_log

    if out == "msgan-eval-demo":
        out = "msgan-eval-demo-modes"
    config = demo_config(full, trials, seed, "cpu" if device == "auto" and not full else device,
                         workers, steps)
    if full and not quiet:
        from msgan_eval.device import resolve_device

        if resolve_device(config.device).type == "cpu":
            click.echo("msgan-eval: demo: --full on a CPU: PacGAN's protocol measured at about "
                       "230 core-hours for the 8 arms here (docs/modes.md); it is meant for a GPU",
                       err=True)
    report, files = run_modes_demo(Path(out), config, quiet=quiet, log=stderr_log(quiet),
                                   command=[Path(sys.argv[0]).name, *sys.argv[1:]])
    payload = {**report, "files": {k: str(v) for k, v in files.items()}}
    emit(payload, as_json, render_text(report) + f"\nreport: {files['html']} (also "
                           f"{files['md'].name}, {files['json'].name})\ndemo: "
                           f"{report['seconds']['total']:.0f} s in all")


def _stacked_demo(out, trials, workers, seed, steps, width, data_root, device, as_json, quiet):
    from msgan_eval.demos.modes_stacked import StackedDemoConfig, render_text, run_stacked_demo
    from msgan_eval.report.compare import stderr_log

    if out == "msgan-eval-demo":
        out = "msgan-eval-demo-modes-stacked"
    config = StackedDemoConfig(trials=trials, seed=seed, workers=workers, data_root=data_root,
                               device="cpu" if device == "auto" else device)
    if steps:
        config.steps = steps
    if width:
        config.width = width
    report, files = run_stacked_demo(Path(out), config, quiet=quiet, log=stderr_log(quiet),
                                     command=[Path(sys.argv[0]).name, *sys.argv[1:]])
    emit({**report, "files": {k: str(v) for k, v in files.items()}}, as_json,
         render_text(report) + f"\nreport: {files['md']}\ndemo: "
                               f"{report['seconds']['total']:.0f} s in all")
