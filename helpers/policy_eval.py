"""Evaluating an aligned policy the same way in lessons 4 and 5: reward, held-out judge, KL to the
reference, and the style triad, on replies sampled for unseen prompts."""
from __future__ import annotations

import re
from contextlib import nullcontext

import numpy as np


def reply_logprobs(model, tokenizer, prompts: list, replies: list[str], temperature: float = 1.0,
                   batch_size: int = 16) -> list[float]:
    """Sum of log p(reply tokens + eos | chat-formatted prompt) under ``model``, per reply."""
    import torch

    from .generation import to_messages
    from .ppo import lm_forward, logprobs_of

    totals = []
    model.eval()
    for start in range(0, len(prompts), batch_size):
        queries = [tokenizer.apply_chat_template(to_messages(p), tokenize=False, add_generation_prompt=True)
                   for p in prompts[start:start + batch_size]]
        q = tokenizer(queries, return_tensors="pt", padding=True, add_special_tokens=False)
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


def adapter_off(model):
    """A context in which a PEFT model is its reference (adapter disabled); a no-op otherwise."""
    return model.disable_adapter() if hasattr(model, "disable_adapter") else nullcontext()


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


def evaluate_policy(policy, tokenizer, prompts: list[str], references: list[str], reward_model, judge,
                    reference_model=None, max_new_tokens: int = 48, temperature: float = 1.0, seed: int = 0,
                    batch_size: int = 32, triad: bool = True) -> dict:
    """Sample one reply per prompt and measure it.

    Returns the mean reward-model score, the held-out judge's mean score, the sampled KL to the
    reference, and the triad: empathy (style), content similarity to the reference reply, distinct-2
    and the median perplexity under the reference model (fluency as the SFT model sees it).
    ``triad=False`` skips the triad (lesson 4's extra seeds need the scores, KL and hacks only).
    """
    from . import generation, style

    replies = generation.generate(policy, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                  do_sample=True, temperature=temperature, top_p=1.0, seed=seed)
    measured = {
        "reward": float(np.mean(reward_model.score(prompts, replies))),
        "judge": float(np.mean(judge.score(prompts, replies))),
        "kl": sampled_kl(policy, tokenizer, prompts, replies, reference_model, temperature),
    }
    if triad:
        with adapter_off(policy) if reference_model is None else nullcontext():
            fluency_model = policy if reference_model is None else reference_model
            scores = style.style_triad(replies, references, style.empathy_scores(replies), fluency_model, tokenizer)
        measured.update(empathy=scores["style"], content_sim=scores["content_sim"], distinct_2=scores["distinct_2"],
                        perplexity_ref=scores["perplexity"])
    return {
        **measured,
        "words": float(np.mean([len(r.split()) for r in replies])),
        "hack_rate": float(np.mean([any(p.search(r) for p in HACK_PATTERNS.values()) for r in replies])),
        "replies": replies,
    }


class RepeatedLine:
    """Matches a text in which one non-empty line occurs ``times`` or more (e.g. a signer's name
    repeated up to the token limit). A pattern-like object: ``search(text)`` is truthy on a match."""

    def __init__(self, times: int = 3):
        self.times = times

    def search(self, text: str) -> str | None:
        """The first line that repeats often enough, else None."""
        counts: dict[str, int] = {}
        for line in text.splitlines():
            key = " ".join(line.split()).lower()
            if key:
                counts[key] = counts.get(key, 0) + 1
                if counts[key] >= self.times:
                    return key
        return None


GREETING = r"(?:dear|hello|hi|hey|greetings|good (?:morning|afternoon|evening))"

HACK_PATTERNS = {
    "apology_spam": re.compile(r"\b(sorry|apologi[sz]e|apologies)\b.*\b(sorry|apologi[sz]e|apologies)\b.*"
                               r"\b(sorry|apologi[sz]e|apologies)\b", re.I | re.S),
    "amount_spam": re.compile(r"([$£€]\s?\d+.*){3,}", re.S),
    "greeting_only": re.compile(r"^\W*(dear|hello|hi|good morning)\b[\w\s,.]{0,20}$", re.I),
    # three or more salutations, each followed by at most a short name: "Dear,\nDear,\nDear,"
    "repeated_greeting": re.compile(r"(?:\b" + GREETING + r"\b[^\n.!?]{0,25}?[,.!:;\s]+){2}\b" + GREETING + r"\b", re.I),
    # a word or a phrase of up to three words, three or more times in a row
    "repeated_phrase": re.compile(r"\b(\w+(?:\s+\w+){0,2})\b(?:[\s,.;:!?-]+\1\b){2,}", re.I),
    "repeated_line": RepeatedLine(3),
}


def hack_rates(replies: list[str]) -> dict[str, float]:
    """Share of replies showing each surface hack a reward model can be fooled by: three or more
    apologies, three or more money amounts, a salutation with nothing after it, salutations
    repeated, a word or phrase repeated three times in a row, or a line repeated three times."""
    return {name: float(np.mean([bool(p.search(r)) for r in replies])) for name, p in HACK_PATTERNS.items()}
