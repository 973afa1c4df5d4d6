"""Drift tests (lesson 7's monitors): each compares a window of a deployment log with a reference.

* ``metric_tests``: Kolmogorov-Smirnov or Mann-Whitney per metric, Holm-corrected (``holm``)
  across the metrics; ``psi``, the population stability index (shown, not alarming);
* ``mmd_test``: a kernel two-sample test on sentence embeddings with a permutation p-value, its
  ``mmd_witness`` (which replies moved), and ``domain_classifier_auc`` as a second opinion;
* ``cusum`` and ``cusum_limit``: a CUSUM chart of standardised scores and its simulated control limit.

Pure numpy / scipy (scikit-learn for the domain classifier); every random step takes a seed or a
``numpy.random.Generator``. :mod:`helpers.drift` simulates deployment logs and runs these tests on them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

PSI_MODERATE, PSI_MAJOR = 0.1, 0.25  # the credit-scoring rule of thumb: < 0.1 stable, > 0.25 a major shift


def _check_int(name: str, value, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")


def _finite(owner: str, name: str, values, ndim: int, rows: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != ndim:
        raise ValueError(f"{owner}: {name!r} must be a {ndim}-d array, got shape {array.shape}")
    if rows is not None and len(array) != rows:
        raise ValueError(f"{owner}: {name!r} has {len(array)} entries but 'texts' has {rows}")
    if not np.isfinite(array).all():
        raise ValueError(f"{owner}: {name!r} has NaN or infinite values")
    return array


# --- monitor 1: per-metric tests and the population stability index ---------------------------

def holm(p_values, axis: int = -1) -> np.ndarray:
    """Holm-adjusted p-values along ``axis`` (each family: the metrics of one window).

    Sort the m p-values, multiply the i-th smallest (from 0) by m - i, make the sequence
    non-decreasing and cap it at 1. Rejecting where the adjusted value is <= alpha keeps the
    chance of any false rejection in the family <= alpha (Holm 1979), for any dependence between
    the tests, and rejects at least as much as Bonferroni.
    """
    p = np.moveaxis(np.asarray(p_values, dtype=float), axis, -1)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("p_values must be numbers in [0, 1]")
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * (m - np.arange(m))
    adjusted = np.minimum(np.maximum.accumulate(ranked, axis=-1), 1.0)
    out = np.empty_like(adjusted)
    np.put_along_axis(out, order, adjusted, axis=-1)
    return np.moveaxis(out, -1, axis)


TESTS = ("ks", "mannwhitney")


def _two_sample(reference: np.ndarray, current: np.ndarray, test: str) -> tuple[np.ndarray, np.ndarray]:
    """(statistics, p-values) along axis 0 (one column per metric): the KS distance, or Mann-Whitney's
    U / (n1 n2), the chance that a current value beats a reference one (0.5: no shift)."""
    if test == "ks":
        result = stats.ks_2samp(current, reference, axis=0)
        return np.asarray(result.statistic, float), np.asarray(result.pvalue, float)
    result = stats.mannwhitneyu(current, reference, alternative="two-sided", axis=0)
    return np.asarray(result.statistic, float) / (len(current) * len(reference)), np.asarray(result.pvalue, float)


def metric_tests(reference: dict, current: dict, test: str = "ks") -> pd.DataFrame:
    """Compare each metric's distribution in ``current`` with ``reference`` (dicts name -> values).

    ``test="ks"``: two-sample Kolmogorov-Smirnov (any change of the distribution: location,
    spread or shape). ``"mannwhitney"``: Mann-Whitney U (a shift of location; more power for it,
    blind to a change of spread). Returns one row per metric: ``statistic``, ``p_value`` and
    ``p_holm`` (Holm-adjusted across the metrics).
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    missing = [name for name in reference if name not in current]
    if missing or not reference:
        raise ValueError(f"current: metric {missing[0]!r} is missing" if missing else "reference: no metrics")
    rows = {}
    for name in reference:
        ref = _finite("metric_tests", f"reference[{name!r}]", reference[name], 1)
        cur = _finite("metric_tests", f"current[{name!r}]", current[name], 1)
        if len(ref) < 2 or len(cur) < 2:
            raise ValueError(f"metric {name!r}: each sample needs at least two values")
        rows[name] = [float(v) for v in _two_sample(ref, cur, test)]
    table = pd.DataFrame(rows, index=["statistic", "p_value"]).T
    table["p_holm"] = holm(table["p_value"].to_numpy())
    return table


def psi(reference, current, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``current`` against ``reference``.

    Bin edges are the reference's quantiles (``bins`` bins of about equal reference mass; ties in
    a discrete metric merge bins). With p and q the reference and current shares per bin (an
    empty bin counts as ``eps``, so the log stays finite)::
        PSI = sum (q - p) * ln(q / p)

    Rule of thumb: < 0.1 stable, 0.1 to 0.25 a moderate shift, > 0.25 a major one. Those
    thresholds come from large credit-scoring samples: with no drift at all, PSI is about
    (bins - 1) * (1 / n_reference + 1 / n_current) by chance alone (0.11 for 240 vs 120 replies
    and 10 bins), so on small windows it is a size-of-shift number to read, not a test.
    """
    ref = _finite("psi", "reference", reference, 1)
    cur = _finite("psi", "current", current, 1)
    _check_int("bins", bins, 2)
    if not len(ref) or not len(cur):
        raise ValueError("psi: both samples need values")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1) / len(cur)
    p, q = np.maximum(p, eps), np.maximum(q, eps)
    return float(np.sum((q - p) * np.log(q / p)))


# --- monitor 2: embedding drift (MMD with a permutation test) ---------------------------------

@dataclass(frozen=True)
class MMDResult:
    """``statistic``: the (biased) squared MMD; ``p_value``: its permutation p-value;
    ``bandwidth``: the RBF kernel's width; ``permutations``: how many were drawn (fewer than asked
    when the sequential rule stopped early)."""

    statistic: float
    p_value: float
    bandwidth: float
    permutations: int


def _sqdist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", x, x)[:, None] + np.einsum("ij,ij->i", y, y)[None, :] - 2 * x @ y.T
    return np.maximum(sq, 0.0)


def _median_bandwidth(sq: np.ndarray, rng=None, pairs: int = 2_000) -> float:
    """Median heuristic: the median distance between two different points of the pooled sample
    (with ``rng``: over ``pairs`` random pairs, a cheap estimate that ignores the sample labels
    just as well)."""
    n = len(sq)
    if rng is None or n * (n - 1) // 2 <= pairs:
        distances = sq[np.triu_indices(n, 1)]
    else:
        i = rng.integers(n, size=pairs)
        j = rng.integers(n - 1, size=pairs)
        distances = sq[i, j + (j >= i)]
    width = float(np.sqrt(np.median(distances)))
    return width if width > 0 else float(np.sqrt(distances.max())) or 1.0


def _mmd_permutation(kernel: np.ndarray, n_x: int, n_permutations: int, rng,
                     stop_after: int | None) -> tuple[float, float, int]:
    """(MMD², p-value, permutations drawn) for the first ``n_x`` points against the rest.

    MMD² (biased) = a' K a with a = 1/n_x on the first sample and -1/n_y on the second; a
    permutation shuffles a. Sequential p-value (Besag & Clifford 1991): stop at the
    ``stop_after``-th permuted statistic >= the observed one, after l draws, with p = stop_after
    / l; else p = (1 + exceedances) / (1 + n_permutations). Both are valid p-values, and a
    window with no drift (a large p) stops after a few dozen draws instead of all of them.
    """
    n = len(kernel)
    a = np.concatenate([np.full(n_x, 1 / n_x), np.full(n - n_x, -1 / (n - n_x))])
    observed = float(a @ kernel @ a)
    tolerance = 1e-12 * max(1.0, abs(observed))  # the identity permutation must count as a tie
    exceed, drawn, batch = 0, 0, 16
    while drawn < n_permutations:
        size = min(batch, n_permutations - drawn)
        shuffled = rng.permuted(np.broadcast_to(a, (size, n)), axis=1)
        hits = np.einsum("bi,bi->b", shuffled @ kernel, shuffled) >= observed - tolerance
        if stop_after and exceed + hits.sum() >= stop_after:
            at = int(np.flatnonzero(np.cumsum(hits) + exceed >= stop_after)[0])
            return observed, stop_after / (drawn + at + 1), drawn + at + 1
        exceed, drawn, batch = exceed + int(hits.sum()), drawn + size, min(2 * batch, 256)
    return observed, (1 + exceed) / (1 + n_permutations), drawn


def _mmd_pooled(sq: np.ndarray, n_x: int, n_permutations: int, rng, bandwidth: float | None,
                stop_after: int | None) -> MMDResult:
    """``mmd_test`` on the pooled sample's squared distances (the first ``n_x`` rows are x)."""
    width = _median_bandwidth(sq, rng) if bandwidth is None else float(bandwidth)
    statistic, p_value, drawn = _mmd_permutation(np.exp(-sq / (2 * width**2)), n_x, n_permutations, rng,
                                                 stop_after)
    return MMDResult(statistic, p_value, width, drawn)


