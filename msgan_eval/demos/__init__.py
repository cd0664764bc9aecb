"""The demos, one module per task (``msgan-eval demo --task ...``).

The categorical and image-to-image demos still live in ``msgan_eval/demo.py`` and
``demo_pairs.py``; their shared helpers (``torch_threads``...) are imported from there.
"""
