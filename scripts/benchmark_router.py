"""Benchmark: 24 mixed-style requests as one mixed batch vs. one request per call.

    python scripts/benchmark_router.py [--adapters artifacts/06_multi_style_lora/adapters] [--n 24]

Without --adapters it builds untrained random LoRA adapters (as the tests do) on the `tiny` base:
generation costs the same as with trained ones. Prints requests/s of

* the router serving all requests as one mixed batch (PEFT's per-row ``adapter_names``);
* the router serving one request per call (its batch-invariant shapes: 4 rows, fixed width);
* plain one-request calls, switching adapters with ``set_adapter`` (``helpers.core.generation.generate``);
* for reference, one plain mixed batch without the router's shape policy.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch


def style_prompts(n: int) -> list[str]:
    """``n`` fact-sheet prompts from data/styles (first two facts and a neutral instruction)."""
    from helpers.core.paths import DATA_DIR

    sheets = [json.loads(line) for line in (DATA_DIR / "styles" / "train.jsonl").read_text().splitlines() if line]
    return ["\n".join(f"- {fact}" for fact in sheets[i % len(sheets)]["facts"][:2])
            + "\nWrite a short piece using these facts." for i in range(n)]


def timed(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_by_one(model, tokenizer, requests, max_new_tokens: int) -> None:
    """Plain single-adapter calls: switch to the request's adapter, generate its reply alone."""
    from helpers.core import generation

    for request in requests:
        if request.style == "generic":
            with model.disable_adapter():
                generation.generate(model, tokenizer, [request.prompt], max_new_tokens=max_new_tokens)
        else:
            model.set_adapter(request.style)
            generation.generate(model, tokenizer, [request.prompt], max_new_tokens=max_new_tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapters", help="folder with one saved adapter per style (default: random adapters)")
    parser.add_argument("--n", type=int, default=24, help="requests, spread evenly over the styles")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--max-prompt-tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from helpers import get_profile
    from helpers.core import generation, models
    from helpers.serving.random_adapters import make_random_adapters
    from helpers.serving.router import BASE_ADAPTER, GENERIC, StyleRequest, StyleRouter
    from helpers.workbook.quiet import quiet_libraries

    quiet_libraries()
    settings = dict(max_prompt_tokens=args.max_prompt_tokens, default_max_new_tokens=args.max_new_tokens,
                    max_batch_size=args.n)
    with tempfile.TemporaryDirectory() as tmp:
        if args.adapters:
            router = StyleRouter.from_folder(args.adapters, **settings)
        else:
            base = models.base_model_path(get_profile("tiny"))
            router = StyleRouter.from_dirs(base, make_random_adapters(base, tmp), **settings)
    prompts = style_prompts(args.n)
    requests = [StyleRequest(router.styles[i % len(router.styles)], p) for i, p in enumerate(prompts)]
    names = [BASE_ADAPTER if r.style == GENERIC else r.style for r in requests]
    model, tokenizer, n = router.model, router.tokenizer, args.n

    results = {
        "router, one mixed batch": timed(lambda: router.generate(requests), args.repeats),
        "router, one request per call": timed(lambda: [router.generate([r]) for r in requests], args.repeats),
        "plain, one request per call (set_adapter)": timed(
            lambda: one_by_one(model, tokenizer, requests, args.max_new_tokens), args.repeats),
        "plain mixed batch, no shape policy (reference)": timed(
            lambda: generation.generate(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens,
                                        batch_size=n, adapter_names=names), args.repeats),
    }
    lengths = [router.prompt_tokens(p) for p in prompts]
    source = f"adapters from {args.adapters}" if args.adapters else "random adapters"
    base = model.get_base_model()
    print(f"{n} requests over styles {', '.join(router.styles)}; greedy, {args.max_new_tokens} new tokens; "
          f"prompts {min(lengths)}-{max(lengths)} tokens, padded to {args.max_prompt_tokens}; {source} on a "
          f"{sum(p.numel() for p in base.parameters()):,}-parameter {base.config.model_type}; "
          f"{torch.get_num_threads()} torch thread(s); median of {args.repeats} runs")
    for name, seconds in results.items():
        print(f"  {name:48s} {seconds:6.2f} s  {n / seconds:7.1f} requests/s")
    single = results["plain, one request per call (set_adapter)"]
    print(f"  mixed batch vs. plain single calls: {single / results['router, one mixed batch']:.1f}x the throughput")


if __name__ == "__main__":
    main()