def mmd_test(x, y, n_permutations: int = 999, rng=0, bandwidth: float | None = None,
             stop_after: int | None = 10) -> MMDResult:
    """Kernel two-sample test: are ``x`` and ``y`` (rows = embeddings) from one distribution?

    The maximum mean discrepancy with an RBF kernel k(a, b) = exp(-|a - b|² / (2 w²)) compares
    the two samples' mean embeddings in the kernel's feature space: 0 when the distributions are
    the same, and the RBF kernel sees any difference, not just a shift of the mean. The width w
    is the median distance between points of the pooled sample (the median heuristic, over 2,000
    random pairs) unless ``bandwidth`` is given; it does not depend on which point is in which
    sample, so the permutation test stays exact. The p-value is the share of label permutations
    with an MMD² at least as large (sequential: see ``_mmd_permutation``; ``stop_after=None``
    draws all). The smallest p-value possible is 1 / (n_permutations + 1).
    """
    x = _finite("mmd_test", "x", x, 2)
    y = _finite("mmd_test", "y", y, 2)
    if x.shape[1] != y.shape[1] or len(x) < 2 or len(y) < 2:
        raise ValueError(f"mmd_test: need two samples of at least two rows of one width, got {x.shape} and {y.shape}")
    _check_int("n_permutations", n_permutations, 1)
    pooled = np.vstack([x, y])
    return _mmd_pooled(_sqdist(pooled, pooled), len(x), n_permutations, np.random.default_rng(rng), bandwidth,
                       stop_after)


def mmd_witness(reference, current, bandwidth: float | None = None) -> np.ndarray:
    """The MMD witness function at each ``current`` row: its mean kernel to the other current rows
    minus its mean kernel to the reference. High = in a region the current window fills more than
    the reference did: the replies that make the embedding drift."""
    ref = _finite("mmd_witness", "reference", reference, 2)
    cur = _finite("mmd_witness", "current", current, 2)
    if len(cur) < 2:
        raise ValueError("mmd_witness: current needs at least two rows")
    sq_cc, sq_cr = _sqdist(cur, cur), _sqdist(cur, ref)
    if bandwidth is None:
        pooled = np.block([[_sqdist(ref, ref), sq_cr.T], [sq_cr, sq_cc]])
        bandwidth = _median_bandwidth(pooled)
    k_cc, k_cr = np.exp(-sq_cc / (2 * bandwidth**2)), np.exp(-sq_cr / (2 * bandwidth**2))
    return (k_cc.sum(1) - 1.0) / (len(cur) - 1) - k_cr.mean(1)  # leave each reply's own kernel (1) out


