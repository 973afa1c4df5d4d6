"""A/B testing a style against the generic model, on a simulated audience (lesson 6).

The pieces, in the order a careful experimenter uses them:

1. ``sample_size`` / ``power``: decide BEFORE the test how many impressions each arm needs to
   detect the smallest lift worth acting on;
2. ``simulate_audience``: the (simulated) readers of a channel click and read more when a
   response fits the channel's style;
3. ``lift``: compare treatment with control once, at the planned size: the lift, a 95%
   confidence interval and a p-value;
4. ``peeking_simulation``: why you must not stop the test the first time p < 0.05.

Pure numpy/scipy. Everything random takes a ``numpy.random.Generator`` (or a seed), so the same
seed gives the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Channel", "CHANNELS", "simulate_audience", "LiftResult", "lift", "sample_size", "power",
           "PeekingResult", "peeking_simulation"]


# --- a simulated audience ---------------------------------------------------------------------

@dataclass(frozen=True)
class Channel:
    """Where a style is shown, and how its readers respond to how well a response fits it.

    ``fit`` in [0, 1] is the style classifier's probability of the channel's style. Clicks follow
    a logistic curve in fit, from ``ctr_no_fit`` (fit 0) to ``ctr_full_fit`` (fit 1). Time spent
    is lognormal: its median grows from ``median_seconds`` (fit 0) to ``median_seconds *
    seconds_ratio`` (fit 1), with spread ``seconds_sigma`` on the log scale (a long right tail:
    a few readers stay very long).
    """

    name: str
    style: str
    ctr_no_fit: float
    ctr_full_fit: float
    median_seconds: float
    seconds_ratio: float
    seconds_sigma: float = 0.8


CHANNELS = {  # keyed by the style that fits the channel
    "news_brief": Channel("news app", "news_brief", ctr_no_fit=0.04, ctr_full_fit=0.07,
                          median_seconds=20.0, seconds_ratio=1.4),
    "feature_story": Channel("magazine", "feature_story", ctr_no_fit=0.03, ctr_full_fit=0.06,
                             median_seconds=45.0, seconds_ratio=1.6),
    "social_ad": Channel("social feed", "social_ad", ctr_no_fit=0.01, ctr_full_fit=0.03,
                         median_seconds=4.0, seconds_ratio=1.5, seconds_sigma=1.0),
}


def _logit(p):
    return np.log(p / (1 - p))


def _channel(channel) -> Channel:
    if isinstance(channel, Channel):
        return channel
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; choose one of {list(CHANNELS)}")
    return CHANNELS[channel]


def click_probability(fit, channel) -> np.ndarray:
    """The true click-through probability for a given fit: logistic of a·fit + b."""
    ch = _channel(channel)
    b = _logit(ch.ctr_no_fit)
    a = _logit(ch.ctr_full_fit) - b
    return 1.0 / (1.0 + np.exp(-(a * np.asarray(fit, dtype=float) + b)))


def simulate_audience(fit_scores, channel, rng, impressions_per_response: int = 200) -> dict:
    """Show every response to ``impressions_per_response`` readers of ``channel``; record what they do.

    ``fit_scores``: one fit in [0, 1] per response (the classifier's probability of the channel's
    style, e.g. ``helpers.styles.style_probabilities(texts, channel)``). ``channel``: a key of
    ``CHANNELS`` (a style name) or a ``Channel``. Each impression is one reader: a click is a
    coin flip with the channel's click probability for that fit, and time spent is a lognormal
    draw whose median grows with fit, so two readers of the same text differ (noise), and more
    fitting texts do better on average (signal).

    Returns numpy arrays, one entry per impression: ``response`` (index into ``fit_scores``),
    ``fit``, ``click`` (0/1) and ``time_spent`` (seconds).
    """
    ch, rng = _channel(channel), np.random.default_rng(rng)
    fit = np.asarray(fit_scores, dtype=float)
    if fit.ndim != 1 or not len(fit) or np.any((fit < 0) | (fit > 1)):
        raise ValueError("fit_scores must be a non-empty list of numbers in [0, 1]")
    response = np.repeat(np.arange(len(fit)), impressions_per_response)
    f = fit[response]
    click = (rng.random(len(f)) < click_probability(f, ch)).astype(int)
    log_median = np.log(ch.median_seconds) + np.log(ch.seconds_ratio) * f
    time_spent = rng.lognormal(mean=log_median, sigma=ch.seconds_sigma)
    return {"response": response, "fit": f, "click": click, "time_spent": time_spent}


# --- comparing two arms -----------------------------------------------------------------------

@dataclass(frozen=True)
class LiftResult:
    """Treatment vs. control on one metric. ``absolute`` = treatment - control;
    ``relative`` = treatment / control - 1; each with a 95% (or 1 - alpha) confidence interval."""

    metric: str
    control: float
    treatment: float
    absolute: float
    ci_low: float
    ci_high: float
    relative: float
    relative_ci_low: float
    relative_ci_high: float
    p_value: float
    n_control: int
    n_treatment: int
    method: str

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha


def _proportion_lift(x_c, n_c, x_t, n_t, alpha, method):
    """Difference of two proportions: CI (Newcombe or Wald), pooled z-test p-value."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    p_c, p_t = x_c / n_c, x_t / n_t
    diff = p_t - p_c
    if method == "newcombe":
        # Newcombe (1998), method 10: combine each arm's Wilson interval. Unlike Wald it stays
        # inside [-1, 1] and keeps its coverage when clicks are rare or arms are small.
        low, high = confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb", compare="diff", alpha=alpha)
    elif method == "wald":
        se = np.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
        z = stats.norm.ppf(1 - alpha / 2)
        low, high = diff - z * se, diff + z * se
    else:
        raise ValueError(f"unknown method {method!r}; choose 'newcombe' or 'wald'")
    # The test assumes "no difference", so it pools both arms to estimate the common rate.
    pooled = (x_c + x_t) / (n_c + n_t)
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    p_value = 2 * stats.norm.sf(abs(diff) / se0) if se0 > 0 else 1.0
    # Variances of each arm's mean, for the relative lift's (log-scale, delta-method) interval.
    return p_c, p_t, low, high, p_value, p_c * (1 - p_c) / n_c, p_t * (1 - p_t) / n_t


