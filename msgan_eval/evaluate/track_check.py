"""``track``'s checks: the samples against the reference, and a stored curve against new settings."""
from __future__ import annotations

from typing import Optional

from msgan_eval.errors import ParameterError
from msgan_eval.images import ImageSet
from msgan_eval.report.compare import Reference


def _size_text(size) -> str:
    return f"{size[1]}x{size[0]}"


def check_sizes(images: ImageSet, ref: Reference) -> None:
    """Refuse a reference whose images are of another size than the samples: the metrics would
    compare resized images (FID) or fail later (NDB), so it is a wrong reference."""
    if ref.images is None or not len(images):
        return
    ref_sizes = set(ref.images.sizes)
    other = next((s for s in images.sizes if s not in ref_sizes), None)
    if other is not None:
        want = ", ".join(_size_text(s) for s in sorted(ref_sizes)[:3])
        raise ParameterError(f"{{reference}} {ref.images.source}: its images are {want} but the "
                             f"samples are {_size_text(other)}; give reference images of the "
                             "samples' size", "reference")


def reference_fingerprint(ref: Reference) -> str:
    """Names and sizes of the reference's files (survives a copy), or the statistics file's hash."""
    if ref.images is not None:
        return ref.images.fingerprint(with_mtime=False)
    from msgan_eval.weights import file_sha256

    return file_sha256(ref.stats_path)


def settings_mismatch(stored: dict, wanted: dict) -> Optional[str]:
    """The first setting a stored curve was measured with that differs from ``wanted``, as text
    (``"seed = 1 (now 0)"``), or None when the curve can be continued."""
    if stored.get("reference_fingerprint") != wanted["reference_fingerprint"]:
        return (f"another reference ({stored.get('reference')}, now {wanted['reference']}; "
                "its files differ)")
    for group in ("parameters", "sampling"):
        old, new = stored.get(group) or {}, wanted[group]
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return f"{key.replace('_', '-')} = {old.get(key)!r} (now {new.get(key)!r})"
    return None
