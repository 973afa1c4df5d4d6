"""Loading the policy model and tokenizer that a profile asks for."""
from __future__ import annotations

from pathlib import Path

from helpers.core.chat_templates import make_training_compatible
from helpers.core.profiles import SMALL_POLICY, TINY_POLICY, Profile
from helpers.core.small_model import build_small_base
from helpers.core.tiny_model import build_tiny_base


def torch_dtype(profile: Profile):
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[profile.precision]


def base_model_path(profile: Profile) -> str:
    """A local folder (tiny and small: built offline and cached) or a hub model name."""
    if profile.policy_model == TINY_POLICY:
        return str(build_tiny_base())
    if profile.policy_model == SMALL_POLICY:
        return str(build_small_base())
    return profile.policy_model


def load_tokenizer(path: str | Path):
    """The tokenizer with left padding (batched generation), a pad token, and a chat template that
    marks the assistant's tokens for TRL's assistant-only loss (prompts render as before:
    ``helpers.core.chat_templates``)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return make_training_compatible(tokenizer)


def load_causal_lm(path: str | Path, profile: Profile):
    """A causal LM in the profile's precision (4-bit via bitsandbytes where the profile says)."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs = {"dtype": torch_dtype(profile)}
    if profile.load_in_4bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype(profile))
    if not profile.use_cpu:
        kwargs["device_map"] = "auto"
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    model.eval()
    return model


def load_base(profile: Profile):
    """(model, tokenizer) of the profile's base policy model."""
    path = base_model_path(profile)
    return load_causal_lm(path, profile), load_tokenizer(path)


def lora_config(profile: Profile, task_type: str = "CAUSAL_LM", always: bool = False):
    """PEFT LoRA config for the profile (all linear layers), or None when the profile fine-tunes fully.

    ``always=True`` returns a LoRA config on every profile (lesson 6's style adapters are LoRA
    adapters even on ``tiny``).
    """
    if not (profile.use_lora or always):
        return None
    from peft import LoraConfig

    # no LoRA dropout: on CPU its masks cost ~10% of a training step, and our runs are 1-3 epochs
    return LoraConfig(r=profile.lora_r, lora_alpha=profile.lora_alpha, lora_dropout=0.0,
                      target_modules="all-linear", task_type=task_type)


def autocast(model):
    """bf16 autocast for a CPU model held in bf16 (its fp32 LoRA adapters then run in bf16 too);
    a no-op context elsewhere. Norms and softmax keep fp32 inside autocast."""
    import contextlib

    import torch

    param = next(model.parameters())
    if param.device.type == "cpu" and any(p.dtype == torch.bfloat16 for p in model.parameters()):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