def _mean_lift(c, t, alpha):
    """Difference of two means: Welch's t-test and its interval (no equal-variance assumption)."""
    var_c, var_t = c.var(ddof=1) / len(c), t.var(ddof=1) / len(t)
    diff, se = t.mean() - c.mean(), np.sqrt(var_c + var_t)
    if se == 0:  # both arms constant: the difference is known exactly (found by the property test)
        return c.mean(), t.mean(), diff, diff, 1.0 if diff == 0 else 0.0, var_c, var_t
    # Welch-Satterthwaite degrees of freedom
    df = (var_c + var_t) ** 2 / (var_c**2 / (len(c) - 1) + var_t**2 / (len(t) - 1))
    q = stats.t.ppf(1 - alpha / 2, df)
    p_value = 2 * stats.t.sf(abs(diff) / se, df)
    return c.mean(), t.mean(), diff - q * se, diff + q * se, p_value, var_c, var_t


def lift(control, treatment, metric: str = "click", alpha: float = 0.05, method: str = "newcombe") -> LiftResult:
    """How much better is treatment than control on ``metric``, and how sure are we?

    ``control`` / ``treatment``: the dicts ``simulate_audience`` returns (the ``metric`` entry is
    used) or plain arrays of per-impression values.

    * ``metric="click"`` (0/1 per impression, compares click-through rates): the interval for the
      difference is Newcombe's hybrid score interval (default) or the textbook Wald interval
      (``method="wald"``); the p-value is the two-proportion z-test with a pooled rate. Wald is
      fine for thousands of impressions and rates well away from 0; Newcombe also holds up when
      clicks are rare. Because the interval and the test are built differently, right at the
      border "CI excludes 0" and "p < alpha" can disagree.
    * ``metric="time_spent"`` (seconds, compares means): Welch's t-test and interval. Time spent
      is skewed (lognormal), but a mean over thousands of readers is close to normal (central
      limit theorem), and Welch does not assume equal variances in the two arms.

    The relative lift's interval uses the delta method on log(treatment / control) (for rates,
    Katz's log interval for a risk ratio).
    """
    c = np.asarray(control[metric] if isinstance(control, dict) else control, dtype=float)
    t = np.asarray(treatment[metric] if isinstance(treatment, dict) else treatment, dtype=float)
    if len(c) < 2 or len(t) < 2:
        raise ValueError("each arm needs at least two observations")
    z = stats.norm.ppf(1 - alpha / 2)
    if metric == "click":
        if not np.isin(c, (0, 1)).all() or not np.isin(t, (0, 1)).all():
            raise ValueError("clicks must be 0 or 1")
        m_c, m_t, low, high, p_value, var_c, var_t = _proportion_lift(c.sum(), len(c), t.sum(), len(t), alpha, method)
    elif metric == "time_spent":
        if not (np.isfinite(c).all() and np.isfinite(t).all()):
            raise ValueError("time_spent values must be finite numbers (found NaN or infinity)")
        method = "welch"
        m_c, m_t, low, high, p_value, var_c, var_t = _mean_lift(c, t, alpha)
    else:
        raise ValueError(f"unknown metric {metric!r}; choose 'click' or 'time_spent'")
    if m_c > 0 and m_t > 0:
        log_ratio, se_log = np.log(m_t / m_c), np.sqrt(var_t / m_t**2 + var_c / m_c**2)
        rel_low, rel_high = np.exp(log_ratio - z * se_log) - 1, np.exp(log_ratio + z * se_log) - 1
    else:
        rel_low = rel_high = float("nan")
    return LiftResult(metric=metric, control=float(m_c), treatment=float(m_t), absolute=float(m_t - m_c),
                      ci_low=float(low), ci_high=float(high),
                      relative=float(m_t / m_c - 1) if m_c > 0 else float("nan"),
                      relative_ci_low=float(rel_low), relative_ci_high=float(rel_high),
                      p_value=float(p_value), n_control=len(c), n_treatment=len(t), method=method)


