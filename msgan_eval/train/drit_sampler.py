"""Samples of an unpaired (DRIT) run, A -> B, one condition per test input::

    OUT/samples/<input name>/000.png ... (per_input translations: G_B(E_c(input), z), z ~ N(0, I))
    OUT/inputs/<input name>.png          (the domain-A input)
    OUT/sample.json                      (run, seed, counts; on fashion-mnist-tints the hues)

As ``test.py`` of the official code (``--a2b 1``): the content of each test A image with
``per_input`` random attribute codes, the networks in eval mode (no noise layer). ``OUT/samples``
is what ``msgan-eval lpips|ndb|fid|compare`` read, each input a condition. The inputs are the first
``inputs`` images of the test split (``testA/``); the codes of input ``i`` are keyed by (seed, i).
On ``fashion-mnist-tints`` sample.json also counts the distinct palette hues of each input's
samples (``metrics.hues``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from msgan_eval import __version__, defaults
from msgan_eval.device import resolve_device
from msgan_eval.errors import UserError
from msgan_eval.fileio import atomic_dir, require_new_or_empty
from msgan_eval.images import write_png
from msgan_eval.metrics.hues import hue_summary, image_hues
from msgan_eval.names import path_components
from msgan_eval.progress import progress

from .data import batch_to_tensor
from .drit import DritGenerators
from .drit_models import NZ
from .runs import damaged_checkpoint, load_state
from .sampler import class_noise, to_uint8
from .snapshots import load_generator_state
from .unpaired_data import TINT_HUES, load_unpaired_data, to_channels

SAMPLES, INPUTS = "samples", "inputs"


def load_drit_generators(run_dir: "str | os.PathLike[str]", device: torch.device,
                         step: Optional[int] = None):
    """(encoders and generator in eval mode, the run description stored with them) at ``step``
    (None: the last checkpoint)."""
    state, path = load_generator_state(Path(run_dir), step, map_location=device)
    return build_drit_generators(state, path, device), state["run"]


def build_drit_generators(state: dict, path: Path, device: torch.device) -> DritGenerators:
    """The encoders and generator of a checkpoint or snapshot ``state`` (read from ``path``)."""
    run = state["run"]
    try:
        G = DritGenerators(int(run["input_channels"]), int(run["output_channels"]),
                           float(run["width"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise damaged_checkpoint(path, f"its run description is unusable ({type(exc).__name__}: "
                                       f"{exc})") from None
    load_state(path, G, state["generator"], "generator")
    return G.to(device).eval()


def translate(G: DritGenerators, image: np.ndarray, z: torch.Tensor,
              device: torch.device) -> np.ndarray:
    """uint8 (n, H, W, C): A -> B translations of ``image`` (uint8 (C, H, W)) with codes ``z``."""
    a = batch_to_tensor(image[None]).to(device).expand(len(z), -1, -1, -1)
    return to_uint8(G.translate_a2b(a, z.to(device)))


def test_inputs(run: dict, inputs: int, option: str = "--run") -> Tuple[Tuple[str, ...], np.ndarray]:
    """(names, uint8 (inputs, C, S, S)) of the first ``inputs`` test A images, in the run's
    channels; refused when the split is too small or of another size."""
    test = load_unpaired_data(run["dataset"], run.get("data_root"), split="test")
    if inputs > len(test.a):
        raise UserError(f"--inputs {inputs}: the test split has {len(test.a)} domain-A images; "
                        "ask for fewer")
    if test.image_size != run["image_size"]:
        raise UserError(f"{option}: trained on {run['image_size']}-pixel images but the test "
                        f"images are {test.image_size} pixels; resize testA/ to the training size")
    return test.names_a[:inputs], to_channels(test.a[:inputs], int(run["input_channels"]))


def input_images(G: DritGenerators, run: dict, inputs: int, per_input: int, seed: int,
                 device: torch.device) -> Dict[str, np.ndarray]:
    """input name -> ``per_input`` uint8 translations: exactly what ``sample`` writes."""
    names, images = test_inputs(run, inputs)
    return {names[i]: translate(G, images[i], class_noise(seed, i, per_input, NZ), device)
            for i in range(inputs)}


def sample_drit_run(run_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]",
                    inputs: int = defaults.P2P_INPUTS, per_input: int = defaults.P2P_PER_INPUT,
                    seed: int = defaults.SEED, device: str = defaults.DEVICE,
                    quiet: bool = False, step: Optional[int] = None) -> Path:
    """Write ``per_input`` translations of each of the first ``inputs`` test A images of the run
    at ``step`` (None: the last checkpoint); returns ``out_dir``."""
    out_dir = Path(out_dir)
    require_new_or_empty(out_dir)
    dev = resolve_device(device)
    G, run = load_drit_generators(run_dir, dev, step)
    names, a_images = test_inputs(run, inputs, option=f"--run {run_dir}")
    names = path_components(names, run.get("data_root") or run["dataset"], what="input name")
    hues = []
    with atomic_dir(out_dir) as tmp:
        for i in progress(range(inputs), desc="sample", quiet=quiet, unit="input"):
            images = translate(G, a_images[i], class_noise(seed, i, per_input, NZ), dev)
            for k, img in enumerate(images):
                write_png(tmp / SAMPLES / names[i] / f"{k:03d}.png", img)
            write_png(tmp / INPUTS / f"{names[i]}.png", a_images[i].transpose(1, 2, 0))
            if run["dataset"] == "fashion-mnist-tints":
                hues.append(image_hues(images, TINT_HUES))
        manifest = {"version": __version__, "run": str(run_dir), "dataset": run["dataset"],
                    "task": run.get("task"), "direction": "a2b", "split": "test",
                    "inputs": inputs, "per_input": per_input, "seed": seed, "step": step,
                    "names": list(names)}
        if hues:
            manifest["hues"] = hue_summary(hues, len(TINT_HUES))
        (tmp / "sample.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir
