"""Canary: does the workbook still work with the newest releases of its fast-moving dependencies?

    python3 tasks.py canary            # or: python3 scripts/canary.py [pytest args]

Creates a separate environment ``.venv-canary`` with torch 2.13.0 and everything else from
requirements.lock, except trl, transformers, peft, datasets and accelerate, which are upgraded to
their newest releases (ignoring the workbook's own upper bounds). Then it runs the unit tests and
the notebook tests on `tiny` and prints a table: package versions, tests passed/failed, and the
first error line of each failure. Not part of the default test run. Exit code 0 = all passed.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CANARY_VENV = ROOT / ".venv-canary"
UPGRADED = ["trl", "transformers", "peft", "datasets", "accelerate"]


def sh(*cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, **kw)


def build_env() -> Path:
    if not (CANARY_VENV / "bin" / "python").exists():
        venv.create(CANARY_VENV, with_pip=True)
    py = CANARY_VENV / "bin" / "python"
    pinned = [line for line in (ROOT / "requirements.lock").read_text().splitlines()
              if line.split("==")[0].strip().lower() not in UPGRADED]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(pinned) + "\n")
    sh(py, "-m", "pip", "install", "--quiet", "torch==2.13.0", check=True)
    sh(py, "-m", "pip", "install", "--quiet", "-r", handle.name, check=True)
    sh(py, "-m", "pip", "install", "--quiet", "--upgrade", *UPGRADED, check=True)
    sh(py, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ".", check=True)
    return py


def versions(py: Path) -> dict[str, str]:
    code = ("from importlib.metadata import version\n"
            f"for n in {['torch', *UPGRADED]!r}: print(n, version(n))")
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


def failures(junit: Path) -> tuple[int, list[tuple[str, str]]]:
    """(number of tests, [(test id, first error line)]) from a JUnit XML report."""
    root = ET.parse(junit).getroot()
    cases = root.iter("testcase")
    total, failed = 0, []
    for case in cases:
        total += 1
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            text = (problem.get("message") or problem.text or "").strip()
            first = next((line for line in text.splitlines() if line.strip()), "(no message)")
            failed.append((f"{case.get('classname')}::{case.get('name')}", first[:160]))
    return total, failed


def main(pytest_args: list[str]) -> int:
    py = build_env()
    report_dir = ROOT / "reports" / "canary"
    report_dir.mkdir(parents=True, exist_ok=True)
    junit = report_dir / "junit.xml"
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PATH": f"{CANARY_VENV / 'bin'}:/usr/bin:/bin", "HOME": str(Path.home()),
           "STYLE_WORKBOOK_CACHE": str(ROOT / ".cache-canary")}
    sh(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *pytest_args, env=env)
    total, failed = failures(junit)
    print("\n== canary: newest releases ==")
    for name, ver in versions(py).items():
        print(f"  {name:14s} {ver}")
    print(f"  tests: {total - len(failed)} passed, {len(failed)} failed")
    for test, line in failed:
        print(f"  FAIL {test}\n       {line}")
    return 1 if failed or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
