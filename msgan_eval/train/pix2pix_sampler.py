"""Samples of an image-to-image run, one condition per test input::

    OUT/samples/<input name>/000.png ... (per_input samples: G(input, z), z ~ N(0, I))
    OUT/inputs/<input name>.png          (the input A)
    OUT/targets/<input name>.png         (its ground truth B)
    OUT/sample.json                      (run, seed, counts)

``OUT/samples`` is what ``msgan-eval lpips|ndb|fid|compare`` read (each input a condition, so
LPIPS diversity is measured among the samples of one input, the paper's protocol); the inputs
and targets lie beside it, never inside a condition folder. ``OUT/targets`` is the real test
set FID compares against. The inputs are the first ``inputs`` pairs of the dataset's test split;
the latent codes of input ``i`` are keyed by (seed, i), as the DCGAN sampler keys classes.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from msgan_eval import __version__, defaults
from msgan_eval.device import resolve_device
from msgan_eval.errors import UserError
from msgan_eval.fileio import atomic_dir, require_new_or_empty
from msgan_eval.images import write_png
from msgan_eval.names import path_components
from msgan_eval.progress import progress

from .data import batch_to_tensor
from .paired_data import load_paired_data
from .pix2pix_models import UnetGenerator
from .runs import load_checkpoint
from .sampler import class_noise, to_uint8

SAMPLES, INPUTS, TARGETS = "samples", "inputs", "targets"


def load_pix2pix_generator(run_dir: "str | os.PathLike[str]", device: torch.device):
    """(generator in eval mode, the run description stored with its checkpoint)."""
    checkpoint = load_checkpoint(Path(run_dir), map_location=device)
    run = checkpoint["run"]
    G = UnetGenerator(run["input_channels"], run["output_channels"], run["image_size"],
                      run["width"], run["z_dim"])
    G.load_state_dict(checkpoint["generator"])
    return G.to(device).eval(), run


@torch.no_grad()
def generate_for_input(G: UnetGenerator, image: np.ndarray, z: torch.Tensor,
                       device: torch.device) -> np.ndarray:
    """uint8 (n, H, W, C): G(image, z_k) for each row z_k; ``image`` is uint8 (C, H, W)."""
    a = batch_to_tensor(image[None]).to(device).expand(len(z), -1, -1, -1)
    return to_uint8(G(a, z.to(device)))


def sample_pix2pix_run(run_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]",
                       inputs: int = defaults.P2P_INPUTS, per_input: int = defaults.P2P_PER_INPUT,
                       seed: int = defaults.SEED, device: str = defaults.DEVICE,
                       quiet: bool = False) -> Path:
    """Write ``per_input`` samples for each of the first ``inputs`` test inputs; returns ``out_dir``."""
    out_dir = Path(out_dir)
    require_new_or_empty(out_dir)
    dev = resolve_device(device)
    G, run = load_pix2pix_generator(run_dir, dev)
    test = load_paired_data(run["dataset"], run.get("data_root"), split="test")
    if inputs > len(test):
        raise UserError(f"--inputs {inputs}: the test split has {len(test)} pairs; ask for fewer")
    # Input names (file names of the test split) become folder and file names under --out.
    names = path_components(test.names[:inputs], run.get("data_root") or run["dataset"],
                            what="input name")
    # Written beside out_dir and renamed at the end: an interrupted run leaves no partial folder.
    with atomic_dir(out_dir) as tmp:
        for i in progress(range(inputs), desc="sample", quiet=quiet, unit="input"):
            name = names[i]
            images = generate_for_input(G, test.inputs[i], class_noise(seed, i, per_input,
                                                                       run["z_dim"]), dev)
            for k, img in enumerate(images):
                write_png(tmp / SAMPLES / name / f"{k:03d}.png", img)
            write_png(tmp / INPUTS / f"{name}.png", test.inputs[i].transpose(1, 2, 0))
            write_png(tmp / TARGETS / f"{name}.png", test.targets[i].transpose(1, 2, 0))
        manifest = {"version": __version__, "run": str(run_dir), "dataset": run["dataset"],
                    "split": "test", "inputs": inputs, "per_input": per_input, "seed": seed,
                    "names": list(names)}
        (tmp / "sample.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir
