"""What the shared training loop does besides training (``trainer.run_steps`` calls it):

- every saved step also becomes a generator snapshot ``checkpoints/step-N.pt`` (the newest
  ``keep_checkpoints`` are kept; ``snapshots.py``);
- ``evaluation``: every ``every`` steps (and at the last step) the snapshot's generator is sampled
  as ``sample`` would and measured by the evaluation layer's :class:`Tracker` against ``ref``;
  the values go to ``track.json`` / ``track.csv`` / ``track.html`` in the run folder and the best
  step's snapshot to ``best.pt``. A failed evaluation is logged and recorded, never fatal;
- ``tensorboard``: losses and metric values as TensorBoard scalars.

An evaluated step is always a checkpoint step and is measured after its checkpoint is saved, so a
run killed and resumed from step s keeps the curve up to s, measures s if the kill came during its
evaluation, and goes on: no step twice, none missing.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

from msgan_eval import defaults
from msgan_eval.errors import ParameterError, UserError, first_line
from msgan_eval.progress import warn

from . import snapshots

# The train command's flags for the Tracker's parameters (errors name what the user typed).
EVAL_FLAGS = {"reference": "eval_ref", "metrics": "eval_metrics", "dims": "eval_dims",
              "bootstrap": "eval_bootstrap", "ndb_bins": "eval_ndb_bins", "best": "keep_best",
              "seed": "eval_seed"}


@dataclass
class Evaluation:
    """``train --eval-every``: what is measured, against what, on how many samples."""

    every: int
    ref: str
    metrics: Tuple[str, ...] = defaults.TRACK_METRICS
    keep_best: Optional[str] = None        # None: fid when measured
    per_class: int = defaults.SAMPLES_PER_CLASS
    inputs: int = defaults.P2P_INPUTS
    per_input: int = defaults.P2P_PER_INPUT
    seed: int = defaults.SEED
    dims: int = defaults.FID_DIMS
    bootstrap: int = defaults.BOOTSTRAP
    ndb_bins: int = defaults.NDB_BINS
    inception_weights: Optional[str] = None
    lpips_backbone: Optional[str] = None

    @property
    def best_metric(self) -> Optional[str]:
        return self.keep_best or ("fid" if "fid" in self.metrics else None)


@dataclass
class LoopOptions:
    keep_checkpoints: Optional[int] = defaults.TRAIN_KEEP_CHECKPOINTS    # None: every one
    evaluation: Optional[Evaluation] = None
    tensorboard: Optional[str] = None

    def to_dict(self) -> dict:
        """Stored in config.json (``loop``), so ``--resume`` goes on with the same settings."""
        return {"keep_checkpoints": self.keep_checkpoints, "tensorboard": self.tensorboard,
                "evaluation": None if self.evaluation is None else
                {**asdict(self.evaluation), "metrics": list(self.evaluation.metrics)}}

    @classmethod
    def from_dict(cls, stored: Optional[dict]) -> "LoopOptions":
        stored = dict(stored or {})
        ev = stored.get("evaluation")
        if isinstance(ev, dict):
            ev = Evaluation(**{**ev, "metrics": tuple(ev.get("metrics") or defaults.TRACK_METRICS)})
        return cls(keep_checkpoints=stored.get("keep_checkpoints", defaults.TRAIN_KEEP_CHECKPOINTS),
                   evaluation=ev, tensorboard=stored.get("tensorboard"))


def _say(message: str, quiet: bool) -> None:
    if quiet:
        return
    from tqdm import tqdm

    tqdm.write(f"msgan-eval: {message}", file=sys.stderr)


class LoopHooks:
    """Snapshots, evaluation and TensorBoard for one training run (rank 0 calls the hooks)."""

    def __init__(self, task, options: LoopOptions, out_dir: Path, description: dict, dist,
                 start: int, resume: bool, quiet: bool, initial_state: dict):
        self.options, self.out_dir, self.quiet = options, Path(out_dir), quiet
        self.total, self.start = description["total_steps"], start
        self.evaluation: Optional[InLoopEvaluation] = None
        self._writer = None
        if not resume:
            _check_fresh(self.out_dir)
        if options.tensorboard is not None:
            _require_tensorboard()
        if options.evaluation is not None and dist.is_main:
            if dist.world_size > 1:
                raise UserError("--eval-every: evaluation while training runs in one process, not "
                                "under torchrun; evaluate the checkpoints afterwards with "
                                "`msgan-eval track`")
            self.evaluation = InLoopEvaluation(task, options.evaluation, self.out_dir, description,
                                               dist.device, start, resume, initial_state)

    def due(self, step: int) -> bool:
        ev = self.options.evaluation
        return ev is not None and (step % ev.every == 0 or step == self.total)

    def begin(self, state: dict) -> None:
        """After the run folder is written: the snapshot and evaluation of the start step if a
        kill took them, and the TensorBoard writer."""
        if self.options.tensorboard is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=self.options.tensorboard, purge_step=self.start + 1)
        if self.start > 0 and not snapshots.snapshot_path(self.out_dir, self.start).exists():
            snapshots.save_snapshot(self.out_dir, state)
        if self.evaluation is not None and self.start > 0 and self.due(self.start):
            self._evaluate(self.start, state)

    def saved(self, state: dict) -> None:
        """A checkpoint was saved: its snapshot, then (when due) its evaluation."""
        snapshots.save_snapshot(self.out_dir, state)
        snapshots.prune_snapshots(self.out_dir, self.options.keep_checkpoints)
        if self.evaluation is not None and self.due(state["step"]):
            self._evaluate(state["step"], state)

    def _evaluate(self, step: int, state: dict) -> None:
        entry = self.evaluation.evaluate(step, state)
        if entry is None:
            return
        values = {m: entry[m] for m in self.evaluation.tracker.metrics if m in entry}
        _say(f"step {step}: " + ", ".join(f"{m} {v:.4g}" for m, v in values.items())
             + f" ({entry.get('seconds', 0):.1f} s)", self.quiet)
        if self._writer is not None:
            for metric, value in values.items():
                self._writer.add_scalar(f"eval/{metric}", value, step)

    def losses(self, step: int, losses: Dict[str, float]) -> None:
        if self._writer is not None:
            for name, value in losses.items():
                self._writer.add_scalar(f"train/{name}", value, step)

    def finish(self) -> None:
        """The run is complete: the curve with the best step's verdict against the last."""
        if self.evaluation is not None:
            best = self.evaluation.finish()
            if best is not None:
                _say(f"best {best['metric']}: step {best['step']} ({best['value']:.4g})"
                     + ("" if best.get("better_than_last") is None else
                        f", significantly better than the last: {best['better_than_last']}"),
                     self.quiet)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _check_fresh(out_dir: Path) -> None:
    """A new run never mixes with another run's snapshots or curve."""
    for name in (snapshots.BEST_FILE, "track.json"):
        if (out_dir / name).exists():
            raise UserError(f"--out {out_dir}: already holds {name} of another run; pass --resume "
                            "to continue that run or choose another --out")
    if snapshots.snapshot_steps(out_dir):
        raise UserError(f"--out {out_dir}: already holds checkpoints of another run "
                        f"({snapshots.SNAPSHOT_DIR}/); pass --resume or choose another --out")


