"""Measuring an LLM judge before trusting it (lesson 7). Pure numpy/scipy/statsmodels, no models.

Every number comes with a confidence interval (:class:`Estimate`):

* agreement with humans: :func:`human_human_agreement` and :func:`judge_human_agreement` on the
  same items against the same leave-one-annotator-out references, and :func:`compare_with_humans`
  for both and their difference on the same bootstrap resamples;
* order swaps: :func:`swap_consistency`, and win rates with and without the both-orders rule
  (:func:`swap_report`);
* length: :func:`length_bias` and AlpacaEval's :func:`length_controlled_win_rate`;
* :func:`self_preference`: the judge's lean towards its own model family;
* calibration: :func:`calibration_table`, :func:`expected_calibration_error`, :func:`plot_calibration`.

Pairwise inputs follow one convention: ``p_ab`` is the judge's probability that reply A is better
when A is shown first, ``p_ba`` the probability that A is better when B is shown first (the
judge's answer swapped back), NaN where the judge gave no usable answer.

Bootstrap confidence intervals resample rows (or whole clusters, e.g. all pairs of one prompt)
with replacement. With the same ``seed`` and the same number of rows, every function draws the
same resamples, so two statistics computed in separate calls are still paired.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
from scipy import stats

from helpers.workbook.plotting import _finish

__all__ = ["Estimate", "bootstrap_ci", "bootstrap_cis", "paired_difference", "two_level_mean", "share", "spearman",
           "human_human_agreement", "judge_human_agreement", "AgreementReport", "compare_with_humans",
           "consistent", "both_orders_preference", "swap_consistency", "win_rate", "SwapReport", "swap_report",
           "LengthBias", "length_bias", "LengthControlled", "length_controlled_win_rate",
           "SelfPreference", "self_preference", "calibration_table", "expected_calibration_error",
           "plot_calibration"]

CHUNK = 100  # bootstrap resamples drawn (and, for batched statistics, computed) at a time


class Estimate(NamedTuple):
    """A statistic and its confidence interval; unpacks as ``value, low, high``."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def as_dict(self) -> dict:
        """``{"value", "low", "high"}``, e.g. for ``helpers.record``."""
        return {"value": self.value, "low": self.low, "high": self.high}


# --- the bootstrap --------------------------------------------------------------------------

