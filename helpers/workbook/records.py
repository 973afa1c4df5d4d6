"""The test contract: notebooks record headline numbers; tests and reports read them back.

``record(name, value)`` displays the value under a custom MIME type, so it survives in the
executed notebook; ``read_records(path)`` collects every record of an executed notebook.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

RECORD_MIME = "application/vnd.style-workbook.record+json"


def _jsonable(value):
    if hasattr(value, "item"):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"record value must be finite, got {value}")
    json.dumps(value)  # raises for anything JSON cannot hold
    return value


def record(name: str, value) -> None:
    """Record a headline number (or small JSON value) in the notebook's output."""
    from IPython.display import display

    value = _jsonable(value)
    shown = f"{value:.4f}" if isinstance(value, float) else repr(value)
    display({RECORD_MIME: {"name": name, "value": value}, "text/plain": f"{name} = {shown}"}, raw=True)


def read_records(notebook_path: str | Path) -> dict:
    """Every record of an executed notebook as ``{name: value}`` (the last one wins)."""
    import nbformat

    nb = nbformat.read(str(notebook_path), as_version=4)
    found = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(RECORD_MIME)
            if payload is not None:
                found[payload["name"]] = payload["value"]
    return found
