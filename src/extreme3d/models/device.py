"""Torch device and thread selection shared by the two CNNs."""

from __future__ import annotations

import os

import torch

from extreme3d import Extreme3DError


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


def usable_cores() -> int:
    """Number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(threads: int | None = None) -> int:
    """Sets torch's intra-op threads (default: usable cores, or OMP_NUM_THREADS); returns it."""
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(env) if env.isdigit() and int(env) > 0 else usable_cores()
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
