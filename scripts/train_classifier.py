"""Train the bundled classifier (msgan_eval/features/classifier.py) deterministically.

Fixed seed, one torch thread, the data order and dropout drawn from seeded generators; reads the
idx files through msgan_eval.datasets (Fashion-MNIST from Debian's dataset-fashion-mnist by default,
MNIST from --data-root), prints the test accuracy and writes the weights file (float32, < 1 MB).

    PYTHONPATH=. .venv/bin/python scripts/train_classifier.py \
        --out msgan_eval/data/classifier-fashion-mnist.pt           # the shipped file
    PYTHONPATH=. .venv/bin/python scripts/train_classifier.py --dataset mnist \
        --data-root ~/data/mnist --out mnist-classifier.pt           # a digit classifier
"""
import argparse
import hashlib
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from msgan_eval.datasets import FASHION_MNIST_CLASSES, load_idx_dataset  # noqa: E402
from msgan_eval.features.classifier import ARCH, FILE_FORMAT, SmallCNN, items_to_tensor  # noqa: E402
from msgan_eval.fileio import atomic_path  # noqa: E402

CLASSES = {"fashion-mnist": FASHION_MNIST_CLASSES, "mnist": tuple(str(i) for i in range(10))}
HIDDEN = 64


def train(images: np.ndarray, labels: np.ndarray, epochs: int, seed: int, batch_size: int,
          lr: float) -> SmallCNN:
    """Adam with the learning rate halved after each epoch past the first half; seeded order."""
    torch.manual_seed(seed)                 # initialisation and dropout
    net = SmallCNN(len(np.unique(labels)), HIDDEN)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    order_rng = torch.Generator().manual_seed(seed)
    x_all, y_all = items_to_tensor(images), torch.from_numpy(labels)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x_all), generator=order_rng)
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 ** max(0, epoch + 1 - epochs // 2)
        total = 0.0
        for i in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(net(x_all[idx]), y_all[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        print(f"epoch {epoch + 1}/{epochs}: mean loss {total / (len(order) // batch_size):.4f}",
              file=sys.stderr, flush=True)
    return net.eval()


@torch.no_grad()
def accuracy(net: SmallCNN, images: np.ndarray, labels: np.ndarray) -> float:
    x = items_to_tensor(images)
    pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)]).numpy()
    return float((pred == labels).mean())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(CLASSES), default="fashion-mnist")
    parser.add_argument("--data-root", default=None, help="folder of the idx files")
    parser.add_argument("--out", type=Path, required=True, help="weights file to write")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-limit", type=int, default=None,
                        help="train on the first N training items only (quick checks)")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    images, labels = load_idx_dataset(args.dataset, "train", args.data_root)
    if args.train_limit:
        images, labels = images[:args.train_limit], labels[:args.train_limit]
    net = train(images, labels, args.epochs, args.seed, args.batch_size, args.lr)
    test_images, test_labels = load_idx_dataset(args.dataset, "test", args.data_root)
    acc = accuracy(net, test_images, test_labels)
    blob = {"format": FILE_FORMAT, "arch": ARCH, "dataset": args.dataset, "hidden": HIDDEN,
            "classes": list(CLASSES[args.dataset]), "test_accuracy": round(acc, 4),
            "test_items": int(len(test_labels)),
            "training": {"epochs": args.epochs, "seed": args.seed, "batch_size": args.batch_size,
                         "lr": args.lr, "train_items": int(len(labels)),
                         "script": "scripts/train_classifier.py"},
            "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}}
    buffer = io.BytesIO()      # not a file name: torch would name the archive after it
    torch.save(blob, buffer)
    with atomic_path(args.out) as tmp:
        tmp.write_bytes(buffer.getvalue())
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{args.dataset}: test accuracy {acc:.4f} on {len(test_labels)} items; wrote {args.out} "
          f"({args.out.stat().st_size} bytes, sha256 {digest}) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
