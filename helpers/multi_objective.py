"""Lesson 8 (multi-objective alignment): Pareto fronts, their hypervolume, and rewarded soups.

Two objectives in tension (say friendliness and professionalism) have no single best policy, only a
**Pareto front**: the policies no other policy beats on both. A method that trades them off (a
weighted reward sum swept over weights, a mix of two adapters, a constrained objective) is judged by
the front it reaches and by its **hypervolume**, the area the front dominates above a reference
point (larger is better; it rewards both reach and spread).

**Rewarded soups** (Ramé et al. 2023) skip retraining per trade-off: train one LoRA adapter per
objective from the same base, then interpolate. For LoRA, interpolating the weights of two
fine-tunes of one base, ``(1 - w) * (W0 + B1 A1) + w * (W0 + B2 A2)``, is ``W0 + (1 - w) B1 A1 +
w B2 A2``, which PEFT's ``add_weighted_adapter(..., combination_type="cat")`` builds exactly (it
stacks the scaled factors, so the rank is the sum of both).
"""
from __future__ import annotations

import numpy as np


def pareto_front(points, maximise=(True, True)) -> np.ndarray:
    """Indices of the non-dominated rows of an ``(n, 2)`` array, ordered by the first objective.

    A point is dominated if another is at least as good on both objectives and better on one;
    ``maximise`` says, per objective, whether larger is better. Exact duplicates are kept once.
    """
    p = _oriented(points, maximise)
    order = np.lexsort((-p[:, 1], -p[:, 0]))  # best first objective first; ties: best second first
    front, best_second = [], -np.inf
    for i in order:
        if p[i, 1] > best_second:
            front.append(i)
            best_second = p[i, 1]
    return np.array(sorted(front, key=lambda i: p[i, 0]), dtype=int)


def hypervolume(points, reference, maximise=(True, True)) -> float:
    """The area dominated by the points' Pareto front and bounded by ``reference`` (a point worse
    than every point of interest on both objectives, e.g. the worse of the two starting scores).
    Points not better than the reference on both objectives add nothing."""
    p = _oriented(points, maximise)
    ref = _oriented(np.asarray(reference, dtype=float)[None], maximise)[0]
    p = p[(p[:, 0] > ref[0]) & (p[:, 1] > ref[1])]
    if len(p) == 0:
        return 0.0
    front = p[pareto_front(p)]          # ascending in the first objective, so descending in the second
    widths = np.diff(np.concatenate([[ref[0]], front[:, 0]]))
    return float(np.sum(widths * (front[:, 1] - ref[1])))


def _oriented(points, maximise) -> np.ndarray:
    p = np.asarray(points, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"need an (n, 2) array of two objectives, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("objective values must be finite")
    return p * np.where(np.asarray(maximise, dtype=bool), 1.0, -1.0)


def add_soup(model, adapters: tuple[str, str], weight: float, name: str | None = None) -> str:
    """Add the rewarded soup ``(1 - weight) * adapters[0] + weight * adapters[1]`` to a PEFT model
    as a new adapter and make it active; returns its name. ``weight`` lies in [0, 1]; the two
    adapters must be LoRA adapters of the same base. The originals are kept unchanged."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight!r}")
    first, second = adapters
    missing = [a for a in adapters if a not in model.peft_config]
    if missing:
        raise ValueError(f"no adapter named {missing} (the model has {sorted(model.peft_config)})")
    name = name or f"soup_{first}_{second}_{round(100 * weight):03d}"  # no "." in a PEFT adapter name
    if name in model.peft_config:
        raise ValueError(f"an adapter named {name!r} already exists: pick another name or delete it first")
    model.add_weighted_adapter([first, second], [1.0 - weight, weight], name, combination_type="cat")
    model.set_adapter(name)
    return name