def domain_classifier_auc(reference, current, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated AUC of a logistic regression telling ``current`` rows from ``reference``.

    0.5: the classifier cannot tell the windows apart; 1: it always can. A readable second opinion
    on the embeddings (and its coefficients say which directions moved); not the alarm test,
    because out-of-fold scores are not independent, so its p-value would be approximate, and an
    exact one needs a model fit per permutation.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    ref = _finite("domain_classifier_auc", "reference", reference, 2)
    cur = _finite("domain_classifier_auc", "current", current, 2)
    if min(len(ref), len(cur)) < folds:
        raise ValueError(f"domain_classifier_auc: each sample needs at least folds={folds} rows")
    x, y = np.vstack([ref, cur]), np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(LogisticRegression(max_iter=2000), x, y, cv=split, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, scores))


# --- monitor 3: a CUSUM chart of the canary judge scores --------------------------------------

def cusum(values, target: float = 0.0, sd: float = 1.0, k: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided tabular CUSUM of ``values`` standardised as z = (value - target) / sd.

    upper_t = max(0, upper_{t-1} + z_t - k) and lower_t = max(0, lower_{t-1} - z_t - k): each
    sums the evidence for a shift up (down) and forgets what falls under the slack ``k``; k is
    half the shift the chart is tuned to, so the default 1 is tuned to a shift of two standard
    errors of a window's mean (with 48 canary replies a window, a third of the judge's
    within-prompt spread). Alarm when either exceeds a limit h (``cusum_limit``). Returns
    (upper, lower).
    """
    z = (_finite("cusum", "values", values, 1) - target) / sd
    upper, lower = np.zeros(len(z)), np.zeros(len(z))
    up = down = 0.0
    for t, value in enumerate(z):
        up, down = max(0.0, up + value - k), max(0.0, down - value - k)
        upper[t], lower[t] = up, down
    return upper, lower


def cusum_limit(n_windows: int, alpha: float, k: float = 1.0, df: int | None = None,
                reference_ratio: float | None = None, n_sim: int = 20_000, seed: int = 0) -> float:
    """The limit h so that a two-sided CUSUM over ``n_windows`` windows crosses it with chance
    ``alpha`` when nothing changes (by simulation, seeded; exact up to Monte Carlo error).

    Textbook limits (h = 4 or 5 for k = 0.5) assume the in-control mean and standard deviation
    are known. Here both come from a short reference period, and their errors are shared by every
    window: a reference mean that is a little low pushes the whole chart up. The simulation
    includes that: each window's z is (Z_t - Z_0 / sqrt(reference_ratio)) / sqrt(V), with Z
    standard normal, ``reference_ratio`` = reference canary replies / window canary replies
    (None: mean known) and V ~ chi²(df) / df for the pooled within-prompt variance (None: sd
    known). Window means of a few dozen judge scores are close to normal, which is all it assumes
    (on judge scores resampled from 8 replies per prompt a direct simulation gave 0.0077 for a
    nominal 0.0067: the chi² model of V is a little optimistic).

    The error of the reference is why ``simulate_log`` sends the canary set many times in
    window 0 (``canary_baseline``): with a reference as large as two ordinary windows, h for 10
    windows at 0.0067 (k = 1) is about 13, and a shift of three standard errors takes about seven
    windows to cross it; with the default baseline (``reference_ratio`` 9) h is about 4.3 and it
    takes about three.
    """
    _check_int("n_windows", n_windows, 1)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if df is not None:
        _check_int("df", df, 1)
    ratio = None if reference_ratio is None else round(float(reference_ratio), 6)
    return _cusum_limit(n_windows, float(alpha), float(k), df, ratio, n_sim, seed)


@lru_cache(maxsize=64)
def _cusum_limit(n_windows, alpha, k, df, ratio, n_sim, seed) -> float:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_sim, n_windows))
    if ratio is not None:
        z -= rng.standard_normal((n_sim, 1)) / np.sqrt(ratio)
    if df is not None:
        z /= np.sqrt(rng.chisquare(df, (n_sim, 1)) / df)
    up, down, peak = np.zeros(n_sim), np.zeros(n_sim), np.zeros(n_sim)
    for t in range(n_windows):
        up, down = np.maximum(0, up + z[:, t] - k), np.maximum(0, down - z[:, t] - k)
        peak = np.maximum(peak, np.maximum(up, down))
    return float(np.quantile(peak, 1 - alpha))
