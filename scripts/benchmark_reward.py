"""Benchmark: scoring 1,000 (prompt, response) pairs with the MiniLM reward model on CPU.

    python scripts/benchmark_reward.py [--model artifacts/03_reward_model/reward_model] [--batch-size 64]

Without --model it uses MiniLM with a fresh scalar head: the cost of scoring is the same as for a
trained reward model of that backbone. Prints pairs/s.
"""
from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()

    from helpers import get_profile
    from helpers.core import data
    from helpers.rewards import RewardModel, backbone_path, load_backbone, load_reward_model
    from helpers.workbook.quiet import quiet_libraries

    quiet_libraries()
    if args.model:
        rm = load_reward_model(args.model)
    else:
        rm = RewardModel(*load_backbone(backbone_path(get_profile("tiny"))))
    rows = data.load_empathy_pairs("train") + data.load_empathy_pairs("test")
    prompts = [rows[i % len(rows)]["prompt"] for i in range(args.n)]
    responses = [rows[i % len(rows)]["chosen" if i % 2 else "rejected"] for i in range(args.n)]
    rm.score(prompts[:32], responses[:32])  # warm-up
    start = time.perf_counter()
    rm.score(prompts, responses, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    print(f"scored {args.n} pairs in {seconds:.2f} s: {args.n / seconds:.0f} pairs/s "
          f"(batch {args.batch_size}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
