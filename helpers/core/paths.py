"""Where the workbook keeps its data, caches and artifacts."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"


def cache_dir() -> Path:
    """Folder for deterministic, rebuildable caches (tiny model, scorers).

    Override with the ``STYLE_WORKBOOK_CACHE`` environment variable.
    """
    path = Path(os.environ.get("STYLE_WORKBOOK_CACHE", REPO_ROOT / ".cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def artifact_dir(artifacts_dir: str | Path, notebook: str) -> Path:
    """``artifacts_dir/<notebook>/``, created if missing."""
    path = Path(artifacts_dir) / notebook
    path.mkdir(parents=True, exist_ok=True)
    return path
