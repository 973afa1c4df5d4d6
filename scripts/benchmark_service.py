"""Benchmark: the HTTP style service under 16 concurrent clients against the same model's raw
batched ``generate()``, measured in one run.

    python scripts/benchmark_service.py [--profile small] [--clients 16] [--requests 64] [--adapters DIR]

Without --adapters it builds untrained random LoRA adapters on the profile's base (generation
costs the same as with trained ones). Prints p50/p99 latency and generated tokens/s of the
service (OpenAI endpoint, greedy, mixed styles), then tokens/s of the router's own batched call
on the same requests (no HTTP) and of plain batched ``generate()`` (no adapters, no fixed shapes),
and the service's throughput as a ratio of each.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # serving_support


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--adapters")
    parser.add_argument("--no-batch-invariance", dest="batch_invariant", action="store_false",
                        help="the router without fixed shapes (the service's --no-batch-invariance)")
    parser.add_argument("--max-wait-ms", type=float, help="the router's batching window (default: the profile's)")
    args = parser.parse_args()

    import openai
    from benchmark_router import style_prompts
    from serving_support import serve

    from helpers import get_profile
    from helpers.core import generation, models
    from helpers.serving.random_adapters import make_random_adapters
    from helpers.serving.router import StyleRequest
    from helpers.serving.service import create_app, load_router
    from helpers.workbook.quiet import quiet_libraries

    quiet_libraries()
    P = get_profile(args.profile)
    root = Path(args.adapters or tempfile.mkdtemp(prefix="bench-adapters-"))
    styles = ("news_brief", "feature_story", "social_ad")
    if not args.adapters:
        make_random_adapters(models.base_model_path(P), root, styles, seed=3, profile=P)
    router = load_router(root, P.name, default_max_new_tokens=args.max_new_tokens,
                         max_batch_size=args.clients, max_queue=4 * args.requests, batch_invariant=args.batch_invariant,
                         **({} if args.max_wait_ms is None else {"max_wait_ms": args.max_wait_ms}))
    prompts = style_prompts(args.requests)
    jobs = [(router.styles[i % len(router.styles)], p) for i, p in enumerate(prompts)]

    from helpers.core import runtime

    runtime.pin_threads()

    def plain_generate(batch):
        with router.model.disable_adapter():
            return generation.generate(router.model, router.tokenizer, batch, max_new_tokens=args.max_new_tokens,
                                       batch_size=args.clients, do_sample=False, **router.generate_kwargs)

    with serve(create_app(router)) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="none", max_retries=0, timeout=600)

        def ask(job):
            sent = time.perf_counter()
            answer = client.chat.completions.create(model=job[0], messages=[{"role": "user", "content": job[1]}])
            return time.perf_counter() - sent, answer.choices[0].message.content, answer.usage.completion_tokens

        # warm-up of every path with a full batch (the first call of a shape costs far more), and the
        # router's worker thread started before anything is timed: measured on a loaded machine,
        # direct calls made before that thread existed ran up to 30x slower than after
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(ask, jobs[:args.clients]))
        router.generate([StyleRequest(s, p) for s, p in jobs[:args.clients]])
        plain_generate(prompts[:args.clients])

        router.batch_sizes.clear()
        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(ask, jobs))
        service_seconds = time.perf_counter() - start
        service_batches = dict(sorted(router.batch_sizes.items()))

        start = time.perf_counter()
        direct = []
        for k in range(0, len(jobs), args.clients):
            direct += router.generate([StyleRequest(s, p) for s, p in jobs[k:k + args.clients]])
        router_seconds = time.perf_counter() - start

        start = time.perf_counter()
        plain = plain_generate(prompts)
        plain_seconds = time.perf_counter() - start
    router.close()
    tokens = router.count_tokens
    router_tps = sum(map(tokens, direct)) / router_seconds
    plain_tps = sum(map(tokens, plain)) / plain_seconds
    latencies = sorted(r[0] for r in results)
    service_tps = sum(r[2] for r in results) / service_seconds
    same = sum(r[1] == d for r, d in zip(results, direct))
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(f"profile {P.name}, {args.requests} requests of {args.max_new_tokens} new tokens, {args.clients} clients, "
          f"batch invariance {'on' if args.batch_invariant else 'off'}")
    print(f"service (OpenAI endpoint): {service_tps:.1f} tokens/s, p50 {statistics.median(latencies):.2f} s, "
          f"p99 {p99:.2f} s; {same}/{len(jobs)} replies equal the router's direct ones")
    print(f"router, batches of {args.clients} without HTTP: {router_tps:.1f} tokens/s")
    print(f"plain batched generate() (base model, no fixed shapes): {plain_tps:.1f} tokens/s")
    print(f"batches served by the worker (size: count): {service_batches}")
    print(f"service / router: {service_tps / router_tps:.2f}x; service / plain generate: {service_tps / plain_tps:.2f}x")


if __name__ == "__main__":
    main()
