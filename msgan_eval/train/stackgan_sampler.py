"""Samples of a text-to-image (StackGAN) run, one condition per caption::

    OUT/samples/<caption name>/000.png ... (per_caption images of the last stage)
    OUT/captions.json                      (name -> caption text, class and colour)
    OUT/sample.json                        (run, seed, counts; on fashion-mnist-captions the hues)

As the official ``evaluate`` (trainer.py:834-900): G with the running average of its weights in
eval mode, one noise per sample and conditioning augmentation drawn anew for each. The captions
are ``caption_data.canonical_captions`` on ``fashion-mnist-captions`` ("a sneaker", then "a red
sneaker" ...), and on ``cub`` the first caption of each of the first test images. The noises of
caption ``i`` are keyed by (seed, i), its conditioning draws by (seed, i, 1). On
fashion-mnist-captions sample.json counts the distinct palette hues among the samples of each
caption without a colour (the counted diversity) and, for captions naming one, the share of
samples in that hue (how well the text is followed).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

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

from .caption_data import NO_COLOUR, canonical_captions, caption_names, describe
from .runs import damaged_checkpoint, load_state
from .sampler import class_noise, to_uint8
from .seeding import keyed_generator
from .snapshots import load_generator_state
from .stackgan import StackGanConfig, StackGanGenerators
from .unpaired_data import TINT_HUES

SAMPLES = "samples"


def build_stackgan_generator(state: dict, path: Path, device: torch.device):
    """The averaged G of a checkpoint or snapshot ``state`` (read from ``path``), in eval mode."""
    run = state["run"]
    try:
        config = StackGanConfig(width=float(run["width"]), branch_num=int(run["branch_num"]),
                                base_size=int(run["base_size"]), z_dim=int(run["z_dim"]),
                                embedding_dim=int(run["embedding_dim"]))
        G = StackGanGenerators(int(run["t_dim"]), config)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise damaged_checkpoint(path, f"its run description is unusable ({type(exc).__name__}: "
                                       f"{exc})") from None
    load_state(path, G, state["generator"], "generator")
    return G.sampling_net().to(device)


def conditions(run: dict, captions: int) -> Tuple[List[str], List[dict], np.ndarray]:
    """(folder names, caption records, float32 (captions, T) embeddings) of the run's dataset."""
    if run["dataset"] == "fashion-mnist-captions":
        from msgan_eval.features.text_encoder import load_text_encoder

        every = canonical_captions()
        if captions > len(every):
            raise UserError(f"--captions {captions}: fashion-mnist-captions has {len(every)} "
                            "canonical captions; ask for fewer")
        chosen = every[:captions]
        records = [{"text": c.text, "class": describe(c)[0], "colour": describe(c)[1],
                    "colour_index": c.colour} for c in chosen]
        return list(caption_names(chosen)), records, load_text_encoder().encode(
            [c.text for c in chosen])
    from .caption_sets import load_captioned_data

    test = load_captioned_data(run["dataset"], run.get("data_root"), "test",
                               tuple(run["stage_sizes"]))
    if captions > len(test):
        raise UserError(f"--captions {captions}: the test split has {len(test)} images; ask for "
                        "fewer")
    rows = test.caption_ids[:captions, 0]
    names = [f"test-{i:05d}-caption-0" for i in range(captions)]
    return names, [{"text": None, "test_index": i} for i in range(captions)], test.embeddings[rows]


@torch.no_grad()
def caption_images(G, embedding: np.ndarray, index: int, per_caption: int, seed: int,
                   z_dim: int, device: torch.device) -> np.ndarray:
    """uint8 (per_caption, S, S, 3): the last stage's images of one caption."""
    z = class_noise(seed, index, per_caption, z_dim).to(device)
    text = torch.from_numpy(np.repeat(embedding[None], per_caption, 0)).to(device)
    fakes, _, _ = G(z, text, keyed_generator(seed, index, 1))
    return to_uint8(fakes[-1])


def _hue_metrics(records: List[dict], images: Dict[str, np.ndarray]) -> dict:
    """Distinct hues per colourless caption; share of samples in the named hue per coloured one."""
    labels = {name: image_hues(imgs, TINT_HUES) for name, imgs in images.items()}
    free = [labels[n] for n, r in zip(images, records) if r["colour_index"] == NO_COLOUR]
    fixed = {n: float((labels[n] == r["colour_index"]).mean())
             for n, r in zip(images, records) if r["colour_index"] != NO_COLOUR}
    out = {"colourless": hue_summary(free, len(TINT_HUES)) if free else None,
           "named_hue_share": (float(np.mean(list(fixed.values()))) if fixed else None),
           "named_hue_share_per_caption": fixed}
    return out


def sample_stackgan_run(run_dir: "str | os.PathLike[str]", out_dir: "str | os.PathLike[str]",
                        captions: Optional[int] = None, per_caption: int = defaults.P2P_PER_INPUT,
                        seed: int = defaults.SEED, device: str = defaults.DEVICE,
                        quiet: bool = False, step: Optional[int] = None) -> Path:
    """Write ``per_caption`` images for each of the run's first ``captions`` captions (None:
    every canonical caption, or 20 test captions on cub); returns ``out_dir``."""
    out_dir = Path(out_dir)
    require_new_or_empty(out_dir)
    dev = resolve_device(device)
    state, path = load_generator_state(Path(run_dir), step, map_location=dev)
    G, run = build_stackgan_generator(state, path, dev), state["run"]
    if captions is None:
        captions = (len(canonical_captions()) if run["dataset"] == "fashion-mnist-captions"
                    else defaults.STACKGAN_CAPTIONS)
    names, records, embeddings = conditions(run, captions)
    names = list(path_components(names, run.get("data_root") or run["dataset"], "caption name"))
    images = {}
    with atomic_dir(out_dir) as tmp:
        for i in progress(range(captions), desc="sample", quiet=quiet, unit="caption"):
            images[names[i]] = caption_images(G, embeddings[i], i, per_caption, seed,
                                              int(run["z_dim"]), dev)
            for k, img in enumerate(images[names[i]]):
                write_png(tmp / SAMPLES / names[i] / f"{k:03d}.png", img)
        manifest = {"version": __version__, "run": str(run_dir), "dataset": run["dataset"],
                    "task": run.get("task"), "captions": captions, "per_caption": per_caption,
                    "seed": seed, "step": step, "names": names}
        if run["dataset"] == "fashion-mnist-captions":
            manifest["hues"] = _hue_metrics(records, images)
        (tmp / "captions.json").write_text(json.dumps(dict(zip(names, records)), indent=2) + "\n")
        (tmp / "sample.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir
