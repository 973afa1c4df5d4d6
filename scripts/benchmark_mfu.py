"""Benchmark: model FLOP utilisation (MFU) of training and generation against this CPU's matmul peak.

    python scripts/benchmark_mfu.py [--profile small] [--steps 3]

In one run, on the profile's base model and the threads the workbook pins:
1. the matmul peak: a 2048 x 2048 x 2048 matmul in fp32 and in bf16 (best of five);
2. one lesson-1 training step (LoRA forward + backward + optimizer on a batch of the profile's
   ``batch_size`` lesson-1 rows, at the profile's precision), timed over ``--steps`` steps after a
   warm-up;
3. greedy generation of ``gen_batch_size`` replies of 64 new tokens.

FLOPs are counted, not estimated: ``torch.utils.flop_counter.FlopCounterMode`` adds up every
matmul and attention operation the step actually runs (a frozen LoRA base needs no weight
gradients, so a LoRA step is about 4, not 6, FLOPs per parameter and token). MFU = achieved FLOP/s
/ the measured peak of the precision the model runs in. The second half of the table says where
a training step's time goes (the profiler's top operators), i.e. what holds MFU down.
"""
from __future__ import annotations

import argparse
import time


def matmul_peak(dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` FLOP/s of an n x n x n matmul in ``dtype``."""
    import torch

    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def counted_flops(fn) -> tuple[int, float]:
    """(FLOPs counted while running ``fn``, seconds of an uncounted second run)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    start = time.perf_counter()
    fn()
    return counter.get_total_flops(), time.perf_counter() - start


def training_step_fn(model, tokenizer, rows, profile):
    """One LoRA SFT step on ``rows``, the loss on every token: lesson 1 masks the prompt out of the
    loss, which changes no matmul, so the FLOPs and the time are those of its steps."""
    import torch

    from helpers.core import models

    texts = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=profile.max_length)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def step():
        with models.autocast(model):
            loss = model(**enc, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return step, int(enc["attention_mask"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()

    import torch
    from peft import get_peft_model

    import helpers
    from helpers.core import data, models
    from helpers.core.generation import generate

    helpers.set_seed(0)
    P = helpers.get_profile(args.profile)
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    precision = "bf16" if P.precision == "bf16" else "fp32"
    peak = peaks[precision]
    print(f"profile {P.name}, {torch.get_num_threads()} threads, model runs in {precision}")
    print(f"matmul peak (2048^3): fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s "
          f"(bf16/fp32 {peaks['bf16'] / peaks['fp32']:.2f}x)")

    base = models.base_model_path(P)
    tokenizer = models.load_tokenizer(base)
    model = get_peft_model(models.load_causal_lm(base, P), models.lora_config(P, always=True))
    rows = data.load_formal_emails("train")[: P.batch_size]
    step, tokens = training_step_fn(model, tokenizer, rows, P)
    step()  # warm-up
    flops, _ = counted_flops(step)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = (time.perf_counter() - start) / args.steps
    print(f"training step ({len(rows)} rows, {tokens} tokens): {seconds:.2f} s, {flops / 1e9:.0f} GFLOP counted, "
          f"{flops / seconds / 1e9:.0f} GFLOP/s = MFU {flops / seconds / peak:.1%} of the {precision} peak")

    prompts = [r["messages"][:-1] for r in data.load_formal_emails("test")[: P.gen_batch_size]]
    model.eval()

    def gen():
        generate(model, tokenizer, prompts, max_new_tokens=64, min_new_tokens=64, batch_size=len(prompts), seed=0)

    gen_flops, gen_seconds = counted_flops(gen)
    print(f"generation ({len(prompts)} replies x 64 new tokens, greedy, KV cache): {gen_seconds:.2f} s, "
          f"{gen_flops / 1e9:.0f} GFLOP counted, {gen_flops / gen_seconds / 1e9:.0f} GFLOP/s = "
          f"MFU {gen_flops / gen_seconds / peak:.1%} ({len(prompts) * 64 / gen_seconds:.0f} new tokens/s)")

    model.train()
    from torch.profiler import profile
    with profile() as prof:
        step()
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    print("where a training step's time goes (self CPU time, top operators):")
    for event in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:8]:
        print(f"  {event.key:48s} {100 * event.self_cpu_time_total / total:5.1f}%")


if __name__ == "__main__":
    main()
