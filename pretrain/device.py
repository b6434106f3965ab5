"""`resolve_device`: the one reading of a device name (`--device`, `TrainConfig.device`)."""

from __future__ import annotations

from perturb.errors import UsageError


class DeviceError(UsageError):
    """A device that torch does not know or this machine does not have."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"device {name}: {reason}")
        self.name, self.reason = name, reason


def resolve_device(name: str, local_rank: int | None = None):
    """The torch device `name` means here: `auto` is cuda when a GPU is available, else cpu;
    `cuda` is this process's GPU (`local_rank` under torchrun, made the current device); any
    other name must be a device torch knows and this machine has."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise DeviceError(name, "unknown; try auto, cpu or cuda") from None
    if device.type == "cpu":
        return device
    backend = torch.backends.mps if device.type == "mps" else getattr(torch, device.type, None)
    if not getattr(backend, "is_available", lambda: False)():
        raise DeviceError(name, f"no {device.type} device on this machine; try auto or cpu")
    if device.type == "cuda" and device.index is None and local_rank is not None:
        device = torch.device("cuda", local_rank)
    count = getattr(backend, "device_count", lambda: 1)()
    if device.index is not None and device.index >= count:
        raise DeviceError(name, f"this machine has {count} {device.type} device(s)")
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    return device
