"""Experiment tracking for the training lessons (1, 3-6): ``none``, ``trackio`` or ``wandb``.

A notebook's ``tracker`` parameter goes to :func:`use` in its set-up cell. From then on every
TRL trainer built by :func:`helpers.core.trl_configs.trl_config` reports there (``report_to``), and
our PPO module logs each step's reward, KL, beta, entropy, length, clip fraction and losses
through :func:`start_run`. ``trackio`` is local-first: it writes an SQLite file under
``TRACKIO_DIR`` (default ``~/.cache/huggingface/trackio``), needs no account and no network, and
``trackio show`` opens its dashboard; ``wandb`` needs your account.
"""
from __future__ import annotations

import importlib.util

KINDS = ("none", "trackio", "wandb")
_current = {"kind": "none", "project": "style-workbook"}


def use(kind: str = "none", project: str = "style-workbook") -> None:
    """Send the training runs that follow to ``kind`` under ``project``."""
    if kind not in KINDS:
        raise ValueError(f"unknown tracker {kind!r}; choose one of {', '.join(KINDS)}")
    if kind != "none" and importlib.util.find_spec(kind) is None:
        raise ImportError(f"tracker {kind!r} is not installed: .venv/bin/pip install {kind}")
    _current.update(kind=kind, project=project)


def kind() -> str:
    return _current["kind"]


def trainer_settings(run_name: str) -> dict:
    """``report_to`` (and the project and run name) for a transformers/TRL training config."""
    if _current["kind"] == "none":
        return {"report_to": "none"}
    return {"report_to": _current["kind"], "project": _current["project"], "run_name": run_name}


class Run:
    """One run of our own training loops (PPO): ``log(metrics, step)``, then ``finish()``."""

    def __init__(self, module):
        self._module = module  # trackio and wandb both log to the run that init() started

    def log(self, metrics: dict, step: int) -> None:
        numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        self._module.log(numbers, step=step)

    def finish(self) -> None:
        self._module.finish()


def start_run(name: str, config: dict) -> Run | None:
    """A run in the current tracker, or None when tracking is off."""
    if _current["kind"] == "none":
        return None
    module = importlib.import_module(_current["kind"])
    module.init(project=_current["project"], name=name, config=config)
    return Run(module)
