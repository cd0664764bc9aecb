"""The image-to-image demo's judges of each arm's samples: do they keep the input's item, and are
they images at all?

- class agreement: the bundled Fashion-MNIST classifier (``features/classifier.py``) labels each
  sample's 28x28 centre (the trainer pads items by 2 pixels); a sample agrees when the label is
  its input's class (``sample.json`` records each input's class);
- degenerate fraction: ``msgan-eval inspect``'s blank / saturated / noise flags, calibrated on the
  demo's reference (held-out real items).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from . import defaults

PAD = 2          # train/data.py to_training_layout: 28x28 items padded by 2 black pixels


def read_arm_samples(sample_dir: Path):
    """(uint8 (N, 32, 32) grey samples, (N,) their inputs' classes, (N,) input names)."""
    from .images import scan_images

    manifest = json.loads((sample_dir / "sample.json").read_text(encoding="utf-8"))
    label_of = dict(zip(manifest["names"], manifest["classes"]))
    images = scan_images(sample_dir / "samples")
    grey = np.stack([images[i][..., 0] for i in range(len(images))])
    names = [r.condition for r in images.refs]
    return grey, np.asarray([label_of[n] for n in names]), names


def class_agreement(grey: np.ndarray, labels: np.ndarray, classifier) -> np.ndarray:
    """(N,) bool: the classifier names the input's class for each sample."""
    pred, _ = classifier.classify(grey[:, PAD:grey.shape[1] - PAD, PAD:grey.shape[2] - PAD])
    return pred == labels


def degenerate_mask(sample_dir: Path, reference: Path, device: str,
                    inception_weights=None) -> Optional[np.ndarray]:
    """(N,) bool of inspect's blank / saturated / noise flags, in ``scan_images`` order; None when
    the reference is too small to calibrate them (as ``compare`` skips its degenerate fraction)."""
    from .evaluate.inspect import inspect
    from .images import scan_images

    if len(scan_images(reference)) < defaults.INSPECT_MIN_REFERENCE:
        return None
    # compare's Inception file: inspect's realism features are then the memoised ones FID read
    return inspect(sample_dir / "samples", reference, device=device,
                   inception_weights=inception_weights).degenerate


def judge_arm(sample_dirs: List[Path], reference: Path, classifier, device: str,
              inception_weights=None) -> Dict:
    """Class agreement and degenerate fraction of one arm, pooled over its seeds and per seed."""
    agree, degenerate, per_seed = [], [], []
    for folder in sample_dirs:
        grey, labels, _ = read_arm_samples(folder)
        a = class_agreement(grey, labels, classifier)
        d = degenerate_mask(folder, reference, device, inception_weights)
        agree.append(a)
        degenerate.append(d)
        per_seed.append({"class_agreement": float(a.mean()), "n": int(len(a)),
                         "degenerate_fraction": None if d is None else float(d.mean())})
    a = np.concatenate(agree)
    if any(d is None for d in degenerate):
        return {"class_agreement": float(a.mean()), "degenerate_fraction": None,
                "class_agreement_of_sound": None, "n": int(len(a)), "per_seed": per_seed}
    d = np.concatenate(degenerate)
    return {"class_agreement": float(a.mean()), "degenerate_fraction": float(d.mean()),
            "class_agreement_of_sound": float(a[~d].mean()) if (~d).any() else None,
            "n": int(len(a)), "per_seed": per_seed}


def judge_arms(samples: Dict[str, List[Path]], reference: Path, device: str,
               inception_weights=None) -> Dict:
    """{"classifier": its name and stated accuracy, arm: judge_arm(...)} for the report."""
    from .features.classifier import load_classifier

    classifier = load_classifier("fashion-mnist")
    out: Dict = {"classifier": {k: classifier.info[k] for k in ("name", "test_accuracy", "sha256")},
                 "degenerate": "msgan-eval inspect: blank, saturated or noise"}
    for arm, folders in samples.items():
        out[arm] = judge_arm(folders, reference, classifier, device, inception_weights)
    return out


def judges_note(judges: Dict, labels: Dict[str, str]) -> str:
    """One line for the report's notes: each arm's class agreement and degenerate fraction."""
    acc = judges["classifier"]["test_accuracy"]
    parts = [f"{labels[arm]}: {100 * j['class_agreement']:.1f}% of samples keep the input's item, "
             + (f"degenerate fraction not computed (fewer than {defaults.INSPECT_MIN_REFERENCE} "
                "reference images)"
                if j["degenerate_fraction"] is None else
                f"{100 * j['degenerate_fraction']:.1f}% blank/saturated/noise")
             for arm, j in judges.items() if arm in labels]
    return (f"judges of {judges[next(iter(labels))]['n']} samples per arm (bundled Fashion-MNIST "
            f"classifier, {100 * acc:.1f}% test accuracy; msgan-eval inspect's pixel flags): "
            + "; ".join(parts))
