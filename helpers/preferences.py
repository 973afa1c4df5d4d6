"""From ratings to preference pairs (lesson 2): Likert -> pairwise, majority vote, position bias, leniency.

Output rows follow TRL's preference format: ``prompt``, ``chosen``, ``rejected`` (+ ``margin``).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations

import numpy as np

from helpers.core.checkpoints import save_atomically
from helpers.core.data import load_empathy_pairs


def mean_scores(ratings: list[dict], trait: str) -> dict[str, float]:
    """Mean Likert score per item for one trait, across raters."""
    by_item = defaultdict(list)
    for r in ratings:
        if r["trait"] == trait:
            by_item[r["item_id"]].append(r["score"])
    return {item: float(np.mean(scores)) for item, scores in by_item.items()}


def likert_to_pairs(items: list[dict], ratings: list[dict], trait: str, min_margin: float = 1.0) -> list[dict]:
    """Pair every two responses to the same prompt whose mean scores differ by ``min_margin`` or more.

    Closer scores are treated as ties and dropped (they would teach noise). ``margin`` is the
    difference of mean scores, usable as RewardTrainer's margin.
    """
    means = mean_scores(ratings, trait)
    by_prompt = defaultdict(list)
    for item in items:
        if item["item_id"] in means:
            by_prompt[item["prompt"]].append(item)
    pairs = []
    for prompt, group in by_prompt.items():
        for x, y in combinations(group, 2):
            gap = means[x["item_id"]] - means[y["item_id"]]
            if abs(gap) < min_margin:
                continue
            chosen, rejected = (x, y) if gap > 0 else (y, x)
            pairs.append({"prompt": prompt, "chosen": chosen["response"], "rejected": rejected["response"],
                          "margin": round(abs(gap), 4), "trait": trait,
                          "chosen_id": chosen["item_id"], "rejected_id": rejected["item_id"]})
    return pairs


def majority_vote(labels: list[dict]) -> dict[str, str]:
    """Winner per item across raters ("a", "b" or "tie"); a split vote or a tie majority is "tie"."""
    votes = defaultdict(Counter)
    for label in labels:
        votes[label["item_id"]][label["winner"]] += 1
    result = {}
    for item, counter in votes.items():
        (top, n_top), *rest = counter.most_common() + [(None, 0)]
        result[item] = "tie" if top == "tie" or (rest and rest[0][1] == n_top) else top
    return result


def left_win_rate(labels: list[dict]) -> float:
    """Among non-tie pairwise labels, the share won by the response shown on the left.

    About 0.5 when raters ignore position; far from it means position bias (and shows why the
    order must be randomised)."""
    decided = [label for label in labels if label["winner"] != "tie"]
    if not decided:
        return float("nan")
    return sum(label["winner"] == label["left"] for label in decided) / len(decided)


def position_bias_p_value(labels: list[dict]) -> float:
    """Two-sided binomial test of "the left-hand reply wins half the decided pairs" (lesson 2):
    a small p-value says the rater's choices depend on position."""
    from scipy.stats import binomtest

    decided = [label for label in labels if label["winner"] != "tie"]
    if not decided:
        return 1.0
    return float(binomtest(sum(label["winner"] == label["left"] for label in decided), len(decided), 0.5).pvalue)


def position_biased(labels_by_rater: dict[str, list[dict]], alpha: float = 0.01) -> list[str]:
    """The raters whose left-win rate differs from 0.5 at significance ``alpha``."""
    return [name for name, labels in labels_by_rater.items() if position_bias_p_value(labels) < alpha]


def rater_leniency(ratings: list[dict], trait: str) -> dict[str, float]:
    """Per rater: mean of (their score - the other raters' mean on the same item). > 0 = lenient."""
    by_item = defaultdict(dict)
    for r in ratings:
        if r["trait"] == trait:
            by_item[r["item_id"]][r["rater"]] = r["score"]
    offsets = defaultdict(list)
    for scores in by_item.values():
        for rater, score in scores.items():
            others = [s for other, s in scores.items() if other != rater]
            if others:
                offsets[rater].append(score - np.mean(others))
    return {rater: float(np.mean(v)) for rater, v in sorted(offsets.items())}


