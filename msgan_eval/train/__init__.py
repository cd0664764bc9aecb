"""Bundled trainers: the conditional DCGAN of the official MSGAN code and its mode-seeking twin.

Training code may import the evaluation package's image writer; evaluation never imports this.
The constants below are the trainer-only defaults, kept free of torch so ``--help`` stays fast.
"""
DATASETS = ("fashion-mnist", "mnist", "cifar10", "folder")
WIDTH = 1.0               # channel multiplier: 1.0 = the official 512/256/128 channels
CHECKPOINT_EVERY = 1000   # steps between checkpoints (one is always written at the end)
