"""TRL's RLOOTrainer on the same reward model and KL coefficient as ``helpers.ppo``: the
maintained online RL trainer that lesson 4 compares our PPO with.

RLOO (REINFORCE leave-one-out) samples ``num_generations`` replies per prompt and uses the mean
reward of the *other* replies to the same prompt as the baseline: no value head, no GAE. Like PPO
it subtracts ``beta * KL`` to the reference model from the reward.
"""
from __future__ import annotations

from .profiles import Profile


def reward_function(score_fn, name: str = "reward_model"):
    """Wrap ``score_fn(prompts, replies)`` as a TRL reward function.

    TRL passes conversational prompts and completions as message lists; the reward model wants the
    user's text and the reply's text (passing a MiniLM model to TRL directly fails: no chat template).
    """
    def reward(prompts, completions, **kwargs):
        def text(x):
            return x[-1]["content"] if isinstance(x, list) else x

        return score_fn([text(p) for p in prompts], [text(c).strip() for c in completions])

    reward.__name__ = name
    return reward


def train_rloo(model, tokenizer, score_fn, prompts: list[str], profile: Profile, output_dir, seed: int,
               steps: int, beta: float, learning_rate: float, batch_size: int = 16, num_generations: int = 2,
               max_new_tokens: int = 48, temperature: float = 1.0, peft_config=None, callbacks=None, **overrides):
    """Run RLOOTrainer for ``steps`` steps of ``batch_size`` completions; returns the trainer.

    With ``peft_config`` (LoRA profiles) TRL trains an adapter and uses the adapter-free model as
    the reference, as ``helpers.ppo`` does.
    """
    from datasets import Dataset
    from trl import RLOOConfig, RLOOTrainer

    from .seeding import set_seed
    from .trl_configs import quiet_trainer, trl_config

    set_seed(seed)
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in prompts])
    settings = dict(max_steps=steps, learning_rate=learning_rate, beta=beta, per_device_train_batch_size=batch_size,
                    gradient_accumulation_steps=1, num_generations=num_generations,
                    generation_batch_size=batch_size, max_completion_length=max_new_tokens,
                    temperature=temperature, top_p=1.0, lr_scheduler_type="constant", shuffle_dataset=True)
    settings.update(overrides)
    config = trl_config(RLOOConfig, profile, output_dir, seed, **settings)
    trainer = RLOOTrainer(model=model, reward_funcs=reward_function(score_fn), args=config,
                          train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config,
                          callbacks=callbacks)
    quiet_trainer(trainer).train()
    return trainer
