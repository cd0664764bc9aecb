"""Optional matplotlib figures (matplotlib is an optional extra; a clear message if missing)."""
from __future__ import annotations

import os

import numpy as np

from .errors import UserError
from .fileio import atomic_path


def require_matplotlib() -> None:
    """Fail before any long work when --plot is asked for but matplotlib is missing."""
    _pyplot()


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UserError("--plot needs matplotlib, which is not installed; "
                        "`pip install matplotlib` or leave out --plot") from None
    matplotlib.use("Agg")       # files only, never a window
    from matplotlib import pyplot as plt

    return plt


def plot_ndb_bins(path: "str | os.PathLike[str]", result, title: str = "") -> None:
    """Training vs generated proportion per bin, different bins marked; written atomically.

    Like the reference's ``plot_results``: the grey band is the training proportion +- one
    standard error of the pooled two-proportion test at the generated sample size.
    """
    plt = _pyplot()
    train = np.array([b.train_proportion for b in result.per_bin])
    gen = np.array([b.generated_proportion for b in result.per_bin])
    diff = np.array([b.different for b in result.per_bin])
    n1, n2 = result.n_train, result.n_samples
    se = np.sqrt(train * (1 - train) * (1 / n1 + 1 / n2))
    x = np.arange(result.k)
    fig, ax = plt.subplots(figsize=(max(6.0, result.k * 0.12), 3.5))
    ax.bar(x, 2 * se, bottom=train - se, width=1.0, color="lightgray", label="train ± SE")
    ax.plot(x, train, "-", color="gray", lw=1, label="train")
    ax.plot(x, gen, "o", ms=3, color="tab:blue", label="generated")
    ax.plot(x[diff], gen[diff], "o", ms=6, mfc="none", color="tab:red", label="different bin")
    ax.set_xlabel("bin (largest training bin first)")
    ax.set_ylabel("proportion")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    suffix = os.path.splitext(os.fspath(path))[1] or ".png"
    with atomic_path(path, suffix=suffix) as tmp:
        fig.savefig(tmp, dpi=120, format=suffix.lstrip(".") or "png")
    plt.close(fig)


def metric_curve_png(steps, values, lows, highs, best_step: "int | None", label: str,
                     higher_is_better: bool) -> bytes:
    """One metric over training steps: the line, its bootstrap interval as a band, the best step
    marked; PNG bytes (``track.html`` embeds them)."""
    import io

    plt = _pyplot()
    x = np.asarray(steps, dtype=float)
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    ax.fill_between(x, np.asarray(lows, dtype=float), np.asarray(highs, dtype=float),
                    color="tab:blue", alpha=0.2, lw=0, label="95% interval")
    ax.plot(x, np.asarray(values, dtype=float), "o-", ms=3, color="tab:blue", label=label)
    if best_step is not None:
        at = list(steps).index(best_step)
        ax.plot([x[at]], [values[at]], "*", ms=14, color="tab:red",
                label=f"best (step {best_step})")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))      # steps are integers
    ax.set_xlabel("training step")
    ax.set_ylabel(f"{label} ({'higher' if higher_is_better else 'lower'} is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format="png")
    plt.close(fig)
    return buf.getvalue()
