"""Bundled trainers: the conditional DCGAN of the official MSGAN code and its mode-seeking twin,
and pix2pix with noise (image-to-image) and its mode-seeking twin.

Training code may import the evaluation package's image writer; evaluation never imports this.
Defaults live in ``msgan_eval.defaults`` (TRAIN_*, P2P_*); this module stays free of torch so
``--help`` stays fast.
"""
PAIRED_DATASETS = ("fashion-mnist-edges", "paired-folder")   # the image-to-image trainer's
TOY2D_DATASETS = ("ring", "grid")                            # PacGAN's 2D trainer (toy2d)
STACKED_DATASETS = ("stacked-fashion-mnist", "stacked-mnist")   # PacGAN Table 2's DCGAN
DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder") + PAIRED_DATASETS + TOY2D_DATASETS \
    + STACKED_DATASETS
IMAGE_TO_IMAGE = "image-to-image"   # config.json "task" of an image-to-image run
TOY2D = "toy2d"                     # config.json "task" of a 2D run
STACKED = "stacked"                 # config.json "task" of a stacked-digits run
