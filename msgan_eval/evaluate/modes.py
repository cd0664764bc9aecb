"""Mode counting of a sample set: samples in, a typed result out (``msgan-eval modes``).

- ``ring`` / ``grid``: an (N, 2) set of points (``.npy``, ``.csv``, an array or tensor) against the
  8-Gaussian ring or the 25-Gaussian grid of PacGAN's Table 1 (:mod:`msgan_eval.metrics.modes`);
- ``stacked``: stacked-digit images (a folder of RGB images or an (N, H, W, 3) uint8 ``.npy``), each
  channel labelled by the bundled classifier (:mod:`msgan_eval.evaluate.modes_stacked`).

A sample size other than the protocol's (2500 points, 26,000 stacked items) is allowed and noted
in ``warnings``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np

from msgan_eval import __version__
from msgan_eval.errors import ParameterError, ParameterTypeError
from msgan_eval.metrics import modes as M

SamplesLike = "str | os.PathLike[str] | np.ndarray"


@dataclass
class ModesResult:
    """``msgan-eval modes ring|grid --json``'s fields; ``to_dict()`` is that object."""

    layout: str
    modes: int
    modes_total: int
    high_quality: float
    reverse_kl: Optional[float]         # None when no sample is high quality
    counts: List[int]                   # high-quality samples per mode, PacGAN's mode order
    n: int
    sigma: float
    input: str
    protocol_n: int = M.PROTOCOL_SAMPLES_2D
    threshold: float = M.HQ_THRESHOLD
    warnings: List[str] = field(default_factory=list)
    version: str = __version__

    def to_dict(self) -> dict:
        return {"layout": self.layout, "modes": self.modes, "modes_total": self.modes_total,
                "high_quality": self.high_quality, "reverse_kl": self.reverse_kl,
                "counts": list(self.counts), "n": self.n, "sigma": self.sigma,
                "threshold": self.threshold, "protocol_n": self.protocol_n, "input": self.input,
                "warnings": list(self.warnings), "version": self.version}


def describe_samples(samples) -> str:
    if isinstance(samples, (str, os.PathLike)):
        return os.fspath(samples)
    return f"<{type(samples).__name__} {tuple(getattr(samples, 'shape', ()))}>"


