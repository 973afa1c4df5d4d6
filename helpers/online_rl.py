"""Lesson 4's other online RL trainers, TRL's RLOO and GRPO, on the same reward model, prompts and KL coefficient
as ``helpers.ppo``, and the generated-token budget lesson 4 compares all three on.

* **RLOO** (REINFORCE leave-one-out) samples ``num_generations`` replies per prompt and uses the
  mean reward of the *other* replies to the same prompt as the baseline: no value head, no GAE. Like
  our PPO it subtracts ``beta * KL`` (summed over the reply) from the reward.
* **GRPO** (group relative policy optimisation, DeepSeekMath) also has no value head: a reply's
  advantage is its reward minus the mean of its group, divided by the group's standard deviation.
  Its KL term is not in the reward but in the loss, ``beta`` times a per-token estimate of the KL
  to the reference; TRL's ``beta`` defaults to 0, so it is set explicitly.

All three generate, score and update, but one reply of PPO costs a value head and two epochs of
minibatches, where RLOO and GRPO need a group of replies per prompt (lesson 4: the profile's
``P.rl.group_size``): a fair comparison holds the **number of generated tokens** fixed
(``TokenBudget``), not the number of steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from transformers import TrainerCallback

from helpers.core.profiles import Profile
from helpers.core.seeding import set_seed
from helpers.core.trl_configs import quiet_trainer, trl_config
from helpers.metrics.judge_eval import two_level_mean

METHODS = ("rloo", "grpo")


def reward_function(score_fn, name: str = "reward_model", timer: dict | None = None):
    """Wrap ``score_fn(prompts, replies)`` as a TRL reward function.

    TRL passes conversational prompts and completions as message lists; the reward model wants the
    user's text and the reply's text (passing a MiniLM model to TRL directly fails: no chat template).
    With ``timer``, the seconds spent scoring are added to ``timer["score"]``.
    """
    def reward(prompts, completions, **kwargs):
        def text(x):
            return x[-1]["content"] if isinstance(x, list) else x

        start = time.perf_counter()
        scores = score_fn([text(p) for p in prompts], [text(c).strip() for c in completions])
        if timer is not None:
            timer["score"] = timer.get("score", 0.0) + time.perf_counter() - start
        return scores

    reward.__name__ = name
    return reward


class TokenBudget(TrainerCallback):
    """Stop a TRL online trainer once it has generated ``max_tokens`` completion tokens.

    TRL logs the mean completion length of each generation batch (``completions/mean_length``,
    logged every step by ``helpers.core.trl_configs``); times ``replies_per_step`` that is the step's
    generated tokens. ``tokens`` is the running total, ``steps`` the steps taken. The run stops at
    the end of the step that reaches the budget, so it overshoots by less than one step.
    """

    def __init__(self, max_tokens: float | None, replies_per_step: int):
        self.max_tokens, self.replies_per_step = max_tokens, replies_per_step
        self.tokens, self.steps, self.per_step = 0.0, 0, []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "completions/mean_length" not in logs:
            return
        step_tokens = logs["completions/mean_length"] * self.replies_per_step
        self.tokens += step_tokens
        self.steps += 1
        self.per_step.append(step_tokens)
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            control.should_training_stop = True


def train_online(method: str, model, tokenizer, score_fn, prompts: list[str], profile: Profile, output_dir,
                 seed: int, steps: int, beta: float, learning_rate: float, batch_size: int = 16,
                 num_generations: int = 4, max_new_tokens: int = 48, temperature: float = 1.0,
                 max_generated_tokens: float | None = None, peft_config=None, callbacks=None, timer=None,
                 **overrides):
    """Run TRL's ``RLOOTrainer`` or ``GRPOTrainer`` (``method`` "rloo" or "grpo") for ``steps`` steps
    of ``batch_size`` completions (``batch_size / num_generations`` prompts, ``num_generations``
    replies each), or fewer if ``max_generated_tokens`` is reached first.

    Returns the trainer; ``trainer.token_budget`` (a ``TokenBudget``) holds the tokens generated
    and the steps taken. With ``peft_config`` (LoRA profiles) TRL trains an adapter and uses the
    adapter-free model as the reference, as ``helpers.ppo`` does.
    """
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if num_generations < 2 or batch_size % num_generations:
        raise ValueError(f"num_generations ({num_generations}) must be at least 2 and divide batch_size ({batch_size}): "
                         "every prompt's group of replies is in one step")
    config_class, trainer_class = {"rloo": (RLOOConfig, RLOOTrainer), "grpo": (GRPOConfig, GRPOTrainer)}[method]
    set_seed(seed)
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in prompts])
    settings = dict(max_steps=steps, learning_rate=learning_rate, beta=beta, per_device_train_batch_size=batch_size,
                    gradient_accumulation_steps=1, num_generations=num_generations,
                    generation_batch_size=batch_size, max_completion_length=max_new_tokens,
                    temperature=temperature, top_p=1.0, lr_scheduler_type="constant", shuffle_dataset=True)
    settings.update(overrides)
    config = trl_config(config_class, profile, output_dir, seed, **settings)
    budget = TokenBudget(max_generated_tokens, replies_per_step=batch_size)
    trainer = trainer_class(model=model, reward_funcs=reward_function(score_fn, timer=timer), args=config,
                            train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config,
                            callbacks=[budget, *(callbacks or [])])
    trainer.token_budget = budget
    if timer is not None:
        time_generation(trainer.model, timer)
    quiet_trainer(trainer).train()
    return trainer


def time_generation(model, timer: dict) -> None:
    """Add the seconds ``model.generate`` takes to ``timer["generate"]`` (the benchmark's split of a
    step into generation, scoring and the rest)."""
    generate = model.generate

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return generate(*args, **kwargs)
        finally:
            timer["generate"] = timer.get("generate", 0.0) + time.perf_counter() - start

    model.generate = timed


def training_log(trainer) -> list[dict]:
    """The per-step rows of a TRL online trainer's log (the ones with a reward), numbered from 1."""
    rows = [dict(row) for row in trainer.state.log_history if "reward" in row]
    for i, row in enumerate(rows, 1):
        row["step"] = i
    return rows


# --- lesson 4's comparison on one budget --------------------------------------------------------

CURVE_KEYS = ("reward", "kl_per_token", "entropy", "length")


def ppo_curve(history: list[dict]):
    """Our PPO's per-step log as lesson 4's common curve frame: cumulative generated tokens, then
    reward, per-token KL, entropy and length."""
    import pandas as pd

    frame = pd.DataFrame(history)
    frame["tokens"] = frame["tokens"].cumsum()
    return frame[["step", "tokens", *CURVE_KEYS]]


def trl_curve(trainer):
    """A TRL online trainer's per-step log as the same frame as :func:`ppo_curve` (TRL logs the mean
    per-token KL as ``kl`` and the mean completion length as ``completions/mean_length``)."""
    import pandas as pd

    rows = training_log(trainer)
    frame = pd.DataFrame({"step": [r["step"] for r in rows], "tokens": trainer.token_budget.per_step[:len(rows)],
                          "reward": [r["reward"] for r in rows], "kl_per_token": [r.get("kl", float("nan")) for r in rows],
                          "entropy": [r.get("entropy", float("nan")) for r in rows],
                          "length": [r["completions/mean_length"] for r in rows]})
    frame["tokens"] = frame["tokens"].cumsum()
    return frame


@dataclass
class BudgetRun:
    """One policy trained on the shared generated-token budget, measured on the held-out complaints.

    ``reward_gain`` and ``judge_gain`` hold one number per held-out complaint (the policy's score
    minus the SFT model's on the same complaint, in units of the SFT model's spread), in the same
    complaint order for every run.
    """

    method: str
    seed: int
    tokens: float
    seconds: float
    steps: int
    reward_gain: np.ndarray
    judge_gain: np.ndarray
    kl: float
    hack_rate: float


@dataclass
class BudgetComparison:
    """Per method: ``estimates[method][measure]`` (an ``Estimate``), ``table`` (one row per method),
    and the method with the most reward per 1,000 generated tokens: ``leader`` if its interval
    against every other method's excludes 0, else ``None`` with the statistically tied methods in
    ``tied``; ``differences[(a, b)]`` is a − b of that measure, paired by seed and complaint, and
    ``judge_differences[(a, b)]`` the same for the held-out judge's gain."""

    estimates: dict
    table: object
    leader: str | None
    tied: list
    differences: dict
    judge_differences: dict


def _by_method(runs: list[BudgetRun]) -> dict[str, list[BudgetRun]]:
    groups: dict[str, list[BudgetRun]] = {}
    for run in sorted(runs, key=lambda r: (r.method, r.seed)):
        groups.setdefault(run.method, []).append(run)
    seeds = {m: [r.seed for r in rs] for m, rs in groups.items()}
    if len({tuple(s) for s in seeds.values()}) != 1:
        raise ValueError(f"every method needs runs with the same seeds, got {seeds}")
    return groups


def compare_on_budget(runs: list[BudgetRun], threads: int, n_boot: int = 2000, seed: int = 0) -> BudgetComparison:
    """Reward and judge gains, and reward gain per 1,000 generated tokens and per CPU-second (wall
    seconds × ``threads``), with two-level bootstrap intervals over seeds and complaints
    (``judge_eval.two_level_mean``); the leader on gain per 1,000 tokens is named only from intervals."""
    import pandas as pd

    groups = _by_method(runs)

    def matrices(rs):
        reward = np.stack([r.reward_gain for r in rs])
        return {"reward_gain": reward, "judge_gain": np.stack([r.judge_gain for r in rs]),
                "reward_gain_per_ktok": reward * np.array([[1000 / r.tokens] for r in rs]),
                "reward_gain_per_cpu_s": reward / np.array([[r.seconds * threads] for r in rs])}

    mats = {m: matrices(rs) for m, rs in groups.items()}
    estimates = {m: {k: two_level_mean(v, n_boot=n_boot, seed=seed) for k, v in ms.items()} for m, ms in mats.items()}

    def paired(key):
        return {(a, b): two_level_mean(mats[a][key] - mats[b][key], n_boot=n_boot, seed=seed)
                for a in mats for b in mats if a != b}

    key = "reward_gain_per_ktok"
    differences = paired(key)
    best = max(mats, key=lambda m: estimates[m][key].value)
    tied = [best] + [m for m in mats if m != best and differences[(best, m)].low <= 0]
    leader = best if len(tied) == 1 else None
    rows = {}
    for m, rs in groups.items():
        row = {"seeds": len(rs), "steps": np.mean([r.steps for r in rs]), "generated tokens": np.mean([r.tokens for r in rs]),
               "seconds": np.mean([r.seconds for r in rs]), "KL (nats/reply)": np.mean([r.kl for r in rs]),
               "surface hacks": np.mean([r.hack_rate for r in rs])}
        for k, e in estimates[m].items():
            row[k] = e.value
            row[f"{k} 95% CI"] = f"[{e.low:+.4g}, {e.high:+.4g}]"
        rows[m] = row
    return BudgetComparison(estimates, pd.DataFrame(rows).T, leader, tied, differences, paired("judge_gain"))
