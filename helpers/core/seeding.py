"""Seeding for reproducible runs: same seed, same numbers."""
from __future__ import annotations

import os
import random

from helpers.core import runtime


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (and transformers' own helper), and pin torch's threads."""
    import numpy as np
    import torch
    from transformers import set_seed as hf_set_seed

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    hf_set_seed(seed)
    runtime.pin_threads()


def subsample(items: list, n: int | None, seed: int) -> list:
    """A seeded random ``n`` of ``items`` in their original order; all of them when ``n`` is None or
    not smaller than the list (profiles use it to size an evaluation to their machine)."""
    if n is None or n >= len(items):
        return list(items)
    if n < 1:
        raise ValueError(f"subsample size must be at least 1, got {n}")
    keep = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in keep]
