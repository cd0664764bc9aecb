"""Bundled trainers: the conditional DCGAN of the official MSGAN code and its mode-seeking twin,
and pix2pix with noise (image-to-image) and its mode-seeking twin.

Training code may import the evaluation package's image writer; evaluation never imports this.
Defaults live in ``msgan_eval.defaults`` (TRAIN_*, P2P_*); this module stays free of torch so
``--help`` stays fast.
"""
PAIRED_DATASETS = ("fashion-mnist-edges", "paired-folder")   # the image-to-image trainer's
UNPAIRED_DATASETS = ("fashion-mnist-tints", "unpaired-folder")   # DRIT's (--model drit)
DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder") + PAIRED_DATASETS + UNPAIRED_DATASETS
IMAGE_TO_IMAGE = "image-to-image"   # config.json "task" of an image-to-image run
UNPAIRED = "unpaired"               # config.json "task" of an unpaired (DRIT) run
