"""The files of a training run: config.json, log.jsonl and checkpoint.pt, all written by rank 0.

config.json and checkpoint.pt are replaced atomically (``msgan_eval.fileio``), so a run killed at
any moment leaves the previous checkpoint intact; log rows past that checkpoint are dropped when
the run resumes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterable, Optional

from msgan_eval.errors import UserError, first_line, short_reason
from msgan_eval.fileio import atomic_path, write_json_atomic, write_text_atomic
from msgan_eval.names import path_components

CONFIG_FILE = "config.json"
LOG_FILE = "log.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
# TrainConfig fields a resumed run may change: how long to train, how often to save, where the
# (same) data lives. Everything else would make the resumed run a different experiment.
# ``loop``: checkpoints kept, evaluation while training, TensorBoard (train/loop.py).
RESUMABLE_CHANGES = ("steps", "epochs", "total_steps", "checkpoint_every", "data_root", "version",
                     "loop")
# Run description entries that come from the data or the launch rather than an option.
_DERIVED = {"n_train": "the number of training images", "channels": "the image channels",
            "class_names": "the class names", "world_size": "the number of torchrun processes",
            "steps_per_epoch": "the steps per epoch", "image_size": "the image size"}


def read_run_config(run_dir: Path, option: str = "--run") -> dict:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{option} {run_dir}: no {CONFIG_FILE} there; it must be a folder written "
                        "by `msgan-eval train`")
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise damaged_config(path, first_line(exc))
    if not isinstance(stored, dict):
        raise damaged_config(path, f"a JSON {type(stored).__name__}, not an object")
    if stored.get("task") == "image-to-image":       # train.IMAGE_TO_IMAGE: no classes
        if type(stored.get("image_size")) is not int or stored["image_size"] < 1:
            raise damaged_config(path, "image_size is not a positive integer")
        return stored
    names = stored.get("class_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise damaged_config(path, "class_names is not a list of class names")
    path_components(names, path)          # they become folder names under sample's --out
    return stored


def damaged_config(path: Path, why: str) -> UserError:
    return UserError(f"{path}: the run's configuration is damaged ({why}); restore it from a "
                     "backup, or train a new run in another --out")


def damaged_checkpoint(path: Path, why: str) -> UserError:
    """The one message for a checkpoint that cannot be used, with the ways to recover."""
    if Path(path).name != CHECKPOINT_FILE:      # a snapshot or best.pt: nothing resumes from it
        return UserError(f"{path}: this checkpoint is damaged or not of this run's model ({why}); "
                         "restore it from a backup or remove it")
    return UserError(f"{path}: the run's checkpoint is damaged ({why}); restore it from a backup, "
                     f"or delete it and `msgan-eval train --out {path.parent} --resume` restarts "
                     "the run from step 0 with its settings")


_CHECKPOINT_KEYS = {"generator": dict, "discriminator": dict, "opt_g": dict, "opt_d": dict,
                    "step": int, "run": dict}


def _check_checkpoint(path: Path, state) -> dict:
    if not isinstance(state, dict):
        raise damaged_checkpoint(path, f"it holds a {type(state).__name__}, not a checkpoint")
    for key, kind in _CHECKPOINT_KEYS.items():
        if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
            raise damaged_checkpoint(path, f"{key!r} is missing or not a {kind.__name__}")
    if state["step"] < 0:
        raise damaged_checkpoint(path, f"step {state['step']} is negative")
    return state


def load_state(path: Path, module, state: dict, what: str) -> None:
    """``module.load_state_dict(state)``, or the damaged-checkpoint message (wrong shapes, keys)."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as exc:
        first = str(exc).strip().splitlines()
        raise damaged_checkpoint(path, f"its {what} does not fit the run's networks: "
                                       f"{first[-1].strip() if first else type(exc).__name__}")


def write_run_config(run_dir: Path, description: dict) -> None:
    write_json_atomic(Path(run_dir) / CONFIG_FILE, description)


def check_fresh_run_dir(run_dir: Path) -> None:
    """A new run never overwrites another one."""
    for name in (CONFIG_FILE, CHECKPOINT_FILE):
        if (Path(run_dir) / name).exists():
            raise UserError(f"--out {run_dir}: already holds a training run ({name}); pass --resume "
                            "to continue it or choose another --out")


def check_same_dataset(run_dir: Path, stored: dict, dataset: str) -> None:
    """Refuse, before any data is loaded, to resume on another dataset: the error would otherwise
    be about the new dataset (not found, not paired), never naming the run's own."""
    if "dataset" in stored and stored["dataset"] != dataset:
        raise UserError(f"--resume {run_dir}: the run was trained on --dataset {stored['dataset']}, "
                        f"not {dataset}; leave --dataset out to resume it, or start a new --out")


def check_same_experiment(run_dir: Path, stored: dict, wanted: dict) -> None:
    """Refuse to resume with settings that differ from the stored run (besides RESUMABLE_CHANGES)."""
    for key, value in wanted.items():
        if key in RESUMABLE_CHANGES or key not in stored or stored[key] == value:
            continue
        what = _DERIVED.get(key, "--" + key.replace("_", "-"))
        raise UserError(f"--resume {run_dir}: {what} is {value!r} but the run was started with "
                        f"{stored[key]!r}; resume with the run's settings or start a new --out")


def save_checkpoint(run_dir: Path, state: dict) -> Path:
    import torch

    target = Path(run_dir) / CHECKPOINT_FILE
    with atomic_path(target, suffix=".pt") as tmp:
        torch.save(state, tmp)
    return target


def has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / CHECKPOINT_FILE).is_file()


def load_checkpoint(run_dir: Path, map_location="cpu") -> dict:
    import torch

    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint to load; train the run first (or without --resume)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise damaged_checkpoint(path, "it would not fit in memory") from None
    except Exception as exc:
        raise damaged_checkpoint(path, f"{type(exc).__name__}: {short_reason(exc, 160)}") from None
    return _check_checkpoint(path, state)


def checkpoint_step(run_dir: Path) -> int:
    """The step of the run's checkpoint (0 if none), read without loading the weights."""
    import torch

    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        return 0
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise damaged_checkpoint(path, f"{type(exc).__name__}: {short_reason(exc, 160)}") from None
    return int(_check_checkpoint(path, state)["step"])


def truncate_log(run_dir: Path, last_step: int) -> None:
    """Keep the log rows up to ``last_step`` (the checkpoint a run resumes from)."""
    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            break   # a line cut short by a kill: everything after it is newer anyway
    write_text_atomic(path, "".join(row + "\n" for row in kept))


class LossLog:
    """Appends one JSON row per step to log.jsonl (a no-op on ranks other than 0)."""

    def __init__(self, run_dir: Optional[Path]):
        # Line-buffered so the log can be followed live (``tail -f``); a row costs one write.
        self._fh = open(Path(run_dir) / LOG_FILE, "a", buffering=1) if run_dir is not None else None

    def write(self, row: Dict[str, float]) -> None:
        if self._fh is not None:
            self._fh.write(json.dumps(row) + "\n")

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def read_log(run_dir: Path) -> Iterable[dict]:
    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