def leniency_corrected_spread(ratings: list[dict], trait: str) -> dict[str, float]:
    """Per item: max - min of the scores after removing each rater's leniency offset (lesson 2).

    Without the correction a lenient and a harsh rater make every item they share look contested."""
    offset = rater_leniency(ratings, trait)
    by_item = defaultdict(list)
    for r in ratings:
        if r["trait"] == trait:
            by_item[r["item_id"]].append(r["score"] - offset.get(r["rater"], 0.0))
    return {item: float(max(v) - min(v)) for item, v in by_item.items()}


def likert_as_pairwise(items: list[dict], ratings: list[dict], trait: str) -> np.ndarray:
    """raters × pairs matrix of the pairwise verdicts implied by each rater's Likert scores.

    Every two responses to one prompt form a pair; a rater's verdict is 0 (first higher), 1
    (second higher) or 2 (equal scores), NaN where the rater scored only one of them. Nominal
    Krippendorff's alpha on it measures how much the *same* raters agree in the pairwise format."""
    matrix, raters, item_ids = reliability_matrix(ratings, trait)
    column = {item_id: j for j, item_id in enumerate(item_ids)}
    by_prompt = defaultdict(list)
    for item in items:
        if item["item_id"] in column:
            by_prompt[item["prompt"]].append(column[item["item_id"]])
    pairs = [pair for group in by_prompt.values() for pair in combinations(group, 2)]
    verdicts = np.full((len(raters), len(pairs)), np.nan)
    for k, (x, y) in enumerate(pairs):
        first, second = matrix[:, x], matrix[:, y]
        both = ~np.isnan(first) & ~np.isnan(second)
        verdicts[both, k] = np.where(first[both] > second[both], 0, np.where(first[both] < second[both], 1, 2))
    return verdicts


def agreement_with_reference(winners: dict[str, str], reference: dict[str, str], level: float = 0.95) -> dict:
    """How often decided (non-tie) winners match a reference winner, with a Wilson interval.

    Returns ``rate``, ``ci_low``, ``ci_high``, ``decided`` (pairs compared) and ``wrong`` (pairs
    whose winner contradicts the reference: wrong labels that would enter a training set)."""
    from statsmodels.stats.proportion import proportion_confint

    decided = [item for item, winner in winners.items() if winner != "tie" and item in reference]
    if not decided:
        raise ValueError("no decided pair has a reference winner")
    right = sum(winners[item] == reference[item] for item in decided)
    low, high = proportion_confint(right, len(decided), alpha=1 - level, method="wilson")
    return {"rate": right / len(decided), "ci_low": float(low), "ci_high": float(high),
            "decided": len(decided), "wrong": len(decided) - right}


def reliability_matrix(ratings: list[dict], trait: str) -> tuple[np.ndarray, list[str], list[str]]:
    """raters × items matrix of scores for one trait (NaN where a rater skipped an item)."""
    raters = sorted({r["rater"] for r in ratings if r["trait"] == trait})
    items = sorted({r["item_id"] for r in ratings if r["trait"] == trait})
    matrix = np.full((len(raters), len(items)), np.nan)
    ri, ii = {r: i for i, r in enumerate(raters)}, {t: i for i, t in enumerate(items)}
    for r in ratings:
        if r["trait"] == trait:
            matrix[ri[r["rater"]], ii[r["item_id"]]] = r["score"]
    return matrix, raters, items


def to_preference_dataset(pairs: list[dict]):
    """A ``datasets.Dataset`` with TRL's columns first (``prompt``, ``chosen``, ``rejected``)."""
    from datasets import Dataset

    if not pairs:
        raise ValueError("no preference pairs to export")
    return Dataset.from_list(pairs)


def save_preferences(dataset, path):
    """Save an exported preference set with ``save_to_disk``; an earlier export is kept aside."""

    return save_atomically(path, lambda folder: dataset.save_to_disk(str(folder)))


def load_preferences_for_training(artifacts_dir, split: str = "train"):
    """The empathy preference pairs for lessons 3–5 as a ``datasets.Dataset``.

    The train split is lesson 2's export when it exists under ``artifacts_dir``, else the shipped
    hand-written pairs (so later lessons run standalone); the test split is always the shipped one.
    """
    from pathlib import Path

    from datasets import Dataset, load_from_disk

    exported = Path(artifacts_dir) / "02_preference_labeling" / "empathy_preferences"
    if split == "train" and (exported / "dataset_info.json").exists():
        return load_from_disk(str(exported))
    rows = load_empathy_pairs(split)
    return Dataset.from_list([{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"],
                               "failure_mode": r["failure_mode"]} for r in rows])
