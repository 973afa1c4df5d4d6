"""Benchmark: seconds per step of our PPO (helpers.ppo) and TRL's RLOOTrainer on the same batch.

    python scripts/benchmark_ppo.py [--artifacts artifacts] [--steps 10] [--profile tiny]

Both start from lesson 1's SFT model and score with lesson 3's reward model (built here through
helpers.upstream if missing), with 16 replies per step of the profile's reply length and
temperature. A step is rollout + scoring + update. The first step of each is a warm-up and not
counted. Prints s/step for both and the ratio.
"""
from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", default="artifacts")
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()

    import torch
    from transformers import TrainerCallback

    from helpers import data, get_profile, ppo, rewards, rloo, upstream
    from helpers.trl_configs import quiet_libraries

    quiet_libraries()
    P = get_profile(args.profile)
    sft_path = upstream.sft_model_path(args.artifacts, P, 0, built_by="scripts/benchmark_ppo.py")
    rm = rewards.load_reward_model(upstream.reward_model_paths(args.artifacts, P, 0, "scripts/benchmark_ppo.py")[0])
    prompts = sorted({r["prompt"] for r in data.load_empathy_pairs("train")})

    model, tokenizer = upstream.load_sft_policy(sft_path, P)
    config = ppo.PPOConfig.from_profile(P, target_kl=None)
    trainer = ppo.PPOTrainer(model, tokenizer, rm.score, config)
    trainer.train(prompts, args.steps + 1)
    ppo_times = [row["seconds"] for row in trainer.history[1:]]
    ppo_tokens = sum(row["length"] for row in trainer.history[1:]) / args.steps

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self.start = [], None

        def on_step_begin(self, *a, **k):
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            self.times.append(time.perf_counter() - self.start)

    timer = StepTimer()
    model, _ = upstream.load_sft_policy(sft_path, P)
    rloo_trainer = rloo.train_rloo(model, tokenizer, rm.score, prompts, P, "/tmp/benchmark_rloo", 0,
                                   steps=args.steps + 1, beta=P.ppo_beta, learning_rate=P.ppo_learning_rate,
                                   batch_size=P.ppo_batch_size, max_new_tokens=P.ppo_max_new_tokens,
                                   temperature=P.ppo_temperature, callbacks=[timer])
    rloo_lengths = [row.get("completions/mean_length", float("nan")) for row in rloo_trainer.state.log_history]
    ppo_step, rloo_step = sum(ppo_times) / len(ppo_times), sum(timer.times[1:]) / len(timer.times[1:])
    print(f"profile {P.name}, {P.ppo_batch_size} replies/step, up to {P.ppo_max_new_tokens} new tokens, "
          f"{torch.get_num_threads()} threads, {args.steps} timed steps each")
    print(f"PPO  (helpers.ppo):  {ppo_step:.2f} s/step (mean reply length {ppo_tokens:.1f} tokens)")
    print(f"RLOO (TRL):          {rloo_step:.2f} s/step (mean reply length {rloo_lengths[-2] if len(rloo_lengths) > 1 else 'n/a'})")
    print(f"ratio PPO / RLOO:    {ppo_step / rloo_step:.2f}")


if __name__ == "__main__":
    main()
