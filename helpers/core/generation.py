"""Chat prompts as the model sees them, and batched generation with left padding (every lesson)."""
from __future__ import annotations

from helpers.core.models import autocast


def to_messages(prompt) -> list[dict]:
    """A user string becomes a one-turn conversation; a list of messages is kept as it is."""
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def chat_texts(tokenizer, prompts: list) -> list[str]:
    """Each prompt (a user string or chat messages) through the chat template, ready for the reply."""
    return [tokenizer.apply_chat_template(to_messages(p), tokenize=False, add_generation_prompt=True) for p in prompts]


def encode_prompts(tokenizer, prompts: list):
    """The chat-formatted prompts tokenised and padded to one width (on the tokenizer's padding
    side: left for generation); a ``BatchEncoding`` of ``input_ids`` and ``attention_mask``."""
    return tokenizer(chat_texts(tokenizer, prompts), return_tensors="pt", padding=True, add_special_tokens=False)


def generate(model, tokenizer, prompts: list, max_new_tokens: int = 64, batch_size: int = 16,
             do_sample: bool = False, temperature: float = 0.8, top_p: float = 0.95, seed: int = 0,
             return_finished: bool = False, **generate_kwargs):
    """Reply to each prompt (a user string or a list of chat messages); returns the new text only.

    Greedy by default. With ``do_sample=True`` the torch seed is set first, so the same seed
    gives the same samples. Extra keyword arguments go to ``model.generate`` (e.g. PEFT's
    ``adapter_names`` for a mixed batch, which is then sliced per batch).
    With ``return_finished=True`` also returns, per reply, whether the model ended it (an eos
    token) rather than running into ``max_new_tokens``.
    """
    import torch

    if tokenizer.padding_side != "left":
        raise ValueError("batched generation needs tokenizer.padding_side == 'left'")
    per_row = {k: generate_kwargs.pop(k) for k in ("adapter_names",) if k in generate_kwargs}
    device = next(model.parameters()).device
    if do_sample:
        torch.manual_seed(seed)
    replies, finished = [], []
    eos_ids = _eos_ids(model, tokenizer)
    was_training = model.training
    model.eval()
    for start in range(0, len(prompts), batch_size):
        enc = encode_prompts(tokenizer, prompts[start:start + batch_size]).to(device)
        extra = {k: v[start:start + batch_size] for k, v in per_row.items()}
        sampling = dict(do_sample=True, temperature=temperature, top_p=top_p) if do_sample else dict(do_sample=False)
        with torch.no_grad(), autocast(model):
            out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                 **sampling, **extra, **generate_kwargs)
        new_tokens = out[:, enc["input_ids"].shape[1]:]
        replies.extend(t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
        finished.extend(bool(torch.isin(row, eos_ids).any()) for row in new_tokens)
    model.train(was_training)
    return (replies, finished) if return_finished else replies


def _eos_ids(model, tokenizer):
    """Every token id that ends a reply (the generation config may list several)."""
    import torch

    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = ids if isinstance(ids, (list, tuple)) else [ids]
    return torch.tensor(sorted({i for i in [*ids, tokenizer.eos_token_id] if i is not None}))
