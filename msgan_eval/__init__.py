"""msgan-eval: is a generative model diverse or collapsing?

Top-level names are imported lazily so ``msgan-eval --help`` does not pay for torch.
"""
__version__ = "0.1.0"

_EXPORTS = {
    "scan_images": "msgan_eval.images",
    "frechet_distance": "msgan_eval.metrics.fid",
    "lpips_diversity": "msgan_eval.diversity",
    "fit_bins": "msgan_eval.metrics.ndb",
    "evaluate_bins": "msgan_eval.metrics.ndb",
    "mode_seeking_loss": "msgan_eval.train.losses",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'msgan_eval' has no attribute {name!r}")