# --- planning: sample size and power ----------------------------------------------------------

def _rates(base_rate: float, min_detectable_lift: float, relative: bool) -> tuple[float, float]:
    p1 = base_rate
    p2 = base_rate * (1 + min_detectable_lift) if relative else base_rate + min_detectable_lift
    if not (0 < p1 < 1 and 0 < p2 < 1) or p1 == p2:
        raise ValueError(f"need two different rates in (0, 1), got {p1} and {p2}")
    return p1, p2


def sample_size(base_rate: float, min_detectable_lift: float, alpha: float = 0.05, power: float = 0.8,
                relative: bool = False) -> int:
    """Impressions per arm to detect a change in click-through rate (two-sided test).

    ``min_detectable_lift`` is absolute (0.10 -> 0.12 is 0.02), or relative with
    ``relative=True`` (0.2 = +20%). The standard formula for comparing two proportions (Fleiss,
    Levin & Paik, *Statistical Methods for Rates and Proportions*, 3rd ed., 2003, ch. 4, without
    continuity correction)::

        n = (z_{1-alpha/2} * sqrt(2 p̄ (1 - p̄)) + z_{power} * sqrt(p1 (1 - p1) + p2 (1 - p2)))² / (p2 - p1)²

    with p̄ = (p1 + p2) / 2, rounded up (computed by statsmodels'
    ``samplesize_proportions_2indep_onetail``, which solves this formula). Example: 0.10 -> 0.12,
    alpha 0.05, power 0.8 -> 3,841. Small lifts on small rates need many impressions: n grows
    with 1 / lift².
    """
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    p1, p2 = _rates(base_rate, min_detectable_lift, relative)
    n = samplesize_proportions_2indep_onetail(p2 - p1, p1, power, ratio=1, alpha=alpha, alternative="two-sided")
    return int(np.ceil(n))


