"""Per-class samples of a trained run: ``OUT/<class name>/00000.png ...`` and an optional grid.

That folder layout is what ``msgan-eval fid|lpips|ndb`` read as conditions. Images are the
generator's tanh output mapped to uint8 by ``round((x + 1) / 2 * 255)``; 1-channel runs give
grayscale PNGs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from msgan_eval import defaults
from msgan_eval.device import resolve_device
from msgan_eval.fileio import check_free_space, owned_dir, require_new_or_empty
from msgan_eval.images import write_image_folder, write_png
from msgan_eval.names import path_components
from msgan_eval.progress import progress
from msgan_eval.validate import whole

from .models import Generator, one_hot
from .runs import CHECKPOINT_FILE, damaged_checkpoint, load_state
from .seeding import keyed_generator
from .snapshots import load_generator_state

GRID_COLUMNS = 10
GRID_PADDING = 2
GENERATE_BATCH = 500


def load_generator(run_dir: "str | os.PathLike[str]", device: torch.device,
                   step: Optional[int] = None):
    """(generator in eval mode, the run description stored with it) at ``step`` (None: the last
    checkpoint)."""
    state, path = load_generator_state(Path(run_dir), step, map_location=device)
    return build_generator(state, path, device), state["run"]


def build_generator(state: dict, path: Path, device: torch.device) -> Generator:
    """The generator of a checkpoint or snapshot ``state`` (read from ``path``), in eval mode."""
    run = state["run"]
    try:
        G = Generator(len(run["class_names"]), run["channels"], run["width"], run["z_dim"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise damaged_checkpoint(path, f"its run description is unusable ({type(exc).__name__}: "
                                       f"{exc})") from None
    # The class names become folder names under --out: never a path that climbs out of it.
    if not isinstance(run.get("class_names"), list):
        raise damaged_checkpoint(path, "its class names are not a list")
    path_components(run["class_names"], path)
    load_state(path, G, state["generator"], "generator")
    return G.to(device).eval()


def class_noise(seed: int, class_index: int, n: int, z_dim: int) -> torch.Tensor:
    """The latent codes of one class, keyed by (seed, class) so classes do not depend on each other."""
    return torch.randn(n, z_dim, generator=keyed_generator(seed, class_index))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """tanh output (B, C, H, W) in [-1, 1] -> uint8 (B, H, W, C)."""
    x = ((images.float().cpu() + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def generate_class(G: Generator, class_index: int, z: torch.Tensor,
                   device: torch.device) -> np.ndarray:
    out = []
    for chunk in torch.split(z, GENERATE_BATCH):
        labels = torch.full((chunk.shape[0],), class_index, dtype=torch.int64, device=device)
        out.append(to_uint8(G(chunk.to(device), one_hot(labels, G.num_classes))))
    return np.concatenate(out)


def make_grid(per_class: List[np.ndarray], columns: int = GRID_COLUMNS,
              padding: int = GRID_PADDING, labels: Optional[Sequence[str]] = None) -> np.ndarray:
    """One row per class of its first ``columns`` samples, on a black background, each row
    headed by its class name when ``labels`` are given."""
    from msgan_eval.report.render import image_grid

    cols = min(columns, len(per_class[0]))
    return image_grid([list(images[:cols]) for images in per_class], pad=padding, background=0,
                      columns=cols, row_labels=labels)


def class_images(G: Generator, run: dict, per_class: int, seed: int,
                 device: torch.device, quiet: bool = True) -> Dict[str, np.ndarray]:
    """class name -> ``per_class`` uint8 (N, H, W, C) samples: exactly what ``sample`` writes."""
    names = run["class_names"]
    return {names[c]: generate_class(G, c, class_noise(seed, c, per_class, run["z_dim"]), device)
            for c in progress(range(len(names)), desc="sample", quiet=quiet, unit="class")}


def sample_run(run_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]",
               per_class: int = defaults.SAMPLES_PER_CLASS, seed: int = defaults.SEED,
               grid: "str | os.PathLike[str] | None" = None, device: str = defaults.DEVICE,
               quiet: bool = False, step: Optional[int] = None) -> Path:
    """Write ``per_class`` samples of every class of the run at ``step`` (None: the last
    checkpoint); returns ``out_dir``."""
    out_dir = Path(out_dir)
    per_class = whole(per_class, "per_class", min=1, max=defaults.MAX_SAMPLES_PER_CLASS,
                      hint="a class is held in memory while it is written")
    seed = whole(seed, "seed", min=0)
    require_new_or_empty(out_dir)
    dev = resolve_device(device)
    G, run = load_generator(run_dir, dev, step)
    names = run["class_names"]
    size, channels = 32, run["channels"]           # the DCGAN writes 32x32 images
    check_free_space(out_dir, len(names) * per_class * (size * size * channels + 512), "--per-class",
                     f"{len(names)} x {per_class} samples")
    per_class_images = []
    # Written beside out_dir and renamed at the end: an interrupted run leaves no partial folder.
    with owned_dir(out_dir, "--out") as tmp:     # locked: a second sample into --out is refused
        for c in progress(range(len(names)), desc="sample", quiet=quiet, unit="class"):
            images = generate_class(G, c, class_noise(seed, c, per_class, run["z_dim"]), dev)
            write_image_folder(tmp, images, [c] * len(images), names,
                               names_source=Path(run_dir) / CHECKPOINT_FILE)
            per_class_images.append(images)
    if grid is not None:
        write_png(grid, make_grid(per_class_images, labels=names))
    return out_dir