def _require_tensorboard() -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise UserError("--tensorboard needs the tensorboard package, which is not installed; "
                        "`pip install tensorboard` (or msgan-eval[tensorboard]) or leave out "
                        "--tensorboard") from None


@dataclass
class InLoopEvaluation:
    """The Tracker of a training run, fed each due checkpoint's generator samples."""

    task: object
    ev: Evaluation
    out_dir: Path
    description: dict
    device: object
    start: int
    resume: bool
    initial_state: dict
    tracker: object = field(init=False)

    def __post_init__(self):
        from msgan_eval.evaluate.track import TRACK_FILE, Tracker, check_best

        from .tracking import SampleSpec, generator_images, sampling_record

        ev = self.ev
        self.spec = SampleSpec(ev.per_class, ev.inputs, ev.per_input, ev.seed)
        try:
            self.tracker = Tracker(ev.ref, ev.metrics, seed=ev.seed, bootstrap=ev.bootstrap,
                                   dims=ev.dims, ndb_bins=ev.ndb_bins,
                                   inception_weights=ev.inception_weights,
                                   lpips_backbone=ev.lpips_backbone, device=str(self.device),
                                   sampling=sampling_record(self.description, self.spec))
            check_best(ev.keep_best, self.tracker.config)
            if self.resume and (self.out_dir / TRACK_FILE).exists():
                self.tracker.resume(self.out_dir / TRACK_FILE)
                self.tracker.truncate(self.start)     # steps past the checkpoint are redone
            # every input and option checked on the starting generator, before any training
            self.tracker.check(generator_images(self.task, self.initial_state, self.out_dir,
                                                self.spec, self.device))
        except ParameterError as exc:
            raise exc.renamed(EVAL_FLAGS) from None
        self.tracker.best_metric = ev.best_metric
        self.tracker.images_of = self._images_of
        self.initial_state = None

    def _images_of(self, step: int):
        from .tracking import RunSeries

        return RunSeries(self.out_dir, self.spec, str(self.device)).images(step)

    def evaluate(self, step: int, state: dict) -> Optional[dict]:
        """The step's history entry, or None when it was measured already or failed (logged)."""
        from .tracking import generator_images

        if not self.tracker.missing(step):
            return None
        t0 = time.perf_counter()
        try:
            images = generator_images(self.task, state, self.out_dir, self.spec, self.device)
            entry = self.tracker.update(step, images)
            entry["seconds"] = round(time.perf_counter() - t0, 3)
            self._keep_best(step, state)
            self.tracker.write(self.out_dir, verdict=False)
            return entry
        except KeyboardInterrupt:
            raise
        except Exception as exc:     # the run goes on: an evaluation is never worth the run
            reason = first_line(exc) if isinstance(exc, UserError) else \
                f"{type(exc).__name__}: {first_line(exc)}"
            self.tracker.failed.append({"step": step, "reason": reason})
            warn(f"evaluation at step {step} failed ({reason}); training goes on")
            self._write_quietly(verdict=False)
            return None

    def _keep_best(self, step: int, state: dict) -> None:
        metric = self.ev.best_metric
        best = self.tracker.best(metric, verdict=False) if metric in self.tracker.metrics else None
        if best is not None and best["step"] == step:
            snapshots.save_snapshot(self.out_dir, {**snapshots.snapshot_state(state),
                                                   "metric": metric, "value": best["value"]},
                                    path=self.out_dir / snapshots.BEST_FILE)

    def _write_quietly(self, verdict: bool) -> bool:
        try:
            self.tracker.write(self.out_dir, verdict=verdict)
            return True
        except Exception as exc:
            warn(f"could not write the curve to {self.out_dir} ({first_line(exc)})")
            return False

    def finish(self) -> Optional[dict]:
        """Write the curve with the best step's verdict; the best entry (None if none)."""
        if not self._write_quietly(verdict=True):
            return None
        return self.tracker.best(verdict=True)
