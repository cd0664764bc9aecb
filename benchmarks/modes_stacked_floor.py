"""What the stacked-digit count can show through a given classifier (issue 24's stacked goal).

1. The classifier's confusion matrix on the held-out test split (rows = true digit).
2. From it (``metrics.modes.labelled_triples`` / ``expected_modes``): the per-channel error, the
   expected modes and KL of a *perfect* uniform generator seen through this classifier (the
   classifier-error floor of the KL: ``KL(labelled || uniform)`` plus the sampling term
   ``(K - 1) / 2n``), and the spurious modes it credits to collapsed generators that emit 1, 10 or
   100 triples.
3. 26,000 real stacked items whose true triples are uniform over the 1000 (test images only),
   through ``msgan_eval.modes("stacked", ...)``: the goal is >= 990 modes and a KL near the floor.

    python benchmarks/modes_stacked_floor.py [--classifier fashion-mnist|FILE] [--dataset
        stacked-fashion-mnist|stacked-mnist --data-root DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np


def confusion(clf, images, labels) -> np.ndarray:
    pred = clf.classify(images)[0]
    conf = np.zeros((10, 10))
    np.add.at(conf, (labels, pred), 1)
    return conf / conf.sum(axis=1, keepdims=True)


def main() -> None:
    import torch

    from msgan_eval.datasets import load_idx_dataset
    from msgan_eval.evaluate.modes_classifier import DEFAULT_CLASSIFIER
    from msgan_eval.evaluate.modes_stacked import stacked_modes
    from msgan_eval.features.classifier import load_classifier
    from msgan_eval.metrics import modes as M
    from msgan_eval.train.stacked_data import uniform_triple_items

    p = argparse.ArgumentParser()
    p.add_argument("--classifier", default=DEFAULT_CLASSIFIER)
    p.add_argument("--dataset", default="stacked-fashion-mnist")
    p.add_argument("--data-root", default=None)
    p.add_argument("--n", type=int, default=M.PROTOCOL_SAMPLES_STACKED)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    images, labels = load_idx_dataset(args.dataset.replace("stacked-", ""), "test", args.data_root)
    clf = load_classifier(args.classifier)
    conf = confusion(clf, images, labels)
    error = 1 - float(np.mean(np.diag(conf)))
    uniform = np.full(1000, 1e-3)
    labelled = M.labelled_triples(uniform, conf)
    floor = float(np.sum(labelled * np.log(labelled * 1000))) + 999 / (2 * args.n)
    spurious = {}
    rng = np.random.default_rng(1)
    for k in (1, 10, 100):
        true = np.zeros(1000)
        true[rng.choice(1000, k, replace=False)] = 1.0 / k
        spurious[k] = M.expected_modes(M.labelled_triples(true, conf), args.n) - k
    items, _ = uniform_triple_items(images, labels, args.n, args.seed)
    result = stacked_modes(items, classifier=args.classifier)
    out = {"classifier": result.classifier, "per_channel_error": error,
           "expected_modes_uniform": M.expected_modes(labelled, args.n), "kl_floor": floor,
           "kl_floor_classifier_part": floor - 999 / (2 * args.n),
           "spurious_modes_of_collapsed": spurious,
           "real_uniform_items": {"modes": result.modes, "kl": result.kl, "n": result.n},
           "goal_modes_ge_990": result.modes >= 990,
           "kl_minus_floor": result.kl - floor, "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(out, indent=1, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x))


if __name__ == "__main__":
    main()
