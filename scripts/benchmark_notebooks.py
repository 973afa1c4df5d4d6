"""Benchmark: wall time and peak memory of a headless run of each notebook on one profile.

    python scripts/benchmark_notebooks.py [--profile small] [--only 01 02]

Each notebook runs in a fresh papermill kernel; peak memory is the kernel process's maximum
resident set size (the largest RSS among the finished child processes). The profile's base model
is built (or converted) first and its time printed, so notebook figures do not include it.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.workbook import runner

CHILD = """
import sys, resource
from helpers.workbook import runner
runner.execute(sys.argv[1], sys.argv[2], sys.argv[3], profile=sys.argv[4])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()

    start = time.perf_counter()
    from helpers import get_profile
    from helpers.core import models
    models.base_model_path(get_profile(args.profile))
    print(f"{args.profile} base model ready (build or cache hit) in {time.perf_counter() - start:.1f} s")
    print(f"{'notebook':32s} {'wall s':>8s} {'peak RSS MiB':>13s}")
    with tempfile.TemporaryDirectory() as tmp:
        for notebook in runner.notebooks():
            if args.only and not any(notebook.stem.startswith(o) for o in args.only):
                continue
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", CHILD, notebook.stem, f"{tmp}/out", f"{tmp}/artifacts",
                                   args.profile],
                                  capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                print(f"{notebook.stem:32s} FAILED\n{done.stderr[-2000:]}")
                continue
            peak_mib = int(done.stdout.strip().splitlines()[-1]) / 1024
            print(f"{notebook.stem:32s} {wall:8.1f} {peak_mib:13.0f}", flush=True)


if __name__ == "__main__":
    main()