def _read_csv(path: Path) -> np.ndarray:
    """Numbers separated by commas, one point a line; one header line of names is skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    rows = [line for line in text if line.strip()]
    if rows and not _is_number(rows[0].split(",")[0]):
        rows = rows[1:]                                           # a header such as "x,y"
    out = []
    for i, line in enumerate(rows):
        cells = [c.strip() for c in line.split(",")]
        if not all(_is_number(c) for c in cells):
            raise ParameterError(f"{path}: row {i + 1} ({line[:40]!r}) is not a list of numbers; "
                                 "write one point per line as x,y")
        out.append([float(c) for c in cells])
    if len({len(r) for r in out}) > 1:
        raise ParameterError(f"{path}: rows have different numbers of columns; write one point per "
                             "line as x,y")
    return np.array(out, dtype=np.float64).reshape(len(out), -1 if out else 2)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ParameterError(f"{path}: cannot read it as a .npy array ({type(exc).__name__}); "
                             "write it with numpy.save") from None
    if not isinstance(arr, np.ndarray):
        raise ParameterError(f"{path}: holds several arrays; save the (N, 2) points with numpy.save")
    return arr


def read_points(samples, param: str = "samples") -> np.ndarray:
    """(N, 2) float64 points from a ``.npy``/``.csv`` path, an array or a tensor; refuses
    other shapes, non-numbers, NaN/inf and empty sets with a message naming the file."""
    where = describe_samples(samples)
    if isinstance(samples, (str, os.PathLike)):
        path = Path(samples)
        if path.is_dir():               # it said "no such file" of a folder (#23 audit)
            raise ParameterError(f"{path}: a folder, not a file; give an (N, 2) .npy or .csv of "
                                 "points (a folder of images is for the stacked layout)")
        if not path.is_file():
            raise ParameterError(f"{path}: no such file; give an (N, 2) .npy or .csv of points")
        if path.suffix.lower() == ".csv":
            arr = _read_csv(path)
        elif path.suffix.lower() == ".npy":
            arr = _read_npy(path)
        else:
            raise ParameterError(f"{path}: not a .npy or .csv file; save the (N, 2) points with "
                                 "numpy.save or as comma-separated x,y lines")
    elif hasattr(samples, "detach"):
        arr = samples.detach().cpu().numpy()
    elif isinstance(samples, np.ndarray):
        arr = samples
    else:
        raise ParameterTypeError(f"{{{param}}} must be a path, numpy array or tensor of (N, 2) "
                                 f"points, not {type(samples).__name__}", param)
    return _checked_points(arr, where)


def _checked_points(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype.kind not in "fiu":
        raise ParameterError(f"{where}: holds {arr.dtype} values; the points must be numbers")
    if arr.size == 0:
        raise ParameterError(f"{where}: holds no points; it needs an (N, 2) array with N >= 1")
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ParameterError(f"{where}: has shape {arr.shape}; ring and grid need (N, 2) points "
                             "(x, y per row)")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ParameterError(f"{where}: {int(bad.sum())} point(s) are NaN or infinite (first at row "
                             f"{int(np.flatnonzero(bad)[0])}); remove them or fix the generator")
    return arr


def size_note(n: int, protocol_n: int, what: str, source: str) -> List[str]:
    if n == protocol_n:
        return []
    return [f"{n} {what}, not the protocol's {protocol_n} ({source}): the numbers are not "
            "comparable with the published tables as they stand"]


def modes_2d(layout: str, samples, *, param: str = "samples") -> ModesResult:
    """Modes covered, high-quality fraction and reverse KL of 2D samples on ``ring`` or ``grid``."""
    mix = M.mixture(layout)
    points = read_points(samples, param)
    where = describe_samples(samples)
    if len(points) < mix.modes_total:
        raise ParameterError(f"{where}: {len(points)} point(s), fewer than the {mix.modes_total} "
                             f"modes of the {layout}; give at least {mix.modes_total} (the "
                             f"protocol draws {M.PROTOCOL_SAMPLES_2D})")
    cov = M.coverage_2d(points, mix)
    return ModesResult(layout=layout, modes=cov.modes, modes_total=cov.modes_total,
                       high_quality=cov.high_quality, reverse_kl=cov.reverse_kl,
                       counts=cov.counts, n=cov.n, sigma=mix.sigma, input=where,
                       warnings=size_note(cov.n, M.PROTOCOL_SAMPLES_2D, "points",
                                          "PacGAN Table 1 draws 2500"))


def modes(layout: str, samples, *, classifier: "str | os.PathLike[str] | None" = None,
          device: str = "auto", batch_size: int = 500, quiet: bool = True):
    """Count the modes a generator's samples cover, as PacGAN's code does.

    Args:
        layout: ``ring`` (8 Gaussians, sigma 0.01), ``grid`` (25, sigma 0.05) or ``stacked``
            (stacked digits, 1000 label triples).
        samples: ring/grid: (N, 2) points as a ``.npy``/``.csv`` path, array or tensor;
            stacked: a folder of RGB images or an (N, H, W, 3) uint8 ``.npy`` / array.
        classifier: stacked only: the per-channel classifier's weights (default: the bundled
            Fashion-MNIST classifier); device, batch_size: where and how it runs.

    Returns:
        ModesResult (``.modes``, ``.high_quality``, ``.reverse_kl``, ``.counts``) or, for
        ``stacked``, StackedModesResult (``.modes``, ``.kl``, ``.n``); ``to_dict()`` is
        ``msgan-eval modes --json``.

    Example:
        >>> import numpy as np, msgan_eval
        >>> msgan_eval.modes("ring", np.array([[1.0, 0.0]] * 8)).modes
        1
    """
    if layout not in M.LAYOUTS:
        raise ParameterError(f"{{layout}} {layout!r}: use one of {', '.join(M.LAYOUTS)}", "layout")
    if layout != "stacked" and classifier is not None:    # ignored before (#23 item 9's class)
        raise ParameterError(f"{{classifier}} is for the stacked layout; {layout} points are "
                             "counted without one: drop {classifier}", "classifier")
    if layout == "stacked":
        from .modes_stacked import stacked_modes

        return stacked_modes(samples, classifier=classifier, device=device,
                             batch_size=batch_size, quiet=quiet)
    return modes_2d(layout, samples)
