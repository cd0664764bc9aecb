"""Samples of an image-to-image run, one condition per test input::

    OUT/samples/<input name>/000.png ... (per_input samples: G(input, z), z ~ N(0, I))
    OUT/inputs/<input name>.png          (the input A)
    OUT/targets/<input name>.png         (its ground truth B)
    OUT/sample.json                      (run, seed, counts, each input's name and label)

``OUT/samples`` is what ``msgan-eval lpips|ndb|fid|compare`` read (each input a condition, so
LPIPS diversity is measured among the samples of one input, the paper's protocol); the inputs
and targets lie beside it, never inside a condition folder. ``OUT/targets`` is the real test
set FID compares against. The inputs are drawn from the dataset's test split balanced over its
classes (:func:`choose_inputs`), never from the indices the caller excludes (the demo's FID
reference); the latent codes of test item ``i`` are keyed by (seed, i), as the DCGAN sampler keys
classes, so each seed samples with its own noise. An input's label is its Fashion-MNIST class
where the dataset has classes, else its name.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from msgan_eval import __version__, defaults
from msgan_eval.datasets import FASHION_MNIST_CLASSES
from msgan_eval.device import resolve_device
from msgan_eval.errors import UserError
from msgan_eval.fileio import check_free_space, owned_dir, require_new_or_empty
from msgan_eval.images import write_png
from msgan_eval.names import path_components
from msgan_eval.progress import progress
from msgan_eval.validate import whole

from .data import batch_to_tensor
from .paired_data import PairedData, load_paired_data
from .pix2pix_models import UnetGenerator
from .runs import damaged_checkpoint, load_state
from .sampler import GENERATE_BATCH, GRID_COLUMNS, GRID_PADDING, class_noise, to_uint8
from .snapshots import load_generator_state

SAMPLES, INPUTS, TARGETS = "samples", "inputs", "targets"


def load_pix2pix_generator(run_dir: "str | os.PathLike[str]", device: torch.device,
                           step: Optional[int] = None):
    """(generator in eval mode, the run description stored with it) at ``step`` (None: the last
    checkpoint)."""
    state, path = load_generator_state(Path(run_dir), step, map_location=device)
    return build_pix2pix_generator(state, path, device), state["run"]


def build_pix2pix_generator(state: dict, path: Path, device: torch.device) -> UnetGenerator:
    """The U-Net of a checkpoint or snapshot ``state`` (read from ``path``), in eval mode."""
    run = state["run"]
    try:
        G = UnetGenerator(run["input_channels"], run["output_channels"], run["image_size"],
                          run["width"], run["z_dim"], run.get("upsample", "basic"))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise damaged_checkpoint(path, f"its run description is unusable ({type(exc).__name__}: "
                                       f"{exc})") from None
    load_state(path, G, state["generator"], "generator")
    return G.to(device).eval()


@torch.no_grad()
def generate_for_input(G: UnetGenerator, image: np.ndarray, z: torch.Tensor,
                       device: torch.device) -> np.ndarray:
    """uint8 (n, H, W, C): G(image, z_k) for each row z_k; ``image`` is uint8 (C, H, W).
    Batches of at most GENERATE_BATCH codes: the network's activations stay bounded."""
    a = batch_to_tensor(image[None]).to(device)
    return np.concatenate([to_uint8(G(a.expand(len(chunk), -1, -1, -1), chunk.to(device)))
                           for chunk in torch.split(z, GENERATE_BATCH)])


def test_inputs(run: dict, inputs: int):
    """The run's test split, refused when it holds fewer than ``inputs`` pairs."""
    test = load_paired_data(run["dataset"], run.get("data_root"), split="test")
    if inputs > len(test):
        raise UserError(f"--inputs {inputs}: the test split has {len(test)} pairs; ask for fewer")
    return test


def input_images(G: UnetGenerator, run: dict, inputs: int, per_input: int, seed: int,
                 device: torch.device, test=None) -> Dict[str, np.ndarray]:
    """input name -> ``per_input`` uint8 samples: exactly what ``sample`` writes to OUT/samples
    (with ``input_seed = seed`` and nothing excluded)."""
    test = test if test is not None else test_inputs(run, inputs)
    return {test.names[i]: generate_for_input(G, test.inputs[i],
                                              class_noise(seed, int(i), per_input, run["z_dim"]),
                                              device)
            for i in choose_inputs(test, inputs, seed)}


