"""Torch device and thread selection shared by the two CNNs."""

from __future__ import annotations

import torch

from extreme3d import Extreme3DError
from extreme3d.models.threads import thread_count, usable_cores  # noqa: F401 - re-exported


def resolve_device(device: str = "auto") -> torch.device:
    """torch.device for 'cpu', 'cuda' (error when unavailable) or 'auto' (cuda if available)."""
    name = (device or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise Extreme3DError("--device cuda requested but torch sees no CUDA device")
    if name != "cpu" and not name.startswith("cuda"):
        raise Extreme3DError(f"unknown device {device!r} (use cpu, cuda or auto)")
    return torch.device(name)


def configure_threads(threads: int | None = None) -> int:
    """Sets torch's intra-op threads (default: usable cores, or OMP_NUM_THREADS); returns it."""
    threads = thread_count(threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
