"""Saving what the learner made without ever losing an earlier copy."""
from __future__ import annotations

import shutil
from pathlib import Path


def fresh_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Return ``path`` ready to write into.

    If it already holds something and ``overwrite`` is False, the old folder is moved aside to
    ``<name>.previous-<n>`` (and a line says so) instead of being replaced.
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        if overwrite:
            shutil.rmtree(path)
        else:
            n = 1
            while path.with_name(f"{path.name}.previous-{n}").exists():
                n += 1
            kept = path.with_name(f"{path.name}.previous-{n}")
            path.rename(kept)
            print(f"kept the earlier {path.name} as {kept}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_model(model, tokenizer, path: str | Path, overwrite: bool = False) -> Path:
    """Save a model (or PEFT adapter) and its tokenizer; an earlier save is kept, not replaced."""
    path = fresh_dir(path, overwrite)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
