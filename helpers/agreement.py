"""Inter-rater agreement: Cohen's kappa (two raters) and Krippendorff's alpha (many raters).

Written out so a learner can follow them; the tests check both against established
implementations (scikit-learn, the ``krippendorff`` package).
"""
from __future__ import annotations

import numpy as np


def cohens_kappa(a: list, b: list, weights: str | None = None) -> float:
    """Cohen's kappa of two raters over the same items (``weights``: None, "linear", "quadratic")."""
    if len(a) != len(b) or not a:
        raise ValueError("both raters need the same, non-zero number of ratings")
    categories = sorted(set(a) | set(b))
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    observed = np.zeros((k, k))
    for x, y in zip(a, b):
        observed[index[x], index[y]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(1), observed.sum(0))
    i, j = np.indices((k, k))
    if weights is None:
        disagreement = (i != j).astype(float)
    elif weights == "linear":
        disagreement = np.abs(i - j).astype(float)
    elif weights == "quadratic":
        disagreement = ((i - j) ** 2).astype(float)
    else:
        raise ValueError(f"unknown weights {weights!r}")
    expected_disagreement = (disagreement * expected).sum()
    if expected_disagreement == 0:
        return 1.0
    return float(1 - (disagreement * observed).sum() / expected_disagreement)


def _distance(level: str, values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Squared distance δ² between every pair of observed values, for the level of measurement."""
    if level == "nominal":
        return (values[:, None] != values[None, :]).astype(float)
    if level == "interval":
        return (values[:, None] - values[None, :]) ** 2
    if level == "ordinal":
        # distance between ranks c and k: the number of pairable values from c to k, minus half of each end
        cumulative = np.cumsum(totals)
        d = np.zeros((len(values), len(values)))
        for c in range(len(values)):
            for k in range(c, len(values)):
                between = cumulative[k] - (cumulative[c - 1] if c else 0)
                d[c, k] = d[k, c] = (between - (totals[c] + totals[k]) / 2) ** 2
        return d
    raise ValueError(f"unknown level of measurement {level!r}")


def krippendorff_alpha(reliability: np.ndarray, level: str = "ordinal") -> float:
    """Krippendorff's alpha for a raters × units matrix (``np.nan`` = missing rating).

    Units rated by fewer than two raters carry no information about agreement and are ignored.
    """
    data = np.asarray(reliability, dtype=float)
    values = np.unique(data[~np.isnan(data)])
    index = {v: i for i, v in enumerate(values)}
    coincidence = np.zeros((len(values), len(values)))
    for unit in data.T:
        present = unit[~np.isnan(unit)]
        m = len(present)
        if m < 2:
            continue
        for i_ in range(m):
            for j_ in range(m):
                if i_ != j_:
                    coincidence[index[present[i_]], index[present[j_]]] += 1 / (m - 1)
    totals = coincidence.sum(1)
    n = totals.sum()
    delta = _distance(level, values, totals)
    observed = (coincidence * delta).sum() / n
    expected = (np.outer(totals, totals) * delta).sum() / (n * (n - 1))
    return float(1 - observed / expected) if expected > 0 else 1.0