def choose_inputs(test: PairedData, inputs: int, seed: int,
                  exclude: Sequence[int] = ()) -> np.ndarray:
    """Test indices of the ``inputs`` inputs, never one in ``exclude`` (e.g. the FID reference).

    With classes (fashion-mnist-edges): round-robin over the classes, each class's items in a
    seeded order, so 10 k inputs hold k of each class. Without (paired-folder): the first ones.
    """
    banned = set(int(i) for i in exclude)
    pool = [i for i in range(len(test)) if i not in banned]
    if inputs > len(pool):
        raise UserError(f"--inputs {inputs}: the test split has {len(pool)} pairs to draw from; "
                        "ask for fewer")
    if test.labels is None:
        return np.asarray(pool[:inputs], dtype=np.int64)
    rng = np.random.default_rng(seed)
    labels = test.labels[pool]
    queues = [list(rng.permutation(np.asarray(pool)[labels == c])) for c in np.unique(labels)]
    chosen: List[int] = []
    while len(chosen) < inputs:
        for queue in queues:
            if queue and len(chosen) < inputs:
                chosen.append(int(queue.pop(0)))
    return np.asarray(chosen, dtype=np.int64)


def sample_pix2pix_run(run_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]",
                       inputs: int = defaults.P2P_INPUTS, per_input: int = defaults.P2P_PER_INPUT,
                       seed: int = defaults.SEED, device: str = defaults.DEVICE,
                       quiet: bool = False, step: Optional[int] = None,
                       grid: "str | os.PathLike[str] | None" = None,
                       input_seed: Optional[int] = None, exclude: Sequence[int] = ()) -> Path:
    """Write ``per_input`` samples for each of ``inputs`` test inputs of the run at ``step`` (None:
    the last checkpoint); returns ``out_dir``. The inputs are :func:`choose_inputs` with
    ``input_seed`` (default ``seed``), never one of ``exclude``; the latent codes of test item
    ``i`` are keyed by (``seed``, ``i``). ``grid``: also a PNG, one row per input (its label, the
    input, its target, then samples)."""
    out_dir = Path(out_dir)
    inputs = whole(inputs, "inputs", min=1)
    per_input = whole(per_input, "per_input", min=1, max=defaults.MAX_SAMPLES_PER_CLASS)
    require_new_or_empty(out_dir)
    dev = resolve_device(device)
    G, run = load_pix2pix_generator(run_dir, dev, step)
    test = load_paired_data(run["dataset"], run.get("data_root"), split="test")
    input_seed = seed if input_seed is None else input_seed
    chosen = choose_inputs(test, inputs, input_seed, exclude)     # refuses more than the split has
    h, w = test.inputs.shape[2:]
    check_free_space(out_dir, inputs * (per_input + 2) * (h * w * run["output_channels"] + 512),
                     "--per-input", f"{inputs} x {per_input} samples of {w}x{h}")
    # Input names (file names of the test split) become folder and file names under --out.
    names = path_components([test.names[i] for i in chosen], run.get("data_root") or run["dataset"],
                            what="input name")
    labels, rows = [input_label(test, i) for i in chosen], []
    # Written beside out_dir and renamed at the end: an interrupted run leaves no partial folder.
    with owned_dir(out_dir, "--out") as tmp:     # locked: a second sample into --out is refused
        for name, i in progress(list(zip(names, chosen)), desc="sample", quiet=quiet, unit="input"):
            images = generate_for_input(G, test.inputs[i], class_noise(seed, int(i), per_input,
                                                                       run["z_dim"]), dev)
            rows.append([_rgb(test.inputs[i].transpose(1, 2, 0)), _rgb(test.targets[i].transpose(1, 2, 0)),
                         *(_rgb(img) for img in images[:GRID_COLUMNS])])
            for k, img in enumerate(images):
                write_png(tmp / SAMPLES / name / f"{k:03d}.png", img)
            write_png(tmp / INPUTS / f"{name}.png", test.inputs[i].transpose(1, 2, 0))
            write_png(tmp / TARGETS / f"{name}.png", test.targets[i].transpose(1, 2, 0))
        manifest = {"version": __version__, "run": str(run_dir), "dataset": run["dataset"],
                    "split": "test", "inputs": inputs, "per_input": per_input, "seed": seed,
                    "input_seed": input_seed, "excluded": len(set(int(i) for i in exclude)),
                    "indices": [int(i) for i in chosen], "names": list(names), "labels": labels,
                    "classes": None if test.labels is None else [int(test.labels[i]) for i in chosen]}
        if step is not None:
            manifest["step"] = step
        (tmp / "sample.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if grid is not None:
        from msgan_eval.report.render import image_grid

        write_png(grid, image_grid(rows, pad=GRID_PADDING, background=0, row_labels=labels))
    return out_dir


def input_label(data, i: int) -> str:
    """What a person calls input ``i``: its class where the dataset has classes, else its name."""
    if data.labels is not None:
        return FASHION_MNIST_CLASSES[int(data.labels[i])]
    return data.names[i]


def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 1 or 3) -> (H, W, 3): grayscale inputs beside RGB samples in one grid."""
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
