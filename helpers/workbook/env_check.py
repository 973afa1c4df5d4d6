"""The set-up cell's version check: print the stack and warn outside the tested range."""
from __future__ import annotations

import warnings
from importlib.metadata import PackageNotFoundError, version

# The ranges the notebooks were tested on (requirements.lock pins one point inside each).
TESTED = {
    "torch": ("2.4", "2.15"),
    "transformers": ("5.0", "5.99"),
    "trl": ("1.10", "1.99"),
    "peft": ("0.17", "0.99"),
    "datasets": ("4.0", "5.99"),
}
SHOWN = ["torch", "transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes"]


def _tuple(v: str) -> tuple:
    parts = []
    for piece in v.split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def out_of_range(installed: dict[str, str]) -> list[str]:
    """Messages for each package whose version is outside its tested range."""
    problems = []
    for name, (low, high) in TESTED.items():
        have = installed.get(name)
        if have and not (_tuple(low) <= _tuple(have) <= _tuple(high)):
            problems.append(f"{name} {have} is outside the tested range {low} .. {high}")
    return problems


def check_versions(show: bool = True) -> dict[str, str]:
    """Print the versions of the stack and warn (with the tested ranges) when outside them."""
    installed = {}
    for name in SHOWN:
        try:
            installed[name] = version(name)
        except PackageNotFoundError:
            installed[name] = "not installed"
    if show:
        print("stack: " + ", ".join(f"{k} {v}" for k, v in installed.items()))
    for problem in out_of_range(installed):
        warnings.warn(problem + "; if a cell fails, install the tested set: pip install -r requirements.lock",
                      stacklevel=2)
    return installed
