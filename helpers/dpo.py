"""Direct preference optimisation with TRL's DPOTrainer, and the quantities lessons 5 and 6 read
off a DPO policy: implicit rewards, preference accuracy and the reward-hacking indicators.

DPO minimises ``-log sigmoid(beta * [(log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))])``
over preference pairs: the policy *is* the reward model, with implicit reward
``r(x, y) = beta * (log pi(y | x) - log pi_ref(y | x))``. No sampling, no reward model, no value head.
"""
from __future__ import annotations

import numpy as np

from helpers.core.logprobs import log_ratios
from helpers.core.profiles import Profile
from helpers.core.seeding import set_seed
from helpers.core.trl_configs import quiet_trainer, trl_config


def conversational(rows: list[dict]) -> list[dict]:
    """``prompt``/``chosen``/``rejected`` strings as TRL conversational rows (user turn, assistant
    turns), so training applies the same chat template that generation uses. Rows that are already
    conversational are kept as they are."""
    def turn(role, value):
        return value if isinstance(value, list) else [{"role": role, "content": value}]

    return [{"prompt": turn("user", r["prompt"]), "chosen": turn("assistant", r["chosen"]),
             "rejected": turn("assistant", r["rejected"])} for r in rows]


def plain(value) -> str:
    """The text of a conversational field (the last message), or the string itself."""
    return value[-1]["content"] if isinstance(value, list) else value


def dpo_config(profile: Profile, output_dir, seed: int, beta: float, **overrides):
    """The DPOConfig of lessons 5 and 6: the profile's learning rate, epochs and lengths."""
    from trl import DPOConfig

    settings = dict(beta=beta, learning_rate=profile.dpo.learning_rate, num_train_epochs=profile.dpo.epochs,
                    max_length=profile.max_length, lr_scheduler_type="cosine", warmup_steps=2)
    settings.update(overrides)
    return trl_config(DPOConfig, profile, output_dir, seed, **settings)


def train_dpo(model, tokenizer, rows: list[dict], profile: Profile, output_dir, seed: int, beta: float,
              peft_config=None, **overrides):
    """Run DPOTrainer on preference rows; returns the trainer (``trainer.model`` is the policy).

    With ``peft_config`` TRL trains a LoRA adapter and the reference is the model with the adapter
    disabled; otherwise TRL keeps a frozen copy of ``model`` as the reference.
    """
    from datasets import Dataset
    from trl import DPOTrainer

    set_seed(seed)
    trainer = DPOTrainer(model=model, args=dpo_config(profile, output_dir, seed, beta, **overrides),
                         train_dataset=Dataset.from_list(conversational(rows)), processing_class=tokenizer,
                         peft_config=peft_config)
    quiet_trainer(trainer).train()
    return trainer


def implicit_rewards(policy, tokenizer, rows: list[dict], beta: float, reference=None) -> tuple[np.ndarray, np.ndarray]:
    """DPO's implicit reward ``beta * (log pi - log pi_ref)`` of the chosen and the rejected reply
    of every row. ``reference=None``: the policy with its LoRA adapter disabled."""
    score = implicit_reward_fn(policy, tokenizer, beta, reference)
    prompts = [plain(r["prompt"]) for r in rows]
    return (np.array(score(prompts, [plain(r["chosen"]) for r in rows])),
            np.array(score(prompts, [plain(r["rejected"]) for r in rows])))


def preference_accuracy(policy, tokenizer, rows: list[dict], beta: float, reference=None) -> float:
    """Share of pairs whose chosen reply gets the higher implicit reward (held-out pairs: a
    generalisation test of the policy as a reward model)."""
    chosen, rejected = implicit_rewards(policy, tokenizer, rows, beta, reference)
    return float(np.mean(chosen > rejected))


def implicit_reward_fn(policy, tokenizer, beta: float, reference=None):
    """The policy as a ``score_fn(prompts, replies)``, e.g. for ``helpers.metrics.probes.probe_report``."""

    def score(prompts, replies):
        return (beta * log_ratios(policy, tokenizer, prompts, replies, reference)).tolist()

    return score
