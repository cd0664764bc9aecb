"""Bundled trainers: the conditional DCGAN of the official MSGAN code and its mode-seeking twin.

Training code may import the evaluation package's image writer; evaluation never imports this.
Defaults live in ``msgan_eval.defaults`` (TRAIN_*); this module stays free of torch so
``--help`` stays fast.
"""
DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder")
