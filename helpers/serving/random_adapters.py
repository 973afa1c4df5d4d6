"""Untrained style adapters with random weights: stand-ins for tests and benchmarks of the
style router (lesson 6) that need adapters which change the replies but no training run."""
from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from helpers.core import models
from helpers.core.profiles import get_profile


def make_random_adapters(base_path: str | Path, out_dir: str | Path,
                         styles=("news_brief", "feature_story", "social_ad"), seed: int = 0, profile=None,
                         r: int = 8, lora_alpha: int = 32) -> dict[str, Path]:
    """Save one untrained LoRA adapter per style with random, non-zero weights (tests and benchmarks).

    ``init_lora_weights=False`` makes both LoRA matrices random, so each adapter changes the
    base model's greedy replies at once, differently per style (seed + index), without training.
    ``lora_alpha=32`` (scaling 4): at PEFT's scaling of 1, on the tiny base, a random adapter left
    about a third of the greedy replies the same as the base model's, too close to test routing with.
    """
    profile = profile or get_profile("tiny")
    folders = {}
    for i, style in enumerate(styles):
        torch.manual_seed(seed + i)
        config = LoraConfig(r=r, lora_alpha=lora_alpha, init_lora_weights=False, target_modules="all-linear",
                            task_type="CAUSAL_LM")
        peft_model = get_peft_model(models.load_causal_lm(base_path, profile), config)
        folders[style] = Path(out_dir) / style
        peft_model.save_pretrained(folders[style])
    return folders
