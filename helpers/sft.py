"""Supervised fine-tuning with TRL's SFTTrainer, as lesson 1 runs it (and later lessons reuse it)."""
from __future__ import annotations

from helpers.core import models
from helpers.core.profiles import Profile
from helpers.core.seeding import set_seed
from helpers.core.trl_configs import quiet_trainer, trl_config
from helpers.metrics import style
from helpers.metrics.judge_eval import paired_difference


def sft_config(profile: Profile, output_dir, seed: int, **overrides):
    """The SFTConfig of lesson 1: assistant-only loss, the profile's learning rate and epochs."""
    from trl import SFTConfig

    settings = dict(num_train_epochs=profile.sft.epochs, learning_rate=profile.sft.learning_rate,
                    lr_scheduler_type="cosine", warmup_steps=3, max_length=profile.max_length,
                    assistant_only_loss=True)
    settings.update(overrides)
    return trl_config(SFTConfig, profile, output_dir, seed, **settings)


def train_sft(rows: list[dict], profile: Profile, output_dir, seed: int, base_path: str | None = None,
              **overrides):
    """Fine-tune the profile's base model on ``messages`` rows; returns the trained SFTTrainer.

    ``trainer.model`` is the fine-tuned model (a PEFT model on LoRA profiles) and
    ``trainer.processing_class`` its tokenizer.
    """
    from datasets import Dataset
    from trl import SFTTrainer

    set_seed(seed)
    base_path = base_path or models.base_model_path(profile)
    model = models.load_causal_lm(base_path, profile)
    tokenizer = models.load_tokenizer(base_path)
    dataset = Dataset.from_list([{"messages": r["messages"]} for r in rows])
    trainer = SFTTrainer(model=model, args=sft_config(profile, output_dir, seed, **overrides),
                         train_dataset=dataset, processing_class=tokenizer, peft_config=models.lora_config(profile))
    quiet_trainer(trainer).train()
    return trainer


def evaluate_replies(replies: list[str], emails: list[str], references: list[str],
                     finished: list[bool] | None = None) -> dict:
    """Lesson 1's scorecard of a set of replies to ``emails``: the rubric's parts (formal, polite,
    concise, correct) and its overall score, fact recall, content similarity, fluency under the
    fixed real LM, distinct-2, length, and (given ``finished``) the share of replies that stopped
    by themselves instead of running into the token limit."""
    import numpy as np

    scores = {name: float(np.mean(values)) for name, values in per_reply_scores(replies, emails, references).items()}
    scores.update(
        politeness=float(np.mean(style.politeness_scores(replies))),
        content_sim=float(np.mean(style.content_similarity(replies, references))),
        perplexity=float(np.median(style.fluency_perplexity(replies))),
        distinct_2=style.distinct_n(replies, 2),
    )
    if finished is not None:
        scores["stopped_share"] = float(np.mean(finished))
    return scores


def per_reply_scores(replies: list[str], emails: list[str], references: list[str]) -> dict:
    """Per reply, the scorecard's measures that have one value per reply: the rubric's parts and
    overall score, fact recall, formality and length (numpy arrays, in the order of ``replies``)."""
    import numpy as np

    rubric = style.reply_rubric(replies, emails, references)
    scores = {f"rubric_{part}": np.array([r[part] for r in rubric], dtype=float)
              for part in ("formal", "polite", "concise", "correct", "overall")}
    scores["fact_recall"] = np.array(style.fact_recall(replies, emails, references), dtype=float)
    scores["formality"] = np.array(style.formality_scores(replies), dtype=float)
    scores["mean_words"] = np.array([len(r.split()) for r in replies], dtype=float)
    return scores


def paired_gains(base_replies: list[str], tuned_replies: list[str], emails: list[str], references: list[str],
                 seed: int = 0) -> dict:
    """Fine-tuned minus base, per measure of :func:`per_reply_scores`: the mean difference over
    the same emails with a paired bootstrap interval (``helpers.metrics.judge_eval.Estimate``)."""

    base = per_reply_scores(base_replies, emails, references)
    tuned = per_reply_scores(tuned_replies, emails, references)
    return {name: paired_difference(tuned[name], base[name], seed=seed) for name in base}
