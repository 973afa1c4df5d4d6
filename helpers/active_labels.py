"""Lesson 9: which pairs a person labels next, and a scripted rater that answers the labeller.

Active selection asks about the pairs the reward model is least sure of (the smallest reward
margin); random selection is the control. In headless runs the scripted rater stands in for the
person: it answers the same ``labeling.PairwiseLabeler`` a learner clicks in JupyterLab, so every
label reaches the reward model through one code path and one label file.
"""
from __future__ import annotations

import random
from typing import Callable

import numpy as np

STRATEGIES = ("active", "random")


def pick_pairs(strategy: str, margins, k: int, seed: int = 0, exclude=()) -> list[int]:
    """Indices of ``k`` pairs not in ``exclude``: ``active`` those with the smallest |margin| (the
    reward model's score of one reply minus the other's; ties go to the lower index), ``random`` a
    seeded draw."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    margins = np.asarray(margins, dtype=float)
    taken = set(exclude)
    free = np.array([i for i in range(len(margins)) if i not in taken], dtype=int)
    if not 0 < k <= len(free):
        raise ValueError(f"asked for {k} pairs; {len(free)} of {len(margins)} are still unlabelled")
    if strategy == "active":
        return free[np.argsort(np.abs(margins[free]), kind="stable")][:k].tolist()
    return sorted(np.random.default_rng(seed).choice(free, size=k, replace=False).tolist())


class ScriptedRater:
    """Answers a ``PairwiseLabeler`` as a person whose preference is known: ``prefers(item)``
    returns ``"a"`` or ``"b"`` for an item ``{item_id, prompt, response_a, response_b}``, and the
    rater picks the other side with probability ``error_rate`` (people slip)."""

    def __init__(self, prefers: Callable[[dict], str], error_rate: float = 0.0, seed: int = 0):
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be within [0, 1], got {error_rate}")
        self.prefers, self.error_rate, self.rng = prefers, error_rate, random.Random(seed)

    def label(self, labeler, n: int | None = None) -> int:
        """Label up to ``n`` items (all that are left with ``None``) in the labeller's order, each
        through ``labeler.choose`` on the side shown; returns how many were labelled."""
        by_id = {item["item_id"]: item for item in labeler.items}
        done = 0
        while n is None or done < n:
            shown = labeler.shown()
            if shown is None:
                break
            item = by_id[shown["item_id"]]
            side = self.prefers(item)
            if side not in ("a", "b"):
                raise ValueError(f"prefers() must return 'a' or 'b', got {side!r} for item {item['item_id']!r}")
            if self.rng.random() < self.error_rate:
                side = "b" if side == "a" else "a"
            left, _ = labeler.sides(item)
            labeler.choose("left" if side == left else "right", item_id=item["item_id"])
            done += 1
        return done


def labels_to_reach(labels, accuracy, target: float) -> float | None:
    """The fewest labels at which a learning curve (``accuracy`` after ``labels``) reaches
    ``target``; ``None`` if it never does."""
    for n, acc in zip(labels, accuracy):
        if acc >= target:
            return float(n)
    return None


def label_efficiency(active_labels, active_accuracy, random_labels, random_accuracy) -> float:
    """Labels random selection spent to reach its final accuracy, divided by the labels active
    selection needed to reach that accuracy: above 1, active selection needs fewer; 0 if it never
    gets there (infinite if it starts there)."""
    needed = labels_to_reach(active_labels, active_accuracy, random_accuracy[-1])
    random_needed = labels_to_reach(random_labels, random_accuracy, random_accuracy[-1])
    if needed is None:
        return 0.0
    return float("inf") if needed == 0 else random_needed / needed
