"""Benchmark: our PPO (helpers.ppo), TRL's RLOO and TRL's GRPO on the same batch.

    python scripts/benchmark_online_rl.py [--artifacts artifacts] [--steps 6] [--profile tiny]

All three start from lesson 1's SFT model and score with lesson 3's reward model (built here
through helpers.workbook.upstream if missing), with the profile's replies per step (``P.rl.batch_size``; for
RLOO and GRPO in groups of ``P.rl.group_size`` per prompt),
reply length, temperature and beta, and LoRA where the profile uses it, as in lesson 4. A step is
generation + scoring + the update (for PPO the update includes the policy, reference and value
forward passes). The first step of each is a warm-up and not counted.

PPO runs with the profile's ``P.rl.ppo_epochs`` (what lesson 4 trains; each epoch is a forward and
backward pass over every reply) and, where that is more than one, again with one epoch, which does
the same passes over the batch as RLOO and GRPO do (one update, plus the reference pass): the first
compares what the lesson pays, the second the implementations.

Two passes. **As trained**: each method's replies have the lengths its training gives them (under
a KL penalty PPO's replies on `tiny` shrink within a few steps), which is what lesson 4 pays.
**Same batch**: every reply of every method is exactly ``P.rl.max_new_tokens`` long (EOS suppressed
by ``min_new_tokens``), so the same prompts give the same number of tokens to every method and
the cost per generated token compares the methods' compute, not their reply lengths.

Prints, per pass and method: seconds per step, generated tokens per step, milliseconds per
generated token, and the share of a step spent generating, scoring and in the rest (forward
passes and the update); then each PPO run's cost per generated token as a multiple of RLOO's and
GRPO's, all measured in this run.
"""
from __future__ import annotations

import argparse

PPO = "PPO (helpers.ppo)"
ONE_EPOCH = "PPO, 1 epoch"


def ppo_runs(P) -> dict[str, int]:
    """The PPO rows and their epochs: the lesson's, and one epoch where the lesson makes more."""
    return {PPO: P.rl.ppo_epochs, **({ONE_EPOCH: 1} if P.rl.ppo_epochs > 1 else {})}


def measure(P, sft_path, rm, prompts, steps: int, fixed_length: bool) -> dict:
    """Seconds, generated tokens and generation/scoring seconds of ``steps`` timed steps per method."""
    import time

    from transformers import TrainerCallback

    from helpers import online_rl, ppo
    from helpers.core import models
    from helpers.workbook import upstream

    n = P.rl.max_new_tokens if fixed_length else 0
    rows = {}
    for name, epochs in ppo_runs(P).items():
        model, tokenizer = upstream.load_sft_policy(sft_path, P)
        if P.use_lora:
            from peft import get_peft_model
            model = get_peft_model(model, models.lora_config(P))
        config = ppo.PPOConfig.from_profile(P, target_kl=None, min_new_tokens=n, ppo_epochs=epochs)
        trainer = ppo.PPOTrainer(model, tokenizer, rm.score, config)
        trainer.train(prompts, steps + 1)
        timed = trainer.history[1:]
        rows[name] = {key: sum(r[field] for r in timed) for key, field in
                      (("seconds", "seconds"), ("tokens", "tokens"), ("generate", "seconds_generate"),
                       ("score", "seconds_score"))}

    class StepClock(TrainerCallback):
        """Seconds of each step, and the generation and scoring seconds accumulated by its end."""

        def __init__(self, timer):
            self.timer, self.steps = timer, []

        def on_step_begin(self, *a, **k):
            self.start, self.before = time.perf_counter(), dict(self.timer)

        def on_step_end(self, *a, **k):
            self.steps.append({"seconds": time.perf_counter() - self.start,
                               **{p: self.timer.get(p, 0.0) - self.before.get(p, 0.0) for p in ("generate", "score")}})

    for method in online_rl.METHODS:
        timer = {}
        clock = StepClock(timer)
        model, _ = upstream.load_sft_policy(sft_path, P)
        run = online_rl.train_online(method, model, tokenizer, rm.score, prompts, P, f"/tmp/benchmark_{method}", 0,
                                     steps=steps + 1, beta=P.rl.beta, learning_rate=P.rl.learning_rate,
                                     batch_size=P.rl.batch_size, num_generations=P.rl.group_size,
                                     max_new_tokens=P.rl.max_new_tokens, temperature=P.rl.temperature,
                                     peft_config=models.lora_config(P),
                                     callbacks=[clock], timer=timer,
                                     **({"generation_kwargs": {"min_new_tokens": n}} if n else {}))
        rest = clock.steps[1:]
        rows[f"{method.upper()} (TRL)"] = {"seconds": sum(s["seconds"] for s in rest),
                                          "tokens": sum(run.token_budget.per_step[1:]),
                                          "generate": sum(s["generate"] for s in rest),
                                          "score": sum(s["score"] for s in rest)}
    return rows


def report(title: str, rows: dict, steps: int, P) -> None:
    print(f"\n{title}")
    print(f"{'method':<20}{'s/step':>8}{'tokens/step':>13}{'ms/token':>10}{'generate':>10}{'score':>8}{'rest':>7}")
    for name, r in rows.items():
        rest = r["seconds"] - r["generate"] - r["score"]
        print(f"{name:<20}{r['seconds'] / steps:>8.2f}{r['tokens'] / steps:>13.1f}"
              f"{1000 * r['seconds'] / r['tokens']:>10.1f}{r['generate'] / r['seconds']:>10.0%}"
              f"{r['score'] / r['seconds']:>8.0%}{rest / r['seconds']:>7.0%}")
    per_token = {name: r["seconds"] / r["tokens"] for name, r in rows.items()}
    for name, epochs in ppo_runs(P).items():
        schedule = f"{epochs} epoch{'s' if epochs > 1 else ''} of {P.rl.mini_batch_size}-reply minibatches"
        print(f"{name} ({schedule}): cost per generated token {per_token[name] / per_token['RLOO (TRL)']:.2f}x RLOO's, "
              f"{per_token[name] / per_token['GRPO (TRL)']:.2f}x GRPO's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", default="artifacts")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()

    import torch

    from helpers import get_profile, rewards
    from helpers.core import data
    from helpers.workbook import upstream
    from helpers.workbook.quiet import quiet_libraries

    quiet_libraries()
    P = get_profile(args.profile)
    sft_path = upstream.sft_model_path(args.artifacts, P, 0, built_by="scripts/benchmark_online_rl.py")
    rm = rewards.load_reward_model(upstream.reward_model_paths(args.artifacts, P, 0, "scripts/benchmark_online_rl.py")[0])
    prompts = sorted({r["prompt"] for r in data.load_empathy_pairs("train")})
    print(f"profile {P.name}, {P.rl.batch_size} replies/step, up to {P.rl.max_new_tokens} new tokens, "
          f"{torch.get_num_threads()} threads, {args.steps} timed steps each (after one warm-up step)")
    for title, fixed in (("as trained (each method's own reply lengths):", False),
                         (f"same batch (every reply exactly {P.rl.max_new_tokens} tokens):", True)):
        report(title, measure(P, sft_path, rm, prompts, args.steps, fixed), args.steps, P)


if __name__ == "__main__":
    main()
