"""Evaluating an aligned policy the same way in lessons 4 and 5: reward, held-out judge, KL to the
reference, and the style triad, on replies sampled for unseen prompts."""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np

from helpers.core import generation, logprobs
from helpers.core.logprobs import adapter_off, sampled_kl
from helpers.metrics import style
from helpers.metrics.probes import HACK_PATTERNS


def evaluate_policy(policy, tokenizer, prompts: list[str], references: list[str], reward_model, judge,
                    reference_model=None, max_new_tokens: int = 48, temperature: float = 1.0, seed: int = 0,
                    batch_size: int = 32, triad: bool = True) -> dict:
    """Sample one reply per prompt and measure it.

    Returns the mean reward-model score, the held-out judge's mean score, the sampled KL to the
    reference, and the triad: empathy (style), content similarity to the reference reply, distinct-2
    and the median perplexity under the reference model (fluency as the SFT model sees it).
    ``triad=False`` skips the triad (lesson 4's extra seeds need the scores, KL and hacks only).
    """
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


def evaluate_as_profiled(policy, tokenizer, prompts: list[str], references: list[str], reward_model, judge,
                         profile, sft_model, seed: int, triad: bool = True) -> dict:
    """:func:`evaluate_policy` as lessons 4 and 5 run it: the profile's reply length, temperature
    and batch size, the KL to the profile's reference for ``sft_model``
    (:func:`helpers.core.logprobs.reference_model`), and replies sampled with ``seed + 1``."""
    return evaluate_policy(policy, tokenizer, prompts, references, reward_model, judge,
                           reference_model=logprobs.reference_model(profile, sft_model),
                           max_new_tokens=profile.rl.max_new_tokens,
                           temperature=profile.rl.temperature, seed=seed + 1, batch_size=profile.gen_batch_size,
                           triad=triad)


def gain_verdict(judge_gain, gap, judge: str = "the judge") -> str:
    """In words, what a judge says about a policy's reward gain, from two
    :class:`helpers.metrics.judge_eval.Estimate`: the judge's gain over the SFT model and the gap
    to the RM's gain (judge minus RM), both in SFT standard deviations. A conclusion is drawn only
    where an interval supports it."""
    if gap.high < 0:
        if judge_gain.low > 0:
            return f"partly over-optimised: {judge} confirms a gain, smaller than the RM's"
        return f"over-optimised: {judge} does not confirm the RM's gain"
    if judge_gain.low > 0:
        return f"{judge} confirms the gain"
    if judge_gain.high < 0:
        return f"{judge} sees a loss"
    return f"{judge} sees no gain distinguishable from 0"