def power(base_rate: float, min_detectable_lift: float, n_per_arm: int, alpha: float = 0.05,
          relative: bool = False) -> float:
    """Chance that a two-sided test at ``alpha`` detects the lift with ``n_per_arm`` per arm.

    The same normal approximation as ``sample_size``, solved for power (statsmodels'
    ``power_proportions_2indep``), so ``power(..., sample_size(...))`` is about the power asked for.
    """
    from statsmodels.stats.proportion import power_proportions_2indep

    p1, p2 = _rates(base_rate, min_detectable_lift, relative)
    return float(power_proportions_2indep(p2 - p1, p1, n_per_arm, ratio=1, alpha=alpha,
                                          alternative="two-sided").power)


# --- why not to peek ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PeekingResult:
    """Outcome of many simulated A/A tests (no real difference between the arms).

    ``looks``: impressions per arm at each look. ``p_values``: (experiments x looks) p-values.
    ``cumulative_fpr``: share of experiments that a naive "stop as soon as p < alpha" rule has
    stopped (wrongly) by each look. ``fpr_peeking``: that share at the last look.
    ``fpr_single_look``: share with p < alpha at the planned size only (≈ alpha).
    """

    looks: np.ndarray
    p_values: np.ndarray
    cumulative_fpr: np.ndarray
    fpr_peeking: float
    fpr_single_look: float
    alpha: float


def _pooled_z_pvalues(x_a, x_b, n):
    """Two-proportion z-test p-values, elementwise, for equal arm sizes ``n``."""
    pooled = (x_a + x_b) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (x_b - x_a) / n / se, 0.0)
    return 2 * stats.norm.sf(np.abs(z))


def peeking_simulation(base_rate: float = 0.05, n_per_arm: int = 10_000, n_looks: int = 50,
                       n_experiments: int = 2_000, alpha: float = 0.05, rng=0) -> PeekingResult:
    """Simulate A/A tests checked after every batch of users, and count false alarms.

    Both arms have the same click-through rate ``base_rate``, so every "significant" result is a
    false positive. Each experiment runs to ``n_per_arm`` impressions per arm, in ``n_looks``
    equal batches, and computes the two-proportion z-test after each batch. Stopping at the first
    p < alpha gives a false-positive rate far above alpha (each look is another chance for noise
    to cross the line); testing once, at the planned size, keeps it at about alpha.
    (The planned size is ``looks[-1]``: ``n_per_arm`` rounded down to a multiple of ``n_looks``.)
    """
    rng = np.random.default_rng(rng)
    batch = n_per_arm // n_looks
    if batch < 1:
        raise ValueError("n_per_arm must be at least n_looks")
    looks = batch * np.arange(1, n_looks + 1)
    # clicks per batch for each experiment and arm, then running totals at each look
    clicks_a = rng.binomial(batch, base_rate, size=(n_experiments, n_looks)).cumsum(axis=1)
    clicks_b = rng.binomial(batch, base_rate, size=(n_experiments, n_looks)).cumsum(axis=1)
    p_values = _pooled_z_pvalues(clicks_a, clicks_b, looks)
    stopped = np.minimum.accumulate(p_values, axis=1) < alpha  # crossed the line at or before this look
    return PeekingResult(looks=looks, p_values=p_values, cumulative_fpr=stopped.mean(axis=0),
                         fpr_peeking=float(stopped[:, -1].mean()),
                         fpr_single_look=float((p_values[:, -1] < alpha).mean()), alpha=alpha)
