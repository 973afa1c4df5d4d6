"""The set-up cell of every notebook in one call: ``P, out = helpers.start(notebook, profile, seed, artifacts_dir)``.

Imports nothing heavy at module level (``helpers`` itself stays importable before the virtual
environment exists: ``tasks.py`` reads :mod:`helpers.core.runtime` with the system Python).
"""
from __future__ import annotations

from pathlib import Path

from helpers.core import runtime, tracking
from helpers.core.paths import artifact_dir
from helpers.core.profiles import Profile, get_profile
from helpers.core.seeding import set_seed
from helpers.workbook import env_check
from helpers.workbook.quiet import quiet_libraries


def describe(profile: Profile, out: Path) -> str:
    """One line on what this run uses: the policy, its precision, LoRA or not, threads, artifacts."""
    precision = "bf16 weights and autocast on CPU" if profile.use_cpu and profile.precision == "bf16" else profile.precision
    return (f"profile {profile.name}: policy {profile.policy_model}, precision {precision}, "
            f"LoRA={profile.use_lora}, {runtime.threads()} threads; artifacts in {out}")


def start(notebook: str, profile: str = "small", seed: int = 0, artifacts_dir: str | Path = "../artifacts",
          tracker: str = "none", colwidth: int = 100) -> tuple[Profile, Path]:
    """Quiet the libraries' progress bars, send training runs to ``tracker``, check the stack's
    versions, seed everything, and return the profile and ``artifacts_dir/<notebook>/``.

    ``notebook`` is the notebook's file name without ``.ipynb`` (e.g. ``"01_sft_formal_emails"``);
    ``colwidth`` is how much of a text a pandas table shows.
    """
    import pandas as pd

    quiet_libraries()
    tracking.use(tracker, project=f"style-workbook-{notebook[:2]}")
    env_check.check_versions()
    set_seed(seed)
    P = get_profile(profile)
    out = artifact_dir(artifacts_dir, notebook)
    pd.set_option("display.max_colwidth", colwidth)
    print(describe(P, out))
    return P, out
