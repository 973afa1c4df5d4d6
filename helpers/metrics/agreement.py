"""Inter-rater agreement: Cohen's kappa (two raters) and Krippendorff's alpha (many raters).

Computed by the libraries made for the job (scikit-learn, the ``krippendorff`` package).
``krippendorff_alpha_by_hand`` writes alpha out (coincidence matrix, distance per level) so a
learner can follow it; a test checks it against the package.
"""
from __future__ import annotations

import numpy as np


def cohens_kappa(a: list, b: list, weights: str | None = None) -> float:
    """Cohen's kappa of two raters over the same items (``weights``: None, "linear", "quadratic")."""
    from sklearn.metrics import cohen_kappa_score

    if len(a) != len(b) or not a:
        raise ValueError("both raters need the same, non-zero number of ratings")
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"unknown weights {weights!r}")
    if len(set(a) | set(b)) == 1:  # one category used by both: perfect agreement (scikit-learn gives NaN)
        return 1.0
    return float(cohen_kappa_score(a, b, weights=weights))


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
    """Krippendorff's alpha for a raters × units matrix (``np.nan`` = missing rating), by the
    ``krippendorff`` package. Units rated by fewer than two raters carry no information."""
    import krippendorff

    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError(f"unknown level of measurement {level!r}")
    data = np.asarray(reliability, dtype=float)
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return 1.0  # a single value everywhere: no disagreement (the package refuses this case)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def krippendorff_alpha_by_hand(reliability: np.ndarray, level: str = "ordinal") -> float:
    """Krippendorff's alpha written out: the coincidence matrix of pairable values, observed
    against expected disagreement under the level's distance (what the package computes)."""
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


def kappa_table(reliability: np.ndarray, raters: list[str], weights: str | None = "quadratic"):
    """Cohen's kappa of every pair of raters on the items both rated (``reliability``: raters x
    items, NaN where a rater skipped an item), as a raters x raters DataFrame (lesson 2)."""
    import pandas as pd

    table = pd.DataFrame(index=raters, columns=raters, dtype=float)
    for i, a in enumerate(raters):
        for j, b in enumerate(raters):
            both = ~np.isnan(reliability[i]) & ~np.isnan(reliability[j])
            table.loc[a, b] = cohens_kappa(list(reliability[i][both]), list(reliability[j][both]), weights=weights)
    return table
