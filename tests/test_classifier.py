"""The bundled Fashion-MNIST classifier: the shipped file (size, hash, accuracy on held-out test
items), the classify API, and the training script that writes it (deterministic)."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from msgan_eval.datasets import DEBIAN_FASHION_MNIST, balanced_subset, load_fashion_mnist
from msgan_eval.errors import ParameterError, WeightsUnavailable
from msgan_eval.features import classifier as C

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_classifier.py"
SHIPPED = C.DATA_DIR / C.BUNDLED["fashion-mnist"].filename
needs_data = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.exists(),
                                reason="apt-get install dataset-fashion-mnist")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_shipped_file_is_small_hash_checked_and_plain_tensors():
    assert SHIPPED.stat().st_size < 1_000_000
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == C.BUNDLED["fashion-mnist"].sha256
    blob = torch.load(SHIPPED, weights_only=True)
    assert blob["format"] == C.FILE_FORMAT and blob["dataset"] == "fashion-mnist"
    assert blob["test_items"] == 10000 and blob["test_accuracy"] >= 0.90
    assert all(v.dtype == torch.float32 for v in blob["state_dict"].values())


def test_shipped_file_was_trained_by_the_scripts_default_command():
    """The file records its training settings; they are the script's defaults on the full split."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_classifier", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    parser = script.build_parser()
    training = torch.load(SHIPPED, weights_only=True)["training"]
    assert training["train_items"] == 60000 and training["script"] == "scripts/train_classifier.py"
    for key in ("epochs", "seed", "batch_size", "lr"):
        assert training[key] == parser.get_default(key), key


@needs_data
@pytest.mark.numerics
def test_shipped_classifier_accuracy_on_held_out_items():
    clf = C.load_classifier("fashion-mnist")
    images, labels = load_fashion_mnist("test")
    idx = balanced_subset(labels, 50, seed=7)                     # 500 items, 50 per class
    pred, probs = clf.classify(images[idx])
    accuracy = float((pred == labels[idx]).mean())
    # Stated: >= 90% on all 10,000; 500 items have a standard error of ~1.3 points.
    assert accuracy >= 0.86, accuracy
    assert abs(accuracy - clf.info["test_accuracy"]) < 0.05
    assert probs.shape == (500, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert clf.info["status"] == "verified" and clf.classes[0] == "t-shirt"


@needs_data
def test_classify_takes_uint8_nhw_nhwc_and_float_alike():
    clf = C.load_classifier()
    images, _ = load_fashion_mnist("test")
    items = images[:40]
    a, pa = clf.classify(items)
    b, pb = clf.classify(items[..., None])
    c, pc = clf.classify(items.astype(np.float32) / 255)
    d, _ = clf.classify(torch.from_numpy(items.copy()))
    assert (a == b).all() and (a == c).all() and (a == d).all()
    np.testing.assert_allclose(pa, pc, rtol=0, atol=1e-6)


@pytest.mark.parametrize("bad,needle", [
    (np.zeros((2, 28, 28, 3), np.uint8), "grayscale"),
    (np.zeros((2, 32, 32), np.uint8), "(2, 32, 32)"),
    (np.full((2, 28, 28), 2.0, np.float32), "[0, 1]"),
    (np.zeros((2, 28, 28), np.int32), "int32"),
])
def test_classify_refuses_what_it_cannot_read(bad, needle):
    with pytest.raises(ParameterError) as err:
        C.items_to_tensor(bad)
    assert needle in str(err.value)


def test_tampered_or_missing_bundled_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "DATA_DIR", tmp_path)
    with pytest.raises(WeightsUnavailable, match="missing"):
        C.load_classifier()
    data = bytearray(SHIPPED.read_bytes())
    data[-100] ^= 1
    (tmp_path / SHIPPED.name).write_bytes(bytes(data))
    with pytest.raises(WeightsUnavailable, match="SHA-256"):
        C.load_classifier()


def test_a_file_of_another_kind_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(WeightsUnavailable, match="not a msgan-eval classifier"):
        C.load_classifier(tmp_path / "other.pt")
    with pytest.raises(WeightsUnavailable, match="neither a bundled name"):
        C.load_classifier(tmp_path / "absent.pt")


def _train(out: Path, *more: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--epochs", "1",
                           "--train-limit", "3000", *more], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_data
def test_training_script_is_deterministic_and_writes_a_loadable_file(tmp_path):
    out1 = _train(tmp_path / "a.pt")
    _train(tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert "fashion-mnist: test accuracy" in out1
    clf = C.load_classifier(tmp_path / "a.pt")
    assert clf.info["status"] == "unverified" and clf.info["dataset"] == "fashion-mnist"
    stated = float(out1.split("test accuracy ")[1].split()[0])
    assert stated > 0.45                                # 3000 items, one epoch: well above chance
    assert clf.info["test_accuracy"] == round(stated, 4)


def test_training_script_reads_mnist_from_data_root(tmp_path):
    """--dataset mnist --data-root DIR: idx files of MNIST's names (here a tiny fake set)."""
    root = tmp_path / "mnist"
    root.mkdir()
    rng = np.random.default_rng(0)
    for stem, n in (("train", 300), ("t10k", 100)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 10:18, 2 * c:2 * c + 6] = 255          # a bar whose place gives the class
        _write_idx(root / f"{stem}-images-idx3-ubyte", images)
        _write_idx(root / f"{stem}-labels-idx1-ubyte", labels)
    out = _train(tmp_path / "m.pt", "--dataset", "mnist", "--data-root", str(root))
    assert out.startswith("mnist: test accuracy")
    clf = C.load_classifier(tmp_path / "m.pt")
    assert clf.classes == tuple(str(i) for i in range(10)) and clf.info["dataset"] == "mnist"


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.tobytes())


@pytest.mark.skipif(os.environ.get("MSGAN_EVAL_SLOW") != "1",
                    reason="the full training (about 10 CPU minutes): set MSGAN_EVAL_SLOW=1")
@needs_data
def test_full_training_reproduces_the_shipped_accuracy(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "full.pt")], check=True,
                   env=env, timeout=7200)
    ours = torch.load(tmp_path / "full.pt", weights_only=True)["test_accuracy"]
    shipped = torch.load(SHIPPED, weights_only=True)["test_accuracy"]
    assert abs(ours - shipped) <= 0.003      # bit-identical on the same CPU; kernels may differ
    shutil.rmtree(tmp_path)
