"""msgan-eval: is a generative model diverse or collapsing?

The Python API (each function takes paths, ImageSets, uint8 arrays, tensors or mappings
condition -> those; each result's ``to_dict()`` is the matching command's ``--json`` object)::

    import msgan_eval
    msgan_eval.fid("real/", "fake/").fid
    msgan_eval.statistics("real/", out="real.npz")
    msgan_eval.lpips_diversity({"cat": cats, "dog": dogs}).lpips
    msgan_eval.ndb("fake/", train="train/").jsd
    msgan_eval.compare("dcgan/", "msgan/", "real/").verdicts
    msgan_eval.fid("real/", "fake/", per_class=True).per_class
    msgan_eval.vendi("fake/").per_condition
    msgan_eval.kid("real/", "fake/").kid
    msgan_eval.prdc("real/", "fake/", k=5).recall
    msgan_eval.modes("ring", "points.npy").modes
    t = msgan_eval.Tracker(ref="real/", metrics=["fid", "ndb"]); t.update(1000, G_sample)
    msgan_eval.inspect("fake/", ref="real/").degenerate
    msgan_eval.fid("real/", "fake/", features="dinov2-vit-l14").fid      # FD_DINOv2
    msgan_eval.cmmd("real/", "fake/").cmmd                               # CLIP ViT-L/14@336px

Top-level names are imported lazily so ``import msgan_eval`` and ``msgan-eval --help`` do not pay
for torch.
"""
__version__ = "0.1.0"

_EXPORTS = {
    # evaluation: inputs in, typed results out
    "fid": "msgan_eval.evaluate.fid",
    "statistics": "msgan_eval.evaluate.fid",
    "lpips_diversity": "msgan_eval.evaluate.lpips",
    "ndb": "msgan_eval.evaluate.ndb",
    "compare": "msgan_eval.evaluate.compare",
    "vendi": "msgan_eval.evaluate.vendi",
    "VendiResult": "msgan_eval.evaluate.vendi",
    "kid": "msgan_eval.evaluate.kid",
    "prdc": "msgan_eval.evaluate.prdc",
    "inspect": "msgan_eval.evaluate.inspect",
    "InspectResult": "msgan_eval.evaluate.inspect",
    "KidResult": "msgan_eval.evaluate.kid",
    "PrdcResult": "msgan_eval.evaluate.prdc",
    "modes": "msgan_eval.evaluate.modes",
    "ModesResult": "msgan_eval.evaluate.modes",
    "StackedModesResult": "msgan_eval.evaluate.modes_stacked",
    "cmmd": "msgan_eval.evaluate.cmmd",
    "CmmdResult": "msgan_eval.evaluate.cmmd",
    "FeatureSource": "msgan_eval.evaluate.features",
    "feature_source": "msgan_eval.evaluate.features",
    "FidResult": "msgan_eval.evaluate.fid",
    "FidStats": "msgan_eval.evaluate.fid",
    "LpipsResult": "msgan_eval.evaluate.lpips",
    "NdbResult": "msgan_eval.evaluate.ndb",
    "Report": "msgan_eval.evaluate.compare",
    "Tracker": "msgan_eval.evaluate.track",
    "as_image_set": "msgan_eval.evaluate.inputs",
    # lower layers
    "scan_images": "msgan_eval.images",
    "frechet_distance": "msgan_eval.metrics.fid",
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


def __dir__():
    return sorted(__all__)
