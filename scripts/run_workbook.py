"""Run every lesson notebook headless (papermill) and write the summary report.

    python scripts/run_workbook.py --profile small --out reports/latest

Executed notebooks go to ``<out>/executed/``, artifacts to ``<out>/artifacts/``, and the report
(records table per notebook + plots) to ``<out>/report.md``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from helpers.workbook import runner
from helpers.workbook.report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="reports/latest")
    parser.add_argument("--only", nargs="*", help="notebook prefixes to run, e.g. 01 02 (default: all)")
    args = parser.parse_args()

    out = Path(args.out).resolve()
    artifacts = out / "artifacts"
    chosen = [nb for nb in runner.notebooks() if not args.only or any(nb.stem.startswith(o) for o in args.only)]
    executed, timings = [], {}
    for notebook in chosen:
        print(f"running {notebook.name} on {args.profile} ...", flush=True)
        start = time.perf_counter()
        executed.append(runner.execute(notebook.stem, out / "executed", artifacts, profile=args.profile, seed=args.seed))
        timings[notebook.stem] = time.perf_counter() - start
        print(f"  done in {timings[notebook.stem]:.0f} s", flush=True)
    report = write_report(executed, artifacts, out, timings)
    print(f"report: {report}")


if __name__ == "__main__":
    main()
