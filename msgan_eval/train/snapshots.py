"""The checkpoint series of a run: ``checkpoints/step-00001000.pt``, one per saved step.

``checkpoint.pt`` (runs.py) holds the whole training state of the *last* saved step, for
``--resume``. Beside it every save also writes a generator snapshot ``{"step", "run",
"generator"}`` under ``checkpoints/``, named by its step, so ``sample --step N`` and ``track``
can go back to any of them; ``--keep-checkpoints N`` keeps the newest N (``all``: every one).
``best.pt`` is the snapshot of the best evaluated step (``train --keep-best``), with its metric
and value. Snapshots hold no discriminator or optimiser state: a fifth of a checkpoint's size (DCGAN).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Dict, Optional, Tuple

from msgan_eval.errors import UserError
from msgan_eval.fileio import atomic_path

from . import runs

SNAPSHOT_DIR = "checkpoints"
BEST_FILE = "best.pt"
_NAME = re.compile(r"^step-(\d{8,})\.pt$")


def snapshot_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / SNAPSHOT_DIR / f"step-{step:08d}.pt"


def snapshot_state(state: dict) -> dict:
    """The part of a checkpoint state a snapshot keeps."""
    return {"step": state["step"], "run": state["run"], "generator": state["generator"]}


def save_snapshot(run_dir: Path, state: dict, path: Optional[Path] = None) -> Path:
    """Write ``snapshot_state(state)`` (plus any extra keys of ``state`` beyond a checkpoint's)
    atomically to ``path`` (default: the step's file under ``checkpoints/``)."""
    import torch

    target = path or snapshot_path(run_dir, int(state["step"]))
    target.parent.mkdir(parents=True, exist_ok=True)
    extra = {k: v for k, v in state.items() if k not in runs._CHECKPOINT_KEYS}
    with atomic_path(target, suffix=".pt") as tmp:
        torch.save({**snapshot_state(state), **extra}, tmp)
    return target


def snapshot_steps(run_dir: Path) -> Dict[int, Path]:
    """step -> snapshot file, in step order (only files named as we name them)."""
    folder = Path(run_dir) / SNAPSHOT_DIR
    if not folder.is_dir():
        return {}
    found = {}
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            found[int(m.group(1))] = p
    return dict(sorted(found.items()))


def available_steps(run_dir: Path) -> Dict[int, Path]:
    """Every step a generator can be loaded at: the snapshots, and the step of checkpoint.pt
    (runs trained before snapshots existed have only that one)."""
    steps = snapshot_steps(run_dir)
    last = runs.checkpoint_step(run_dir) if runs.has_checkpoint(run_dir) else 0
    if runs.has_checkpoint(run_dir) and last not in steps:
        steps[last] = Path(run_dir) / runs.CHECKPOINT_FILE
    return dict(sorted(steps.items()))


def prune_snapshots(run_dir: Path, keep: Optional[int]) -> None:
    """Delete all but the newest ``keep`` snapshots (None: keep all); only our own files."""
    if keep is None:
        return
    steps = list(snapshot_steps(run_dir).items())
    for _, path in steps[:max(0, len(steps) - keep)]:
        path.unlink(missing_ok=True)


def copy_snapshot(src: Path, dst: Path) -> None:
    with atomic_path(dst, suffix=".pt") as tmp:
        shutil.copyfile(src, tmp)


def _steps_text(steps) -> str:
    steps = list(steps)
    shown = ", ".join(map(str, steps[:8])) + (", ..." if len(steps) > 8 else "")
    return shown or "none"


def load_generator_state(run_dir: "str | Path", step: Optional[int] = None,
                         map_location="cpu") -> Tuple[dict, Path]:
    """(``{"step", "run", "generator", ...}``, its file) of the run at ``step`` (None: the last)."""
    run_dir = Path(run_dir)
    if step is None:
        state = runs.load_checkpoint(run_dir, map_location=map_location)
        return state, run_dir / runs.CHECKPOINT_FILE
    steps = available_steps(run_dir)
    if step not in steps:
        raise UserError(f"--step {step}: {run_dir} has no checkpoint at that step (it has steps "
                        f"{_steps_text(steps)}); pick one of those")
    path = steps[step]
    if path.name == runs.CHECKPOINT_FILE:
        return runs.load_checkpoint(run_dir, map_location=map_location), path
    return load_snapshot(path, map_location), path


def load_snapshot(path: Path, map_location="cpu") -> dict:
    """A snapshot file, checked like a checkpoint (step, run description, generator weights)."""
    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise runs.damaged_checkpoint(path, "it would not fit in memory") from None
    except Exception as exc:
        raise runs.damaged_checkpoint(path, f"{type(exc).__name__}: "
                                            f"{(str(exc).strip().splitlines() or [''])[0][:160]}") from None
    if not isinstance(state, dict):
        raise runs.damaged_checkpoint(path, f"it holds a {type(state).__name__}, not a snapshot")
    for key, kind in (("step", int), ("run", dict), ("generator", dict)):
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise runs.damaged_checkpoint(path, f"{key!r} is missing or not a {kind.__name__}")
    return state
