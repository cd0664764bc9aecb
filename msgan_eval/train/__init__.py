"""Bundled trainers: the conditional DCGAN of the official MSGAN code and its mode-seeking twin,
pix2pix with noise (image-to-image), DRIT (unpaired image-to-image) and their mode-seeking twins.

Training code may import the evaluation package's image writer; evaluation never imports this.
Defaults live in ``msgan_eval.defaults`` (TRAIN_*, P2P_*, DRIT_*); this module stays free of torch so
``--help`` stays fast.
"""
PAIRED_DATASETS = ("fashion-mnist-edges", "paired-folder")   # the image-to-image trainer's
UNPAIRED_DATASETS = ("fashion-mnist-tints", "unpaired-folder")   # DRIT's (--model drit)
DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder") + PAIRED_DATASETS + UNPAIRED_DATASETS
IMAGE_TO_IMAGE = "image-to-image"   # config.json "task" of an image-to-image run
UNPAIRED = "unpaired"               # config.json "task" of an unpaired (DRIT) run
MODELS = ("drit",)                  # train --model: the models a dataset does not imply


def check_model(model, dataset: str, resumed_task=None) -> None:
    """``--model`` against ``--dataset`` (or the resumed run's task): drit trains on unpaired data
    only. UserError naming the option otherwise."""
    from msgan_eval.errors import UserError

    if model != "drit":
        return
    if resumed_task is not None and resumed_task != UNPAIRED:
        raise UserError("--model drit: the run in --out is not a DRIT run; resume it without "
                        "--model")
    if resumed_task is None and dataset not in UNPAIRED_DATASETS:
        raise UserError(f"--model drit: trains on unpaired data; use --dataset "
                        f"{' or '.join(UNPAIRED_DATASETS)}, not {dataset}")
