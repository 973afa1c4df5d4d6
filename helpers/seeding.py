"""Seeding for reproducible runs: same seed, same numbers."""
from __future__ import annotations

import os
import random

from . import runtime


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
