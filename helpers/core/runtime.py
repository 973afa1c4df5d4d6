"""The process environment every headless run uses: offline, quiet, and pinned threads.

One place for it: ``tasks.py`` (with the system Python, before the virtual environment exists:
this module imports nothing outside the standard library), ``tests/conftest.py`` and the
papermill runner all apply :func:`environment`.

Why pinned threads: MKL and OpenMP may change the number of threads they use when the machine
is busy (``MKL_DYNAMIC``), and a matrix product summed by another number of threads differs in
the last bits; over a training run or a greedy decode that changes the numbers. With a fixed
count, the same seed gives the same numbers on the same machine, loaded or idle.
"""
from __future__ import annotations

import os

THREADS_VAR = "STYLE_WORKBOOK_THREADS"


def threads() -> int:
    """Threads for torch/MKL/OpenMP: ``STYLE_WORKBOOK_THREADS``, else the CPUs this process may use."""
    if os.environ.get(THREADS_VAR):
        return max(1, int(os.environ[THREADS_VAR]))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def environment() -> dict[str, str]:
    """Variables for offline, quiet, reproducible runs (existing values of the caller win)."""
    n = str(threads())
    return {
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "MKL_DYNAMIC": "FALSE", "OMP_DYNAMIC": "FALSE",
        # no MPLBACKEND: a Jupyter kernel then draws figures inline (in JupyterLab and in executed
        # notebooks), and matplotlib picks Agg by itself where there is no display
    }


def apply() -> None:
    """Set :func:`environment` in ``os.environ`` where the variable is not set yet."""
    for key, value in environment().items():
        os.environ.setdefault(key, value)


def pin_threads() -> int:
    """Fix torch's intra-op thread count (the environment variables only reach new processes)."""
    import torch

    n = threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
