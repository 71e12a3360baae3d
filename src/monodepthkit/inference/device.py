"""The device a model runs on: the one place that picks cuda, mps or cpu."""

from __future__ import annotations

import torch


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; any other value is used as given.

    Args:
        device: ``"auto"``, a torch device string (``"cpu"``, ``"cuda:1"``, ...) or a device.

    Returns:
        The torch device.
    """
    if isinstance(device, torch.device):
        return device
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
