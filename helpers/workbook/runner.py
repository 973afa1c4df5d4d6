"""Executing notebooks headless with papermill (tests, the workbook run, the benchmark)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from helpers.core import runtime
from helpers.core.paths import REPO_ROOT
from helpers.workbook.records import read_records

NOTEBOOK_DIR = REPO_ROOT / "notebooks"


def notebooks() -> list[Path]:
    """The lesson notebooks in lesson order."""
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def notebook_path(name: str) -> Path:
    """A notebook by stem or prefix, e.g. ``"01"`` or ``"01_sft_formal_emails"``."""
    matches = [nb for nb in notebooks() if nb.stem == name or nb.stem.startswith(name)]
    if len(matches) != 1:
        raise ValueError(f"no single notebook matches {name!r}; have {[nb.stem for nb in notebooks()]}")
    return matches[0]


def isolate_jupyter_home(root: str | Path) -> None:
    """Keep Jupyter's and IPython's home-directory side effects inside ``root``."""
    root = Path(root)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        (root / sub).mkdir(parents=True, exist_ok=True)
        os.environ[var] = str(root / sub)
    runtime.apply()


def execute(name: str, output_dir: str | Path, artifacts_dir: str | Path, profile: str = "tiny",
            seed: int = 0, **parameters) -> Path:
    """Run one notebook headless (``interactive=False``); return the executed copy's path."""
    import papermill

    source = notebook_path(name)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    isolate_jupyter_home(Path(tempfile.gettempdir()) / f"style-workbook-jupyter-{os.getuid()}")
    target = output_dir / source.name
    params = {"profile": profile, "seed": seed, "artifacts_dir": str(Path(artifacts_dir).resolve()),
              "interactive": False, **parameters}
    papermill.execute_notebook(str(source), str(target), parameters=params, kernel_name="python3",
                               cwd=str(NOTEBOOK_DIR), progress_bar=False, log_output=False)
    return target


def inline_figures(executed: str | Path) -> int:
    """The number of figures an executed notebook shows inline (``image/png`` outputs)."""
    import nbformat

    notebook = nbformat.read(str(executed), as_version=4)
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []))


def run_for_records(name: str, output_dir: str | Path, artifacts_dir: str | Path, profile: str = "tiny",
                    seed: int = 0, **parameters) -> dict:
    """:func:`execute`, then the executed notebook's records plus ``inline_figures``, the number
    of figures it showed (what the notebook tests assert on)."""

    executed = execute(name, output_dir, artifacts_dir, profile=profile, seed=seed, **parameters)
    return {**read_records(executed), "inline_figures": inline_figures(executed)}
