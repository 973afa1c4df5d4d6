"""Saving what the learner made without ever losing an earlier copy (lessons 1 and 3-6).

A save writes into a hidden sibling folder first and renames it into place only once it is
complete, so a save that fails half-way leaves the earlier copy as it was (and no partial folder
under the real name). An earlier copy is moved aside to ``<name>.previous-<n>``, or, with
``overwrite=True``, deleted after the new one is in place, and only when the workbook wrote it
(a marker file says so): a folder holding anything else, such as a notebook's artifacts folder
with its label files, is never deleted.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

MARKER = ".written-by-style-workbook"


def _kept_aside_name(path: Path) -> Path:
    n = 1
    while path.with_name(f"{path.name}.previous-{n}").exists():
        n += 1
    return path.with_name(f"{path.name}.previous-{n}")


def _check_replaceable(path: Path, overwrite: bool) -> None:
    if overwrite and path.exists() and any(path.iterdir()) and not (path / MARKER).exists():
        raise FileExistsError(f"{path} holds files the workbook did not save there (e.g. "
                              f"{next(path.iterdir()).name}); overwrite=True deletes only earlier saves: "
                              "choose another folder or move that one away")


def save_atomically(path: str | Path, write: Callable[[Path], None], overwrite: bool = False) -> Path:
    """Call ``write(folder)`` on a fresh hidden sibling folder, then move it to ``path``.

    An earlier non-empty ``path`` is kept as ``<name>.previous-<n>`` (a line says so), or with
    ``overwrite`` deleted once the new copy is in place, if the workbook wrote it.
    """
    path = Path(path)
    _check_replaceable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.saving-{os.getpid()}")
    if staging.exists():  # left by an earlier failed save of this process
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        write(staging)
        (staging / MARKER).write_text("saved by helpers.core.checkpoints; overwrite=True may replace this folder\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if path.exists() and any(path.iterdir()):
        old = path.with_name(f".{path.name}.replaced-{os.getpid()}") if overwrite else _kept_aside_name(path)
        path.rename(old)
    elif path.exists():
        path.rmdir()
    staging.rename(path)
    if old is not None and overwrite:
        shutil.rmtree(old)
    elif old is not None:
        print(f"kept the earlier {path.name} as {old}")
    return path


def save_model(model, tokenizer, path: str | Path, overwrite: bool = False) -> Path:
    """Save a model (or PEFT adapter) and its tokenizer atomically; an earlier save is kept aside
    as ``<name>.previous-<n>`` unless ``overwrite``."""
    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return save_atomically(path, write, overwrite)
