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

from helpers.labeling import PairwiseLabeler
from helpers.metrics.style import embed

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


class PairRewardModel:
    """A reward model cheap enough to retrain after every round of labels: a Bradley–Terry model on
    MiniLM sentence embeddings, r(y) = w·e(y), fitted by logistic regression on e(chosen) − e(rejected)
    (each pair also enters swapped, so there is no intercept to learn a side from).

    Embeddings are memoised per text for the life of the process: the rounds score the same pool,
    candidates and test pairs again after every refit."""

    _vectors: dict[str, np.ndarray] = {}

    @classmethod
    def embed(cls, texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in cls._vectors))
        cls._vectors.update(zip(new, embed(new)))
        return np.stack([cls._vectors[t] for t in texts]) if texts else embed([])

    def __init__(self, weights: np.ndarray):
        self.weights = np.asarray(weights, dtype=float)

    @classmethod
    def fit(cls, chosen: list[str], rejected: list[str], C: float = 1.0) -> "PairRewardModel":
        from sklearn.linear_model import LogisticRegression

        if len(chosen) != len(rejected) or not chosen:
            raise ValueError(f"need one rejected reply per chosen one, and at least one pair: got {len(chosen)} "
                             f"and {len(rejected)}")
        diff = cls.embed(list(chosen)) - cls.embed(list(rejected))
        x, y = np.vstack([diff, -diff]), np.r_[np.ones(len(diff)), np.zeros(len(diff))]
        return cls(LogisticRegression(C=C, fit_intercept=False, max_iter=2000).fit(x, y).coef_[0])

    def scores(self, texts: list[str]) -> np.ndarray:
        """The reward of each text (a logit scale: a difference of 1 is odds of e to 1)."""
        return self.embed(list(texts)) @ self.weights if texts else np.zeros(0)

    def margins(self, a: list[str], b: list[str]) -> np.ndarray:
        """r(a) − r(b) per pair: positive where the model prefers ``a``."""
        return self.scores(a) - self.scores(b)

    def accuracy(self, chosen: list[str], rejected: list[str]) -> float:
        """Share of pairs where the chosen reply gets the higher reward."""
        return float(np.mean(self.margins(chosen, rejected) > 0))


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
    target = list(random_accuracy)[-1]  # any sequence: a list, an array, a pandas column
    needed = labels_to_reach(active_labels, active_accuracy, target)
    random_needed = labels_to_reach(random_labels, random_accuracy, target)
    if needed is None:
        return 0.0
    return float("inf") if needed == 0 else random_needed / needed


def pair_items(pairs: list[dict], seed: int) -> tuple[list[dict], Callable[[dict], str]]:
    """Labeller items ``{item_id, prompt, response_a, response_b}`` from preference rows with an
    ``id`` (the chosen reply on side a or b at random), and the known preference a scripted rater
    answers with: the side of the row's chosen reply."""
    rng = np.random.default_rng(seed)
    items, chosen_side = [], {}
    for row, swap in zip(pairs, rng.random(len(pairs)) < 0.5):
        a, b = (row["rejected"], row["chosen"]) if swap else (row["chosen"], row["rejected"])
        items.append({"item_id": row["id"], "prompt": row["prompt"], "response_a": a, "response_b": b})
        chosen_side[row["id"]] = "b" if swap else "a"
    return items, lambda item: chosen_side[item["item_id"]]


def run_rounds(strategy: str, items: list[dict], rater: ScriptedRater, store_path, evaluate: Callable,
               seed_labels: int, per_round: int, rounds: int, seed: int = 0, rater_name: str = "scripted",
               trait: str = "constitution") -> list[dict]:
    """Rounds of human-in-the-loop labelling. Round 0 labels ``seed_labels`` random items (the same
    for every strategy with one seed); each later round labels ``per_round`` more, picked by
    ``strategy`` from the margins of the reward model fitted on every label so far. Every label goes
    through a ``PairwiseLabeler`` on ``store_path`` (answered by ``rater``; items already labelled
    there are not asked again). Returns per round ``{round, labels, model, **evaluate(model)}``."""
    labelled, history, model = [], [], None
    for r in range(rounds + 1):
        if r == 0:
            picks = pick_pairs("random", np.zeros(len(items)), seed_labels, seed=seed)
        else:
            margins = model.margins([i["response_a"] for i in items], [i["response_b"] for i in items])
            picks = pick_pairs(strategy, margins, per_round, seed=seed + r, exclude=labelled)
        rater.label(PairwiseLabeler([items[i] for i in picks], store_path, rater_name, trait, seed=seed))
        labelled += picks
        pairs = PairwiseLabeler([items[i] for i in labelled], store_path, rater_name, trait, seed=seed).preference_pairs()
        model = PairRewardModel.fit([p["chosen"] for p in pairs], [p["rejected"] for p in pairs])
        history.append({"round": r, "labels": len(labelled), "model": model, **evaluate(model)})
    return history
