"""Log-probabilities of replies under a policy, and the reference policy it is compared with
(lessons 4 and 5: PPO's rollouts, the KL to the reference, DPO's implicit reward).

The reference of a LoRA policy is the same model with its adapter disabled (:func:`adapter_off`);
of a full model, a frozen copy passed as ``reference``.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

import numpy as np
import torch
import torch.nn.functional as F

from helpers.core.generation import encode_prompts


def logprobs_of(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(token) under ``softmax(logits / temperature)``, per position."""
    logp = F.log_softmax(logits / temperature, dim=-1)
    return torch.gather(logp, -1, tokens.unsqueeze(-1)).squeeze(-1)


def lm_forward(model, input_ids, attention_mask, logits_to_keep: int = 0, **kw):
    """A forward pass whose position ids follow the left padding, as ``generate`` computes them.

    ``logits_to_keep=n`` computes the LM head at the last n positions only: a reply's tokens are
    predicted there, and the 49k-word head over the prompt's positions would be a fifth of the
    forward pass's FLOPs on `small` for logits nobody reads.
    """
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    return model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                 logits_to_keep=logits_to_keep, **kw)


def is_peft(model) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


def reply_logprobs(model, tokenizer, prompts: list, replies: list[str], temperature: float = 1.0,
                   batch_size: int = 16) -> list[float]:
    """Sum of log p(reply tokens + eos | chat-formatted prompt) under ``model``, per reply."""
    totals = []
    model.eval()
    for start in range(0, len(prompts), batch_size):
        q = encode_prompts(tokenizer, prompts[start:start + batch_size])
        reply_ids = [tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                     for r in replies[start:start + batch_size]]
        width = max(map(len, reply_ids))
        r = torch.full((len(reply_ids), width), tokenizer.pad_token_id)
        mask = torch.zeros(len(reply_ids), width)
        for i, ids in enumerate(reply_ids):
            r[i, :len(ids)] = torch.tensor(ids)
            mask[i, :len(ids)] = 1
        with torch.no_grad():
            logits = lm_forward(model, torch.cat([q["input_ids"], r], 1),
                                torch.cat([q["attention_mask"], mask.long()], 1), width + 1).logits.float()
        logits = logits[:, :-1]
        totals.extend((logprobs_of(logits, r, temperature) * mask).sum(-1).tolist())
    return totals


def reference_model(profile, sft_model):
    """The reference a KL is measured against: ``None`` for a LoRA policy (its adapter switched
    off, :func:`adapter_off`), else the frozen SFT model itself (a profile that fine-tunes fully)."""
    return None if profile.use_lora else sft_model


def adapter_off(model):
    """A context in which a PEFT model is its reference (adapter disabled); a no-op otherwise."""
    return model.disable_adapter() if hasattr(model, "disable_adapter") else nullcontext()


@contextmanager
def lora_folded(model):
    """A context in which each active LoRA adapter of a PEFT model is folded into its base weights
    (W + scale * B A) and the adapter path is switched off: the same function, computed with one
    matmul per layer instead of three, which is what token-by-token sampling pays for. On exit the
    base weights are the very tensors they were (PEFT's ``merge_adapter``/``unmerge_adapter`` add
    and subtract, which drifts the reference in half precision). A no-op for a full model.
    """
    if not is_peft(model):
        yield
        return
    from peft.tuners.lora import LoraLayer

    originals = []
    try:  # restores whatever was folded, even if folding itself stops part-way
        with torch.no_grad():
            for module in model.modules():
                if not isinstance(module, LoraLayer) or module.merged:
                    continue
                active = [name for name in module.active_adapters if name in module.lora_A]
                if not active:
                    continue
                weight = module.get_base_layer().weight
                originals.append((weight, weight.data))
                weight.data = weight.data + sum(module.get_delta_weight(name) for name in active).to(weight.dtype)
        with model.disable_adapter():
            yield
    finally:
        for weight, data in originals:
            weight.data = data


def log_ratios(policy, tokenizer, prompts: list, replies: list[str], reference=None,
               temperature: float = 1.0) -> np.ndarray:
    """log pi(reply) - log pi_ref(reply) per reply; ``reference=None`` means the policy with its
    LoRA adapter disabled."""
    logp = np.array(reply_logprobs(policy, tokenizer, prompts, replies, temperature))
    with adapter_off(policy) if reference is None else nullcontext():
        ref = np.array(reply_logprobs(policy if reference is None else reference, tokenizer, prompts, replies,
                                      temperature))
    return logp - ref


def sampled_kl(policy, tokenizer, prompts: list, replies: list[str], reference=None, temperature: float = 1.0) -> float:
    """Mean sequence KL(policy || reference), estimated on replies *sampled from the policy* at
    ``temperature`` (plain sampling): the average of log pi(reply) - log pi_ref(reply).

    ``reference=None`` means the policy with its LoRA adapter disabled.
    """
    return float(np.mean(log_ratios(policy, tokenizer, prompts, replies, reference, temperature)))
