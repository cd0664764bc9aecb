"""Reading DINOv2 and CLIP weight files without running any code they carry.

Two layouts are read:

- a plain state dict saved with ``torch.save`` (the DINOv2 hub checkpoints, a CLIP
  ``model.state_dict()``): ``torch.load(weights_only=True)``, which admits tensors and containers only;
- a TorchScript archive (OpenAI's released ``ViT-B-32.pt`` ...; ``clip.load`` opens them with
  ``torch.jit.load``, which runs the archive's code): here the zip is opened by hand and its
  ``data.pkl`` unpickled by :class:`ScriptArchiveUnpickler`, which admits the tensor
  reconstruction, storage types, ``OrderedDict`` and the archive's own ``__torch__.*`` classes as
  inert attribute holders, and refuses every other global before anything runs. The module tree
  is then walked into ``module.attr.weight``-style keys, the names ``model.state_dict()`` gives.

Every tensor comes back as float32 (OpenAI's release stores most of them in float16; ``clip.load``
calls ``model.float()`` on a CPU).
"""
from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Dict, Optional

import torch

from msgan_eval.errors import first_line

from .state_dict import read_state_dict

_STORAGE_DTYPES = {"FloatStorage": torch.float32, "HalfStorage": torch.float16,
                   "DoubleStorage": torch.float64, "BFloat16Storage": torch.bfloat16,
                   "LongStorage": torch.int64, "IntStorage": torch.int32,
                   "ShortStorage": torch.int16, "CharStorage": torch.int8,
                   "ByteStorage": torch.uint8, "BoolStorage": torch.bool}
# torch.jit._pickle's helpers that wrap typed lists/dicts: the value itself is all we need.
_IDENTITY_HELPERS = {"restore_type_tag", "build_intlist", "build_tensorlist", "build_doublelist",
                     "build_boollist", "build_tensor_from_id"}


class ScriptObject:
    """An inert stand-in for an archive class (``__torch__.clip.model.CLIP`` ...): it only keeps
    the attributes the pickle gives it."""

    def __init__(self, *args):
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {}


def _script_class(module: str, name: str) -> type:
    return type(name, (ScriptObject,), {"__module__": module})


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return storage.as_strided(tuple(size), tuple(stride), offset)


class ScriptArchiveUnpickler(pickle.Unpickler):
    """Unpickles a TorchScript ``data.pkl``: tensors read from the archive's ``data/`` records."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if module.startswith("__torch__.") or module == "__torch__":
            return _script_class(module, name)
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch.jit._pickle" and name in _IDENTITY_HELPERS:
            return lambda value, *unused: value
        raise pickle.UnpicklingError(f"refused to load {module}.{name} (only tensors and the "
                                     "archive's module attributes are read)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], torch.dtype)):
            raise pickle.UnpicklingError(f"refused persistent id {str(pid)[:60]}")
        dtype, key, numel = pid[1], str(pid[2]), int(pid[4])
        raw = self.archive.read(f"{self.prefix}data/{key}")
        flat = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        if flat.numel() < numel:
            raise pickle.UnpicklingError(f"record data/{key} holds {flat.numel()} values, "
                                         f"its header says {numel}")
        return flat


def _flatten(obj: ScriptObject, prefix: str, out: Dict[str, torch.Tensor], depth: int = 0) -> None:
    if depth > 64:
        raise ValueError("module tree nested more than 64 levels deep")
    for attr, value in obj.state.items():
        if not isinstance(attr, str) or attr.startswith("_"):
            continue
        if isinstance(value, torch.Tensor):
            out[prefix + attr] = value
        elif isinstance(value, ScriptObject):
            _flatten(value, f"{prefix}{attr}.", out, depth + 1)


def script_archive_prefix(path: Path) -> Optional[str]:
    """The record prefix (``ViT-B-32/``) when ``path`` is a TorchScript archive, else None."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    for name in names:
        if name.endswith("/constants.pkl") or name.endswith("/code/__torch__.py") or "/code/" in name:
            return name.split("/", 1)[0] + "/"
    return None


def read_script_archive(path: Path, prefix: str) -> Dict[str, torch.Tensor]:
    """The named tensors of a TorchScript archive's module tree (nothing in it executed)."""
    try:
        with zipfile.ZipFile(path) as zf:
            root = ScriptArchiveUnpickler(zf.read(f"{prefix}data.pkl"), zf, prefix).load()
    except (pickle.UnpicklingError, zipfile.BadZipFile, KeyError, EOFError, ValueError,
            TypeError, RuntimeError) as exc:
        raise ValueError(f"not a readable TorchScript archive: {first_line(exc)}") from None
    if not isinstance(root, ScriptObject):
        raise ValueError(f"its data.pkl holds a {type(root).__name__}, not a module")
    out: Dict[str, torch.Tensor] = {}
    _flatten(root, "", out)
    return out


def read_weights(path: Path) -> Dict[str, torch.Tensor]:
    """The float32 tensors of a state dict file or a TorchScript archive; ValueError saying why not."""
    prefix = script_archive_prefix(path)
    state = read_script_archive(path, prefix) if prefix else read_state_dict(path)
    out = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        out[str(key)] = value.float() if value.is_floating_point() else value
    return out


_LAST_READ: Dict[tuple, Dict[str, torch.Tensor]] = {}


def read_weights_once(path: Path) -> Dict[str, torch.Tensor]:
    """:func:`read_weights`, remembered for the last file (validation then loading read it once)."""
    from msgan_eval.fileio import file_identity

    key = file_identity(path)
    if key not in _LAST_READ:
        _LAST_READ.clear()
        _LAST_READ[key] = read_weights(path)
    return _LAST_READ[key]


def check_network_weights(net, path: Path) -> None:
    """ValueError unless ``path`` holds every key of ``net`` with its shape (CLIP: no stray
    ``visual.*`` key either), naming the architecture the file does hold when it is another."""
    from .networks import describe_state, identify_architecture, key_problems

    state = read_weights_once(path)
    problems = key_problems(net, state)
    if not problems:
        bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()
               and (net.family == "dinov2" or k.startswith("visual."))]
        if bad:
            raise ValueError(f"{bad[0]} holds NaN or infinity (a damaged file)")
        return
    other = identify_architecture(state)
    if other is not None and other is not net:
        raise ValueError(f"it is {describe_state(state)}, but --features {net.name} needs "
                         f"{net.arch} ({net.spec.filename})")
    raise ValueError(f"not {net.arch} weights in the official layout ({net.spec.filename}): "
                     + "; ".join(problems))


def resolve_network_weights(name: str, explicit=None):
    """The weight file of feature network ``name`` (explicit / env / hub cache / download), or
    WeightsUnavailable (exit 3) naming the file, its SHA-256 and where to get it."""
    from msgan_eval.weights import resolve_weights

    from .networks import NETWORKS

    net = NETWORKS[name]
    return resolve_weights(net.spec, explicit, validate=lambda p: check_network_weights(net, p))


def network_weights_status(name: str, explicit=None):
    """Where the file of ``name`` would come from now (``msgan-eval weights``), checked key by key."""
    from msgan_eval.weights import inspect_weights

    from .networks import NETWORKS

    net = NETWORKS[name]
    return inspect_weights(net.spec, explicit, validate=lambda p: check_network_weights(net, p))