def _index_chunks(n: int, n_boot: int, seed: int):
    """Row indices of ``n_boot`` resamples of ``n`` rows, ``CHUNK`` resamples at a time (one fixed
    random stream, so the same seed gives the same resamples whichever way they are used)."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, CHUNK):
        yield rng.integers(0, n, size=(min(CHUNK, n_boot - start), n))


def _cluster_resamples(clusters, n_boot: int, seed: int):
    """Row indices of resamples that draw whole clusters with replacement."""
    labels, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    rows = np.argsort(inverse, kind="stable")  # rows grouped by cluster
    sizes = np.bincount(inverse)
    starts = np.cumsum(sizes) - sizes
    for chunk in _index_chunks(len(labels), n_boot, seed):
        for drawn in chunk:
            n = sizes[drawn]
            # positions start[c], start[c] + 1, ... of every drawn cluster, in one vectorised step
            offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            yield rows[np.repeat(starts[drawn], n) + offsets]


def _bootstrap(statistic: Callable, arrays: list[np.ndarray], n_boot: int, level: float, seed: int,
               clusters=None, batched: bool = False) -> list[Estimate]:
    """Percentile bootstrap of a statistic that returns one number or a vector of them."""
    if not arrays:
        raise ValueError("no data to resample")
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError("every array needs the same, non-zero number of rows")
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1, got {level!r}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot!r}")
    if clusters is not None and len(clusters) != n:
        raise ValueError("clusters needs one label per row")
    if batched:  # a batched statistic sees a leading axis of resamples, even for the full sample
        def one(*resampled):
            return np.asarray(statistic(*(a[None] for a in resampled)), dtype=float).reshape(-1)
    else:
        def one(*resampled):
            return np.asarray(statistic(*resampled), dtype=float).reshape(-1)
    value = one(*arrays)
    boots = []
    if batched and clusters is None:
        for idx in _index_chunks(n, n_boot, seed):
            boots.append(np.asarray(statistic(*(a[idx] for a in arrays)), dtype=float).reshape(len(idx), -1))
    else:
        resamples = (_cluster_resamples(clusters, n_boot, seed) if clusters is not None
                     else (row for chunk in _index_chunks(n, n_boot, seed) for row in chunk))
        boots = [one(*(a[idx] for a in arrays))[None] for idx in resamples]
    boots = np.concatenate(boots)
    alpha = (1 - level) / 2
    result = []
    for k, v in enumerate(value):
        finite = boots[:, k][np.isfinite(boots[:, k])]
        # a statistic undefined on most resamples (e.g. a constant column) has no interval
        low, high = np.quantile(finite, [alpha, 1 - alpha]) if len(finite) >= len(boots) / 2 else (np.nan, np.nan)
        result.append(Estimate(float(v), float(low), float(high)))
    return result


def bootstrap_ci(statistic: Callable, *arrays, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                 clusters=None, batched: bool = False) -> Estimate:
    """``statistic(*arrays)`` and its percentile-bootstrap interval, resampling rows of all arrays together.

    ``clusters`` (one label per row): resample whole clusters instead of rows, for rows that are not
    independent (several pairs of one prompt, several replies of one model run). ``batched=True``:
    ``statistic`` takes arrays with an extra leading axis of resamples and returns one value per
    resample (much faster for large data; with clusters, whose resamples differ in size, it gets one
    resample at a time).
    """
    arrays = [np.asarray(a) for a in arrays]
    return _bootstrap(statistic, arrays, n_boot, level, seed, clusters, batched)[0]


def bootstrap_cis(statistic: Callable, *arrays, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                  clusters=None, batched: bool = False) -> list[Estimate]:
    """:func:`bootstrap_ci` for a statistic returning several numbers, all on the same resamples
    (batched: shape ``(resamples, k)``); one :class:`Estimate` per number."""
    arrays = [np.asarray(a) for a in arrays]
    return _bootstrap(statistic, arrays, n_boot, level, seed, clusters, batched)


def paired_difference(treated, baseline, scale: float = 1.0, clusters=None, n_boot: int = 2000,
                      level: float = 0.95, seed: int = 0) -> Estimate:
    """The mean of ``treated − baseline`` over paired rows (the same prompt, email or sheet on both
    sides), divided by ``scale`` (e.g. the baseline's spread, for a gain in standard deviations),
    with a bootstrap interval that resamples the pairs together."""
    return bootstrap_ci(lambda t, b: float(np.mean(t - b)) / scale, np.asarray(treated, dtype=float),
                        np.asarray(baseline, dtype=float), n_boot=n_boot, level=level, seed=seed, clusters=clusters)


def two_level_mean(matrix, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """The mean of a ``(runs, items)`` matrix, e.g. one row per training seed and one column per
    held-out prompt, with a two-level bootstrap interval: each resample draws runs with replacement,
    then items with replacement within each drawn run.

    Both sources of spread count: a training run's luck (another seed, another policy) and the
    choice of prompts. With one run the interval is the items' bootstrap alone, and says nothing of
    seed-to-seed spread. Pass a difference of two matrices built from the same runs' seeds and the
    same items to compare two methods paired.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.size == 0:
        raise ValueError(f"need a non-empty (runs, items) matrix, got shape {m.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1, got {level!r}")
    runs, items = m.shape
    rng = np.random.default_rng(seed)
    drawn_runs = rng.integers(0, runs, size=(n_boot, runs))
    drawn_items = rng.integers(0, items, size=(n_boot, runs, items))
    boots = m[drawn_runs[:, :, None], drawn_items].mean(axis=(1, 2))
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return Estimate(float(m.mean()), float(low), float(high))


def share(flags, clusters=None, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """The share of true flags: Wilson's score interval for independent rows, the cluster bootstrap
    with ``clusters``. (Wilson, unlike a percentile bootstrap, still gives an interval at 0% or 100%.)"""
    from statsmodels.stats.proportion import proportion_confint

    flags = np.asarray(flags, dtype=float)
    if flags.size == 0:
        raise ValueError("no rows")
    if clusters is not None:
        return bootstrap_ci(np.mean, flags, n_boot=n_boot, level=level, seed=seed, clusters=clusters)
    low, high = proportion_confint(flags.sum(), len(flags), alpha=1 - level, method="wilson")
    value = float(flags.mean())  # at 0% or 100% Wilson's bound equals the share up to rounding: keep it inside
    return Estimate(value, min(float(low), value), max(float(high), value))


# --- agreement with humans ------------------------------------------------------------------

def spearman(x, y) -> np.ndarray:
    """Spearman's rho along the last axis (average ranks for ties); NaN entries (at the same places
    in ``x`` and ``y``) are left out. Works on a batch of resamples at once; NaN where a side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rx = stats.rankdata(x, axis=-1, nan_policy="omit")
    ry = stats.rankdata(y, axis=-1, nan_policy="omit")
    rx, ry = rx - np.nanmean(rx, -1, keepdims=True), ry - np.nanmean(ry, -1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(rx * ry, -1) / np.sqrt(np.nansum(rx * rx, -1) * np.nansum(ry * ry, -1))


def _leave_one_out(ratings: np.ndarray, judge: np.ndarray | None = None) -> np.ndarray:
    """Mean over annotator columns k of Spearman(annotator k, or the judge; mean of the other
    annotators), on the items annotator k rated (and the judge scored). Batched over leading axes."""
    present = ~np.isnan(ratings)
    total, count = np.nansum(ratings, -1), present.sum(-1)
    rhos = []
    for k in range(ratings.shape[-1]):
        x = ratings[..., k]
        with np.errstate(invalid="ignore", divide="ignore"):
            others = (total - np.nan_to_num(x)) / (count - present[..., k])
        valid = np.isfinite(x) & np.isfinite(others)
        target = x
        if judge is not None:
            valid &= np.isfinite(judge)
            target = judge
        rhos.append(spearman(np.where(valid, target, np.nan), np.where(valid, others, np.nan)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no annotator with a defined correlation: NaN
        return np.nanmean(np.stack(rhos, -1), -1)


def _ratings_matrix(ratings) -> np.ndarray:
    matrix = np.asarray(ratings, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2 or matrix.shape[0] < 3:
        raise ValueError("ratings must be an items × annotators matrix with at least 3 items and 2 annotators")
    return matrix


def human_human_agreement(ratings, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """How well one human agrees with the others: for each annotator column, Spearman's rho between
    that annotator's ratings and the mean of the other annotators' ratings of the same items,
    averaged over the columns (leave one annotator out), with a bootstrap interval over items.

    ``ratings``: items × annotators, NaN where an annotator did not rate an item. A column need not
    be one person: in the Stanford Politeness data each item has five ratings from different
    workers, so column k is "one of the five". Lesson 2's labels: ``helpers.preferences.reliability_matrix``
    gives raters × items, so pass its transpose.
    """
    matrix = _ratings_matrix(ratings)
    return bootstrap_ci(_leave_one_out, matrix, n_boot=n_boot, level=level, seed=seed, batched=True)


def judge_human_agreement(judge_scores, ratings, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """How well the judge agrees with the humans, measured exactly as :func:`human_human_agreement`
    measures a human: for each annotator column k, Spearman's rho between the judge's scores and the
    mean of the annotators other than k, on the items annotator k rated, averaged over k.

    The judge thus faces the same references (means of all but one annotator) on the same items as
    each held-out human, so the two numbers compare directly. Items the judge did not score (NaN)
    are left out; :func:`compare_with_humans` leaves them out of the human figure too.
    """
    matrix = _ratings_matrix(ratings)
    judge = np.asarray(judge_scores, dtype=float)
    if judge.shape != matrix.shape[:1]:
        raise ValueError(f"one judge score per item: got {judge.shape[0]} scores for {matrix.shape[0]} items")
    return bootstrap_ci(lambda j, r: _leave_one_out(r, j), judge, matrix, n_boot=n_boot, level=level, seed=seed,
                        batched=True)


@dataclass(frozen=True)
class AgreementReport:
    """Judge–human against human–human agreement on the same items (leave-one-annotator-out Spearman).

    ``difference`` = judge − human on the same bootstrap resamples: an interval above 0 means the
    judge agrees with the humans better than a typical human does. ``n_unscored``: items left out
    because the judge gave no score."""

    judge_human: Estimate
    human_human: Estimate
    difference: Estimate
    n_items: int
    n_unscored: int

    def __str__(self) -> str:
        return (f"judge–human {self.judge_human}, human–human {self.human_human}, difference {self.difference} "
                f"on {self.n_items} items ({self.n_unscored} unscored)")


def compare_with_humans(judge_scores, ratings, n_boot: int = 2000, level: float = 0.95,
                        seed: int = 0) -> AgreementReport:
    """Judge–human and human–human agreement (see :func:`judge_human_agreement`) on the items the
    judge scored, and their difference, all three on the same resamples of items."""
    matrix = _ratings_matrix(ratings)
    judge = np.asarray(judge_scores, dtype=float)
    if judge.shape != matrix.shape[:1]:
        raise ValueError(f"one judge score per item: got {judge.shape[0]} scores for {matrix.shape[0]} items")
    scored = np.isfinite(judge)
    judge, matrix = judge[scored], _ratings_matrix(matrix[scored])

    def both(j, r):
        human, machine = _leave_one_out(r), _leave_one_out(r, j)
        return np.stack([machine, human, machine - human], -1)

    machine, human, difference = bootstrap_cis(both, judge, matrix, n_boot=n_boot, level=level, seed=seed,
                                               batched=True)
    return AgreementReport(machine, human, difference, int(scored.sum()), int((~scored).sum()))


# --- order swaps ----------------------------------------------------------------------------

def consistent(p_ab, p_ba) -> np.ndarray:
    """Per pair: does the verdict hold in both orders (both probabilities on the same side of 0.5)?
    An unusable answer (NaN) or an exact 0.5 in either order is no verdict, so not consistent."""
    p_ab, p_ba = np.asarray(p_ab, dtype=float), np.asarray(p_ba, dtype=float)
    with np.errstate(invalid="ignore"):
        return ((p_ab - 0.5) * (p_ba - 0.5)) > 0


def _verdict(p) -> np.ndarray:
    """A single-order verdict as a preference for A: 1 (A), 0 (B), 0.5 (tie or no usable answer)."""
    p = np.asarray(p, dtype=float)
    return np.where(np.isnan(p) | (p == 0.5), 0.5, (p > 0.5).astype(float))


def _decided(p) -> np.ndarray:
    """Per answer: a verdict (a usable probability other than exactly 0.5)."""
    p = np.asarray(p, dtype=float)
    return np.isfinite(p) & (p != 0.5)


def both_orders_preference(p_ab, p_ba) -> np.ndarray:
    """The both-orders rule: 1 where A wins in both orders, 0 where B does, 0.5 (a tie) otherwise."""
    p_ab = np.asarray(p_ab, dtype=float)
    return np.where(consistent(p_ab, p_ba), (p_ab > 0.5).astype(float), 0.5)


def swap_consistency(p_ab, p_ba, clusters=None, level: float = 0.95, seed: int = 0) -> Estimate:
    """The share of pairs whose verdict is the same in both orders (:func:`consistent`)."""
    return share(consistent(p_ab, p_ba), clusters, level=level, seed=seed)


def win_rate(preference, clusters=None, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """A's win rate: the mean of per-pair preferences for A (1 win, 0 loss, 0.5 tie, or a probability),
    with a bootstrap interval over pairs (or clusters). NaN preferences count as ties."""
    preference = np.nan_to_num(np.asarray(preference, dtype=float), nan=0.5)
    return bootstrap_ci(np.mean, preference, n_boot=n_boot, level=level, seed=seed, clusters=clusters)


@dataclass(frozen=True)
class SwapReport:
    """Order effects of a pairwise judge, and what the both-orders rule does about them.

    * ``consistency``: share of pairs whose verdict survives swapping the order (before the rule);
    * ``consistency_after``: the same for the both-orders verdicts, recomputed from the swapped
      presentation: 1 by construction; the price is that the inconsistent pairs become ties
      (``ties_after`` = their share);
    * ``first_position``: share of single-order verdicts won by the reply shown first (0.5 = no
      position bias);
    * ``win_rate_ab`` / ``win_rate_ba``: A's win rate when only one order is asked (A first / B
      first), ``win_rate_both``: with the both-orders rule (inconsistent = tie);
    * ``unusable``: share of the 2n answers with no usable verdict.
    """

    consistency: Estimate
    consistency_after: Estimate
    ties_after: Estimate
    first_position: Estimate
    win_rate_ab: Estimate
    win_rate_ba: Estimate
    win_rate_both: Estimate
    unusable: Estimate
    n_pairs: int


def swap_report(p_ab, p_ba, clusters=None, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> SwapReport:
    """:class:`SwapReport` of a pairwise judge's answers in both orders (module docstring: ``p_ab``, ``p_ba``)."""
    p_ab, p_ba = np.asarray(p_ab, dtype=float), np.asarray(p_ba, dtype=float)
    if p_ab.shape != p_ba.shape or p_ab.ndim != 1 or len(p_ab) == 0:
        raise ValueError("p_ab and p_ba need one probability per pair, the same number of pairs")
    kw = dict(n_boot=n_boot, level=level, seed=seed)
    both = both_orders_preference(p_ab, p_ba)
    # shown B first, "A better" reads as p_ba; the rule on that presentation is the rule on (p_ba, p_ab)
    after = both == both_orders_preference(p_ba, p_ab)
    # the two answers about a pair are not independent: resample them together (with its cluster)
    cl2 = np.concatenate([clusters, clusters]) if clusters is not None else np.tile(np.arange(len(p_ab)), 2)
    first_won = np.concatenate([_verdict(p_ab), 1 - _verdict(p_ba)])  # 1: the reply shown first won
    decided = np.concatenate([_decided(p_ab), _decided(p_ba)])
    with np.errstate(invalid="ignore"):
        first_position = bootstrap_ci(lambda w, d: w[d].mean() if d.any() else np.nan, first_won, decided,
                                      clusters=cl2, **kw)
    return SwapReport(
        consistency=swap_consistency(p_ab, p_ba, clusters, level=level, seed=seed),
        consistency_after=share(after, clusters, level=level, n_boot=n_boot, seed=seed),
        ties_after=share(both == 0.5, clusters, level=level, n_boot=n_boot, seed=seed),
        first_position=first_position,
        win_rate_ab=win_rate(_verdict(p_ab), clusters, **kw),
        win_rate_ba=win_rate(_verdict(p_ba), clusters, **kw),
        win_rate_both=win_rate(both, clusters, **kw),
        unusable=share(np.isnan(np.concatenate([p_ab, p_ba])), cl2, level=level, n_boot=n_boot, seed=seed),
        n_pairs=len(p_ab))


# --- length ---------------------------------------------------------------------------------

def _pairs(p_a, len_a, len_b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p_a, len_a, len_b = (np.asarray(v, dtype=float) for v in (p_a, len_a, len_b))
    if not (p_a.shape == len_a.shape == len_b.shape) or p_a.ndim != 1 or len(p_a) < 3:
        raise ValueError("p_a, len_a and len_b need one value per pair, at least 3 pairs")
    return p_a, len_a, len_b


@dataclass(frozen=True)
class LengthBias:
    """How much the judge's preference follows length.

    ``spearman``: rank correlation of the preference for A with len(A) − len(B) (0 = none);
    ``longer_preferred``: among pairs of different lengths, the share the judge gives to the longer
    reply (0.5 = none). Raw length preference mixes bias with real quality (longer replies may
    really be better): compare it with the humans' on the same pairs, or read the
    :func:`length_controlled_win_rate`."""

    spearman: Estimate
    longer_preferred: Estimate
    n_pairs: int


def length_bias(p_a, len_a, len_b, clusters=None, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> LengthBias:
    """:class:`LengthBias` of a judge's preferences ``p_a`` for reply A (e.g. the mean of both orders)
    given the two replies' lengths (characters, words or tokens: say which). NaN preferences are left out."""
    p_a, len_a, len_b = _pairs(p_a, len_a, len_b)
    keep = np.isfinite(p_a)
    p_a, diff = p_a[keep], (len_a - len_b)[keep]
    cl = None if clusters is None else np.asarray(clusters)[keep]
    kw = dict(n_boot=n_boot, level=level, seed=seed, clusters=cl)
    rho = bootstrap_ci(lambda p, d: spearman(p, d), p_a, diff, batched=cl is None, **kw)
    differ = diff != 0
    if not differ.any():
        raise ValueError("every pair has replies of the same length")
    toward_longer = np.where(diff > 0, _verdict(p_a), 1 - _verdict(p_a))[differ]
    longer = bootstrap_ci(np.mean, toward_longer, n_boot=n_boot, level=level, seed=seed,
                          clusters=None if cl is None else cl[differ])
    return LengthBias(rho, longer, int(keep.sum()))


def _fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float, iterations: int = 50) -> np.ndarray:
    """(intercept, slope) of a logistic regression of fractional outcomes ``y`` in [0, 1] on ``x``,
    by Newton's method, batched over leading axes. ``ridge`` penalises the slope only, so the fit
    stays finite when a judge's verdicts are perfectly separated by length."""
    design = np.stack([np.ones_like(x), x], -1)                       # (..., n, 2)
    beta = np.zeros(x.shape[:-1] + (2,))
    penalty = np.diag([0.0, ridge])
    for _ in range(iterations):
        mu = 1 / (1 + np.exp(-np.einsum("...nk,...k->...n", design, beta)))
        gradient = np.einsum("...nk,...n->...k", design, y - mu) - beta @ penalty
        hessian = np.einsum("...nk,...n,...nl->...kl", design, mu * (1 - mu), design) + penalty
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient[..., None])[..., 0]
        beta = beta + np.clip(step, -5, 5)  # a damped step: no overshoot from a flat start
        if np.abs(step).max() < 1e-10:
            break
    return beta


@dataclass(frozen=True)
class LengthControlled:
    """A's win rate as judged (``raw``: the mean preference) and length-controlled (``controlled``:
    the win rate the fitted model predicts at zero length difference), and ``slope``: the change in
    log-odds of preferring A per unit of the (tanh-squashed, standardised) length difference."""

    raw: Estimate
    controlled: Estimate
    slope: Estimate
    length_scale: float  # the standard deviation of len(A) − len(B) the difference is divided by
    n_pairs: int


def length_controlled_win_rate(p_a, len_a, len_b, clusters=None, n_boot: int = 1000, level: float = 0.95,
                               seed: int = 0, ridge: float = 1e-3) -> LengthControlled:
    """AlpacaEval 2's length-controlled win rate, without its per-instruction difficulty term.

    Fit ``logit P(A preferred) = b0 + b1 * tanh((len_a - len_b) / sd)`` (a logistic regression on
    the judge's preferences ``p_a``, which may be probabilities: fractional outcomes), then read the
    win rate at zero length difference, ``sigmoid(b0)``: what the judge would say if A and B were
    the same length. A judge that prefers length alone gets 0.5, whatever its raw win rate. The
    tanh keeps a few very long replies from dominating the fit (as AlpacaEval does); ``sd`` is the
    standard deviation of the length differences, fixed from the full sample.
    NaN preferences are left out.
    """
    p_a, len_a, len_b = _pairs(p_a, len_a, len_b)
    keep = np.isfinite(p_a)
    p_a, diff = p_a[keep], (len_a - len_b)[keep]
    if np.any((p_a < 0) | (p_a > 1)):
        raise ValueError("preferences must lie in [0, 1]")
    scale = float(diff.std()) or 1.0
    x = np.tanh(diff / scale)

    def fit(p, z):
        beta = _fit_logistic(z, p, ridge)
        return np.stack([p.mean(-1), 1 / (1 + np.exp(-beta[..., 0])), beta[..., 1]], -1)

    cl = None if clusters is None else np.asarray(clusters)[keep]
    raw, controlled, slope = bootstrap_cis(fit, p_a, x, n_boot=n_boot, level=level, seed=seed, clusters=cl,
                                           batched=True)
    return LengthControlled(raw, controlled, slope, scale, int(keep.sum()))


# --- self-preference ------------------------------------------------------------------------

@dataclass(frozen=True)
class SelfPreference:
    """Does the judge favour replies written by its own model family?

    On pairs of one reply from the judge's family ("own") and one from another family: ``judge``
    is the judge's win rate for the own reply, ``reference`` the reference's (humans', or 0.5 on
    pairs matched to be equally good), and ``bias`` = judge − reference on the same resamples. An
    interval of ``bias`` above 0 is self-preference beyond what the reference sees."""

    judge: Estimate
    reference: Estimate
    bias: Estimate
    n_pairs: int


def self_preference(judge_prefers_own, reference_prefers_own=None, clusters=None, n_boot: int = 2000,
                    level: float = 0.95, seed: int = 0) -> SelfPreference:
    """:class:`SelfPreference` from per-pair preferences for the own-family reply: the judge's
    (a probability, or 1/0/0.5; best the both-orders preference) and the reference's (1, 0, 0.5 for
    a tie, or a share of votes; default 0.5 everywhere: pairs the humans rated equal). NaN = tie."""
    judge = np.nan_to_num(np.asarray(judge_prefers_own, dtype=float), nan=0.5)
    reference = (np.full_like(judge, 0.5) if reference_prefers_own is None
                 else np.nan_to_num(np.asarray(reference_prefers_own, dtype=float), nan=0.5))
    if judge.ndim != 1 or judge.shape != reference.shape or len(judge) == 0:
        raise ValueError("one preference per pair from the judge and from the reference")
    machine, human, bias = bootstrap_cis(lambda j, r: np.array([j.mean(), r.mean(), j.mean() - r.mean()]),
                                         judge, reference, n_boot=n_boot, level=level, seed=seed,
                                         clusters=clusters)
    return SelfPreference(machine, human, bias, len(judge))


# --- calibration ----------------------------------------------------------------------------

def _confidence_and_correct(probs, outcomes) -> tuple[np.ndarray, np.ndarray]:
    """Confidence in the predicted answer and whether it was right (0.5 for an exact binary tie).

    Binary: ``probs`` = P(outcome 1) per row, ``outcomes`` 0/1. Several classes: ``probs`` is rows ×
    classes and ``outcomes`` the index of the true class."""
    probs, outcomes = np.asarray(probs, dtype=float), np.asarray(outcomes)
    if probs.ndim == 1:
        if not np.isin(outcomes, (0, 1)).all():
            raise ValueError("binary outcomes must be 0 or 1")
        confidence = np.maximum(probs, 1 - probs)
        correct = np.where(probs == 0.5, 0.5, ((probs > 0.5) == (outcomes == 1)).astype(float))
    else:
        confidence = probs.max(1)
        correct = (probs.argmax(1) == outcomes).astype(float)
    if len(confidence) != len(outcomes) or len(confidence) == 0:
        raise ValueError("one outcome per prediction, at least one")
    return confidence, correct


def calibration_table(probs, outcomes, bins: int = 10) -> dict[str, np.ndarray]:
    """Rows of a reliability diagram: equal-width confidence bins over [0, 1] with the bin edges
    (``low``, ``high``), the mean ``confidence`` in the bin, the observed ``accuracy`` and the
    ``count`` (NaN for empty bins). A calibrated judge is right 80% of the time when 80% sure.
    Rows with a NaN probability are left out."""
    confidence, correct = _confidence_and_correct(probs, outcomes)
    keep = np.isfinite(confidence)
    confidence, correct = confidence[keep], correct[keep]
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(which, confidence, bins) / count
        accuracy = np.bincount(which, correct, bins) / count
    return {"low": edges[:-1], "high": edges[1:], "confidence": mean_confidence, "accuracy": accuracy,
            "count": count}


def _ece(confidence: np.ndarray, correct: np.ndarray, bins: int) -> float:
    which = np.clip(np.digitize(confidence, np.linspace(0, 1, bins + 1)[1:-1], right=True), 0, bins - 1)
    gap = np.bincount(which, confidence - correct, bins)  # per bin: count × (confidence − accuracy)
    return float(np.abs(gap).sum() / len(confidence))


def expected_calibration_error(probs, outcomes, bins: int = 10, n_boot: int = 2000, level: float = 0.95,
                               seed: int = 0) -> Estimate:
    """ECE: the count-weighted mean gap |accuracy − confidence| over the bins of
    :func:`calibration_table` (0 = calibrated), with a bootstrap interval. A small sample has an
    ECE above 0 even for a calibrated judge (the noise in each bin's accuracy)."""
    confidence, correct = _confidence_and_correct(probs, outcomes)
    keep = np.isfinite(confidence)
    return bootstrap_ci(lambda c, k: _ece(c, k, bins), confidence[keep], correct[keep], n_boot=n_boot,
                        level=level, seed=seed)


def plot_calibration(table: dict, title: str = "judge calibration", save_to=None):
    """A reliability diagram of :func:`calibration_table`: accuracy against confidence (the diagonal
    is perfect calibration), each bin's count written beside its point; returns the Figure."""
    import matplotlib.pyplot as plt

    filled = np.asarray(table["count"]) > 0
    conf, acc, count = (np.asarray(table[k])[filled] for k in ("confidence", "accuracy", "count"))
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="calibrated")
    ax.plot(conf, acc, marker="o", label="judge")
    for c, a, n in zip(conf, acc, count):
        ax.annotate(str(int(n)), (c, a), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _finish(fig, save_to)
