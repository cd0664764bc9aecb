"""The per-channel digit classifier of ``modes stacked``: the bundled Fashion-MNIST classifier
(``msgan_eval.features.classifier``, the one the image-to-image work uses), or a file written by
``scripts/train_classifier.py`` (e.g. ``--dataset mnist --data-root DIR`` for the papers' MNIST)."""
from __future__ import annotations

import os
from typing import Callable, Tuple

import numpy as np

from msgan_eval.errors import ParameterError, WeightsUnavailable

DEFAULT_CLASSIFIER = "fashion-mnist"


def load_labeller(classifier: "str | os.PathLike[str] | None", device: str = "auto",
                  batch_size: int = 500) -> Tuple[Callable[[np.ndarray], np.ndarray], dict]:
    """(labeller: (M, 28, 28) uint8 -> (M,) labels, info with the per-channel ``test_error``)."""
    from msgan_eval.device import resolve_device
    from msgan_eval.features.classifier import load_classifier

    try:
        clf = load_classifier(classifier or DEFAULT_CLASSIFIER, device=resolve_device(device))
    except WeightsUnavailable as exc:
        if classifier is None:
            raise
        # Name the option the user gave (the CLI renders {classifier} as --classifier), keeping
        # the missing-weights exit code 3.
        err = ParameterError("{classifier} " + str(exc).removeprefix("classifier "), "classifier")
        err.exit_code = exc.exit_code
        raise err from None
    accuracy = clf.info.get("test_accuracy")
    info = {**clf.info, "test_error": None if accuracy is None else 1.0 - float(accuracy)}

    def labeller(items: np.ndarray) -> np.ndarray:
        return clf.classify(items, batch_size=batch_size)[0]
    return labeller, info
