"""Where files live on the user's machine: our cache and torch's hub cache."""
import os
from pathlib import Path


def cache_dir() -> Path:
    """Our own cache (converted weights, reference statistics).

    ``$MSGAN_EVAL_CACHE`` wins, then ``$XDG_CACHE_HOME/msgan-eval``, then ``~/.cache/msgan-eval``.
    """
    explicit = os.environ.get("MSGAN_EVAL_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "msgan-eval"


def hub_checkpoints_dir() -> Path:
    """torch hub's checkpoint folder, shared with pytorch-fid and torchvision.

    Mirrors ``torch.hub.get_dir()`` (``$TORCH_HOME/hub``, default ``~/.cache/torch/hub``) without
    importing torch, so ``msgan-eval weights`` stays fast.
    """
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        xdg = os.environ.get("XDG_CACHE_HOME")
        torch_home = os.path.join(xdg if xdg else os.path.expanduser("~/.cache"), "torch")
    return Path(torch_home) / "hub" / "checkpoints"
