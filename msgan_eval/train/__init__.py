"""Bundled trainers: the conditional DCGAN of the official MSGAN code and its mode-seeking twin,
pix2pix with noise (image-to-image), DRIT (unpaired image-to-image) and their mode-seeking twins.

Training code may import the evaluation package's image writer; evaluation never imports this.
Defaults live in ``msgan_eval.defaults`` (TRAIN_*, P2P_*, DRIT_*); this module stays free of torch so
``--help`` stays fast.
"""
PAIRED_DATASETS = ("fashion-mnist-edges", "paired-folder")   # the image-to-image trainer's
UNPAIRED_DATASETS = ("fashion-mnist-tints", "unpaired-folder")   # DRIT's (--model drit)
CAPTION_DATASETS = ("fashion-mnist-captions", "cub")            # StackGAN's (--model stackgan)
TOY2D_DATASETS = ("ring", "grid")                            # PacGAN's 2D trainer (toy2d)
STACKED_DATASETS = ("stacked-fashion-mnist", "stacked-mnist")   # PacGAN Table 2's DCGAN
DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder") + PAIRED_DATASETS + UNPAIRED_DATASETS \
    + CAPTION_DATASETS + TOY2D_DATASETS + STACKED_DATASETS
IMAGE_TO_IMAGE = "image-to-image"   # config.json "task" of an image-to-image run
UNPAIRED = "unpaired"               # config.json "task" of an unpaired (DRIT) run
TEXT_TO_IMAGE = "text-to-image"     # config.json "task" of a text-to-image (StackGAN) run
TOY2D = "toy2d"                     # config.json "task" of a 2D run
STACKED = "stacked"                 # config.json "task" of a stacked-digits run
MODELS = ("drit", "stackgan")       # train --model: the models a dataset does not imply
MODEL_DATA = {"drit": (UNPAIRED, UNPAIRED_DATASETS), "stackgan": (TEXT_TO_IMAGE, CAPTION_DATASETS)}


def check_model(model, dataset: str, resumed_task=None) -> None:
    """``--model`` against ``--dataset`` (or the resumed run's task): drit trains on unpaired
    data only, stackgan on captioned data only. UserError naming the option otherwise."""
    from msgan_eval.errors import UserError

    if model not in MODEL_DATA:
        return
    task, datasets = MODEL_DATA[model]
    if resumed_task is not None and resumed_task != task:
        raise UserError(f"--model {model}: the run in --out is not a {model} run; resume it "
                        "without --model")
    if resumed_task is None and dataset not in datasets:
        raise UserError(f"--model {model}: trains on {task.replace('-', ' ')} data; use --dataset "
                        f"{' or '.join(datasets)}, not {dataset}")
