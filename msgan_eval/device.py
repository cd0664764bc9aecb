"""Device choice, kept out of the metric maths."""
from .errors import UserError

_HINT = "use --device auto, cpu or cuda[:N]"


def resolve_device(name: str = "auto"):
    """A torch.device that exists here, or a UserError naming ``--device`` (exit 2)."""
    import torch

    name = str(name).strip()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise UserError(f"--device {name}: unknown device; {_HINT}") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"--device {name}: there are {torch.cuda.device_count()} CUDA "
                            f"device(s) here (cuda:0 .. cuda:{torch.cuda.device_count() - 1})")
        return device
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UserError(f"--device {name}: Apple MPS is not available here; {_HINT}")
        return device
    # meta tensors hold no data, and other back ends are not supported by the networks here.
    raise UserError(f"--device {name}: not supported (only CPU, CUDA and MPS compute); {_HINT}")
