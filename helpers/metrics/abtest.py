"""A/B testing a style against the generic model, on a simulated audience (lesson 6).

The pieces, in the order a careful experimenter uses them:

1. ``sample_size`` / ``power`` and their clustered versions (``design_effect``,
   ``power_clustered``, ``texts_needed``, ``impressions_per_text_needed``): decide BEFORE the
   test how many texts and impressions each arm needs to detect the smallest lift worth acting on;
2. ``simulate_audience``: the (simulated) readers of a channel click and read more when a text
   has what those readers like. The readers see the text's surface only (``reader_signals``:
   length, sentence length, exclamation marks, "you", figures, quotations, emoji, hashtags, a
   dateline, repetition, broken characters), through hand-set weights. They never see the style
   classifier, its embeddings or the style sheets, so the audience is an *independent* judge of
   the adapters (the tests in ``tests/unit/test_abtest_audience.py`` check it);
3. ``cluster_lift``: compare treatment with control once, at the planned size, with an interval
   that treats the *texts* as the units that were sampled (cluster-robust t, or a cluster
   bootstrap over texts);
   ``lift`` is the textbook version that treats every impression as independent, which is right
   for one text per impression and far too narrow when a few texts are shown many times;
4. ``peeking_simulation``: why you must not stop the test the first time p < 0.05.

Pure Python, numpy, scipy and statsmodels. Everything random takes a ``numpy.random.Generator``
(or a seed), so the same seed gives the same numbers.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import stats

__all__ = ["SIGNALS", "reader_signals", "Channel", "CHANNELS", "appeal_score", "expected_ctr",
           "simulate_audience", "LiftResult", "lift", "ClusterLiftResult", "cluster_lift",
           "intraclass_correlation", "appeal_icc", "design_effect", "effective_sample_size",
           "sample_size", "power", "power_clustered", "plateau_impressions", "texts_needed",
           "impressions_per_text_needed",
           "PeekingResult", "peeking_simulation"]


# --- what a reader notices: surface signals of one text ---------------------------------------

_WORD = re.compile(r"[A-Za-z0-9£$€%']+")
_SENTENCE_END = re.compile(r"[.!?]+(?=[\s\"”')]|$)")
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\U00002600-\U000027BF]")
_HASHTAG = re.compile(r"#\w+")
_DATELINE = re.compile(r"^\s*[A-Z][A-Z .'-]{2,}\s+[—–-]")  # "MILLBROOK — ..."
_QUOTE = re.compile("[\"“”]")
_YOU = frozenset("you your yours yourself yourselves you're you've you'll you'd".split())

SIGNALS = {  # name -> what it measures; every signal is in [0, 1]
    "dateline": "opens with a place name in capitals and a dash",
    "figures": "tokens with a digit (dates, prices, counts), 3 or more count as 1",
    "quote": "has a quotation (a pair of quotation marks)",
    "exclamation": "exclamation marks, 2 or more count as 1",
    "you": "share of words that address the reader (you, your ...), 5% or more count as 1",
    "emoji": "emoji, 2 or more count as 1",
    "hashtag": "has a hashtag",
    "long_sentences": "mean sentence length beyond 20 words, 0 at 20 words, 1 at 40 or more",
    "length_miss": "how far the length is from the channel's ideal: |log2(words / ideal)| / 2, at most 1",
    "repetition": "share of three-word runs already used earlier in the text, 0.3 or more count as 1",
    "broken": "has a broken character (U+FFFD, what a reader sees for invalid bytes)",
}


def reader_signals(text: str, ideal_words: float) -> dict[str, float]:
    """The surface signals of ``text`` that the simulated readers react to, each in [0, 1].

    Computed from the text alone with a few regular expressions (see ``SIGNALS``); nothing is
    learnt from data. ``ideal_words`` is the length the channel's readers like best (it sets
    ``length_miss``).
    """
    return dict(zip(SIGNALS, _signal_values(text, float(ideal_words))))


@lru_cache(maxsize=4096)  # simulations show the same texts again and again
def _signal_values(text: str, ideal_words: float) -> tuple[float, ...]:
    words = text.split()
    tokens = [w.lower() for w in _WORD.findall(text)]
    n_words, n_sentences = max(len(words), 1), max(len(_SENTENCE_END.findall(text)), 1)
    seen, repeated = set(), 0
    for triple in zip(tokens, tokens[1:], tokens[2:]):  # three words, not two: names recur, loops repeat
        repeated += triple in seen
        seen.add(triple)
    values = {
        "dateline": float(bool(_DATELINE.match(text))),
        "figures": min(sum(any(c.isdigit() for c in w) for w in words) / 3, 1.0),
        "quote": float(len(_QUOTE.findall(text)) >= 2),
        "exclamation": min(text.count("!") / 2, 1.0),
        "you": min(sum(t in _YOU for t in tokens) / max(len(tokens), 1) / 0.05, 1.0),
        "emoji": min(len(_EMOJI.findall(text)) / 2, 1.0),
        "hashtag": float(bool(_HASHTAG.search(text))),
        "long_sentences": min(max(n_words / n_sentences - 20, 0) / 20, 1.0),
        "length_miss": min(abs(math.log2(n_words / ideal_words)) / 2, 1.0),
        "repetition": min(repeated / max(len(tokens) - 2, 1) / 0.3, 1.0),
        "broken": float("\ufffd" in text),
    }
    return tuple(values[name] for name in SIGNALS)


# --- a simulated audience ---------------------------------------------------------------------

@dataclass(frozen=True)
class Channel:
    """Where a style is shown, and what its simulated readers like.

    A reader clicks with probability ``expit(logit(base_ctr) + appeal)``. A text's appeal is its
    *score*, ``sum(weights[s] * signal s)`` over its ``reader_signals``, plus a *latent appeal*
    drawn once per text, normal with sd ``appeal_sd`` on the logit scale: what readers like or
    dislike in a text that no signal captures (the topic, the first line). Every impression of a
    text shares its latent appeal, so impressions of one text are correlated, as with real
    readers. ``base_ctr`` is the click-through rate of a text whose signals are all 0 (at the
    average latent appeal). Time spent is lognormal: median ``median_seconds *
    exp(seconds_per_appeal * appeal)``, spread ``seconds_sigma`` on the log scale (a long right
    tail: a few readers stay very long).

    The weights are hand-set to state each channel's readers' taste, and are not fitted to any
    data: news readers like a dateline and figures, magazine readers a quotation and a long read,
    feed readers short texts that talk to them, with emoji and a hashtag; every reader leaves
    text that repeats itself or shows broken characters.
    """

    name: str
    style: str
    base_ctr: float
    ideal_words: float
    weights: dict = field(hash=False)
    median_seconds: float = 20.0
    appeal_sd: float = 0.4
    seconds_per_appeal: float = 0.5
    seconds_sigma: float = 0.8


_EVERY_READER = {"repetition": -1.0, "broken": -0.5}
CHANNELS = {  # keyed by the style that fits the channel
    "news_brief": Channel(
        "news app", "news_brief", base_ctr=0.05, ideal_words=60, median_seconds=20.0,
        weights={"dateline": 0.4, "figures": 0.3, "quote": 0.1, "exclamation": -0.4, "emoji": -0.5,
                 "hashtag": -0.3, "you": -0.2, "long_sentences": -0.2, "length_miss": -0.6, **_EVERY_READER}),
    "feature_story": Channel(
        "magazine", "feature_story", base_ctr=0.035, ideal_words=110, median_seconds=45.0,
        weights={"quote": 0.5, "figures": 0.1, "dateline": -0.3, "exclamation": -0.3, "emoji": -0.5,
                 "hashtag": -0.4, "you": -0.1, "long_sentences": -0.1, "length_miss": -0.6, **_EVERY_READER}),
    "social_ad": Channel(
        "social feed", "social_ad", base_ctr=0.015, ideal_words=35, median_seconds=4.0, seconds_sigma=1.0,
        weights={"you": 0.4, "exclamation": 0.3, "emoji": 0.3, "hashtag": 0.2, "figures": 0.1,
                 "dateline": -0.3, "quote": -0.1, "long_sentences": -0.5, "length_miss": -0.8, **_EVERY_READER}),
}


def _logit(p):
    return np.log(p / (1 - p))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _channel(channel) -> Channel:
    if isinstance(channel, Channel):
        return channel
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; choose one of {list(CHANNELS)}")
    return CHANNELS[channel]


def _texts(texts) -> list[str]:
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a non-empty list of strings")
    return texts


def appeal_score(texts, channel) -> np.ndarray:
    """Each text's score with the channel's readers: the weighted sum of its ``reader_signals``
    (on the logit scale; 0 is a text with no signal, positive is more clicks)."""
    ch = _channel(channel)
    signals = [reader_signals(t, ch.ideal_words) for t in _texts(texts)]
    return np.array([sum(w * x[s] for s, w in ch.weights.items()) for x in signals])


# Gauss-Hermite nodes for averaging over a normal latent appeal (probabilists' version: weight exp(-x²/2))
_NODES, _NODE_WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_NODE_WEIGHTS = _NODE_WEIGHTS / _NODE_WEIGHTS.sum()


def _mean_over_appeal(eta, appeal_sd, exponent: int = 1):
    """E[expit(eta + u) ** exponent] for u ~ N(0, appeal_sd²), elementwise in ``eta``."""
    p = _expit(np.asarray(eta, dtype=float)[..., None] + appeal_sd * _NODES)
    return (p**exponent * _NODE_WEIGHTS).sum(-1)


def expected_ctr(texts, channel) -> np.ndarray:
    """The true click-through rate of each text in ``channel``, averaged over the latent appeal
    (the rate a text written like this gets on average; a single text's rate varies around it)."""
    ch = _channel(channel)
    return _mean_over_appeal(_logit(ch.base_ctr) + appeal_score(texts, ch), ch.appeal_sd)


def simulate_audience(texts, channel, rng, impressions_per_text: int = 200) -> dict:
    """Show every text to ``impressions_per_text`` readers of ``channel``; record what they do.

    ``texts``: the texts of one arm. ``channel``: a key of ``CHANNELS`` (a style name) or a
    ``Channel``. Each text first gets its latent appeal (one normal draw, shared by all its
    readers); then each impression is one reader: a click is a coin flip with the text's click
    probability, and time spent a lognormal draw. Two readers of one text differ (noise), texts
    differ more than their signals say (latent appeal), and texts with what the readers like do
    better on average (signal). Nothing here reads a style classifier or an embedding.

    Returns numpy arrays, one entry per impression: ``text`` (index into ``texts``: the cluster
    an impression belongs to), ``click`` (0/1) and ``time_spent`` (seconds).
    """
    ch, rng = _channel(channel), np.random.default_rng(rng)
    if impressions_per_text < 1:
        raise ValueError("impressions_per_text must be at least 1")
    appeal = appeal_score(texts, ch)
    appeal = appeal + rng.normal(0.0, ch.appeal_sd, len(appeal))
    text = np.repeat(np.arange(len(appeal)), impressions_per_text)
    click = (rng.random(len(text)) < _expit(_logit(ch.base_ctr) + appeal[text])).astype(int)
    log_median = np.log(ch.median_seconds) + ch.seconds_per_appeal * appeal[text]
    time_spent = rng.lognormal(mean=log_median, sigma=ch.seconds_sigma)
    return {"text": text, "click": click, "time_spent": time_spent}


# --- comparing two arms, every impression independent (the textbook) --------------------------

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

    Every formula here assumes independent impressions: right when each impression shows a
    different text (or the same text is all you want to know about), far too narrow when a few
    texts are shown to many readers each. Then use ``cluster_lift``.
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


# --- comparing two arms when impressions come in clusters (texts) -----------------------------

def _by_cluster(values, clusters):
    """Per-cluster sums and counts, and each value's cluster number (0 .. k - 1)."""
    _, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    return np.bincount(inverse, weights=values), np.bincount(inverse).astype(float), inverse


def intraclass_correlation(values, clusters) -> float:
    """Share of the variance of ``values`` that lies between clusters: the one-way ANOVA
    estimator (Donner 1986), clipped at 0. ``values`` are per impression, ``clusters`` say
    which text each impression belongs to. 0: a text's impressions are as different as any two;
    1: all impressions of a text are alike."""
    y = np.asarray(values, dtype=float)
    sums, counts, inverse = _by_cluster(y, clusters)
    k, n = len(counts), len(y)
    if k < 2 or n <= k:
        raise ValueError("need at least two clusters and more impressions than clusters")
    means = sums / counts
    msb = (counts * (means - y.mean()) ** 2).sum() / (k - 1)
    msw = ((y - means[inverse]) ** 2).sum() / (n - k)
    n0 = (n - (counts**2).sum() / n) / (k - 1)  # the "average" cluster size for unequal sizes
    denominator = msb + (n0 - 1) * msw
    return float(max((msb - msw) / denominator, 0.0)) if denominator > 0 else 0.0


def _pooled_icc(control, treatment, metric):
    """ICC within arms (each arm's mean removed), weighted by the arms' cluster counts."""
    iccs, weights = [], []
    for arm in (control, treatment):
        k = len(np.unique(arm["text"]))
        if k >= 2 and len(arm["text"]) > k:
            iccs.append(intraclass_correlation(arm[metric], arm["text"]))
            weights.append(k - 1)
    return float(np.average(iccs, weights=weights)) if iccs else 0.0


@dataclass(frozen=True)
class ClusterLiftResult(LiftResult):
    """A ``LiftResult`` whose interval treats texts, not impressions, as the sampled units.

    ``naive_ci_low`` / ``naive_ci_high``: the interval ``lift`` gives for the same data
    (impressions independent). ``icc``: the intraclass correlation within arms; ``design_effect``
    = 1 + (m - 1) * icc for m impressions per text: how many times the variance exceeds the
    variance the naive interval assumes. ``effective_n_control`` / ``effective_n_treatment``:
    impressions / design effect, what the test is worth in independent impressions.
    """

    n_texts_control: int = 0
    n_texts_treatment: int = 0
    naive_ci_low: float = float("nan")
    naive_ci_high: float = float("nan")
    icc: float = 0.0
    design_effect: float = 1.0
    effective_n_control: float = 0.0
    effective_n_treatment: float = 0.0


def _arm(data, metric):
    if not isinstance(data, dict) or metric not in data or "text" not in data:
        raise ValueError(f"each arm must be a dict with {metric!r} and 'text' (as simulate_audience returns)")
    values, clusters = np.asarray(data[metric], dtype=float), np.asarray(data["text"])
    if values.shape != clusters.shape or not np.isfinite(values).all():
        raise ValueError(f"{metric!r} must be finite and have one 'text' entry per impression")
    sums, counts, _ = _by_cluster(values, clusters)
    if len(counts) < 2:
        raise ValueError("each arm needs at least two texts")
    return sums, counts


def _bootstrap_lift(sums_c, counts_c, sums_t, counts_t, alpha, n_boot, rng):
    """Percentile interval, p-value and relative interval from resampling whole texts."""
    rng = np.random.default_rng(rng)

    def arm_means(sums, counts):  # each row: the arm's texts drawn with replacement, all their impressions kept
        pick = rng.integers(0, len(counts), size=(n_boot, len(counts)))
        return sums[pick].sum(1) / counts[pick].sum(1)

    boot_c, boot_t = arm_means(sums_c, counts_c), arm_means(sums_t, counts_t)
    diff = boot_t - boot_c
    low, high = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    tail = min((diff <= 0).sum(), (diff >= 0).sum())
    p_value = min(1.0, 2 * (tail + 1) / (n_boot + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = boot_t / boot_c - 1
    rel_low, rel_high = np.quantile(rel, [alpha / 2, 1 - alpha / 2]) if np.isfinite(rel).all() else (np.nan, np.nan)
    return low, high, p_value, rel_low, rel_high


def _mean_and_cluster_variance(sums, counts):
    """An arm's mean over impressions and its variance with texts as the sampled units
    (linearization / CR1: sum over texts of (text total - mean * text impressions)², scaled).
    With equal impressions per text it is s² / k of the k per-text means."""
    k, n = len(counts), counts.sum()
    mean = sums.sum() / n
    return mean, k / (k - 1) * ((sums - mean * counts) ** 2).sum() / n**2


def _cluster_t_lift(sums_c, counts_c, sums_t, counts_t, alpha):
    """Welch-type interval and test on the texts: cluster-robust variances, Satterthwaite df."""
    (m_c, v_c), (m_t, v_t) = _mean_and_cluster_variance(sums_c, counts_c), _mean_and_cluster_variance(sums_t, counts_t)
    diff, se = m_t - m_c, np.sqrt(v_c + v_t)
    if se == 0:  # every text of both arms has the same mean: nothing varies between texts
        rel = m_t / m_c - 1 if m_c > 0 else np.nan
        return diff, diff, 1.0 if diff == 0 else 0.0, rel, rel
    df = (v_c + v_t) ** 2 / (v_c**2 / (len(counts_c) - 1) + v_t**2 / (len(counts_t) - 1))
    q = stats.t.ppf(1 - alpha / 2, df)
    p_value = 2 * stats.t.sf(abs(diff) / se, df)
    if m_c > 0 and m_t > 0:
        log_ratio, se_log = np.log(m_t / m_c), np.sqrt(v_t / m_t**2 + v_c / m_c**2)
        rel_low, rel_high = np.exp(log_ratio - q * se_log) - 1, np.exp(log_ratio + q * se_log) - 1
    else:
        rel_low = rel_high = np.nan
    return diff - q * se, diff + q * se, p_value, rel_low, rel_high


def cluster_lift(control: dict, treatment: dict, metric: str = "click", alpha: float = 0.05,
                 method: str = "t", n_boot: int = 4000, rng=0) -> ClusterLiftResult:
    """Treatment vs control on ``metric``, with the *texts* as the units that were sampled.

    ``control`` / ``treatment``: dicts as ``simulate_audience`` returns them (``metric`` per
    impression and ``text``, the cluster of each impression). The estimate is ``lift``'s (each
    arm's mean over all its impressions); the uncertainty is not: a text's readers share its
    appeal, so thousands of impressions of the same few texts cannot average away how those texts
    happened to come out. Two ways to say how sure we are:

    * ``method="t"`` (default): each arm's variance from the spread *between its texts*
      (the cluster-robust, or linearization, variance; with equal impressions per text this is
      the variance of the per-text rates over k), and a Welch t interval and test whose degrees
      of freedom come from the number of texts, not of impressions. This keeps its coverage with
      as few as 10 texts per arm (measured in ``tests/unit/test_abtest.py``: about 95%).
    * ``method="bootstrap"``: a cluster bootstrap. Each of ``n_boot`` resamples draws each
      arm's texts with replacement, *with all their impressions*, and recomputes both means; the
      interval is the percentile interval of the resampled lifts, the p-value the two-sided share
      of resampled lifts on the other side of 0 (so p < alpha when the 1 - alpha interval
      excludes 0, up to the resolution 1 / n_boot). Seeded by ``rng``. It needs no formula
      for the variance, but with few texts it is a little narrow (the bootstrap variance of a mean
      of k texts is (k - 1) / k of the usual estimate, and it ignores that the spread itself is
      estimated from k texts): with 10 texts per arm about 91% coverage for a nominal 95%.

    More texts fix both; more impressions of the same texts do not. The result also carries the
    naive interval (``lift``, impressions independent) and the intraclass correlation and design
    effect, so you can see how much the naive interval overstates what the test knows.
    """
    sums_c, counts_c = _arm(control, metric)
    sums_t, counts_t = _arm(treatment, metric)
    naive = lift(control, treatment, metric, alpha)  # also checks that clicks are 0/1
    if method == "t":
        low, high, p_value, rel_low, rel_high = _cluster_t_lift(sums_c, counts_c, sums_t, counts_t, alpha)
        label = "cluster-robust t over texts"
    elif method == "bootstrap":
        low, high, p_value, rel_low, rel_high = _bootstrap_lift(sums_c, counts_c, sums_t, counts_t, alpha, n_boot, rng)
        label = "cluster bootstrap over texts"
    else:
        raise ValueError(f"unknown method {method!r}; choose 't' or 'bootstrap'")
    icc = _pooled_icc(control, treatment, metric)
    m = (counts_c.sum() + counts_t.sum()) / (len(counts_c) + len(counts_t))
    de = 1 + (m - 1) * icc
    return ClusterLiftResult(
        metric=metric, control=naive.control, treatment=naive.treatment, absolute=naive.absolute,
        ci_low=float(low), ci_high=float(high), relative=naive.relative,
        relative_ci_low=float(rel_low), relative_ci_high=float(rel_high), p_value=float(p_value),
        n_control=naive.n_control, n_treatment=naive.n_treatment, method=label,
        n_texts_control=len(counts_c), n_texts_treatment=len(counts_t),
        naive_ci_low=naive.ci_low, naive_ci_high=naive.ci_high, icc=icc, design_effect=float(de),
        effective_n_control=float(counts_c.sum() / de), effective_n_treatment=float(counts_t.sum() / de))


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


def power(base_rate: float, min_detectable_lift: float, n_per_arm: float, alpha: float = 0.05,
          relative: bool = False) -> float:
    """Chance that a two-sided test at ``alpha`` detects the lift with ``n_per_arm`` per arm.

    The same normal approximation as ``sample_size``, solved for power (statsmodels'
    ``power_proportions_2indep``), so ``power(..., sample_size(...))`` is about the power asked for.
    ``n_per_arm`` counts independent impressions; it may be fractional (an effective sample size,
    see ``power_clustered``).
    """
    from statsmodels.stats.proportion import power_proportions_2indep

    p1, p2 = _rates(base_rate, min_detectable_lift, relative)
    return float(power_proportions_2indep(p2 - p1, p1, n_per_arm, ratio=1, alpha=alpha,
                                          alternative="two-sided").power)


# --- planning when impressions come in clusters: the design effect ----------------------------

def appeal_icc(base_rate: float, appeal_sd: float) -> float:
    """The intraclass correlation of clicks that a latent appeal with sd ``appeal_sd`` (logit
    scale) gives at a click-through rate of about ``base_rate``: Var(p_text) / (p̄ (1 - p̄)), the
    share of the click variance that lies between texts. What to plan with when earlier tests in
    the channel say how much texts differ (here: the audience's ``appeal_sd``). Texts that also
    differ in their signals have a larger ICC."""
    eta = _logit(base_rate)
    mean, second = _mean_over_appeal(eta, appeal_sd), _mean_over_appeal(eta, appeal_sd, exponent=2)
    return float((second - mean**2) / (mean * (1 - mean)))


def design_effect(impressions_per_text: float, icc: float) -> float:
    """Kish's design effect for clusters of m impressions: 1 + (m - 1) * icc. The variance of an
    arm's mean is this many times what it would be with as many independent impressions."""
    if impressions_per_text < 1 or not 0 <= icc <= 1:
        raise ValueError("need impressions_per_text >= 1 and icc in [0, 1]")
    return 1.0 + (impressions_per_text - 1) * icc


def effective_sample_size(n_texts: int, impressions_per_text: float, icc: float) -> float:
    """What ``n_texts`` texts shown ``impressions_per_text`` times each are worth in independent
    impressions: n_texts * m / design effect. It never exceeds n_texts / icc, however large m."""
    return n_texts * impressions_per_text / design_effect(impressions_per_text, icc)


def power_clustered(base_rate: float, min_detectable_lift: float, n_texts: int, impressions_per_text: float,
                    icc: float, alpha: float = 0.05, relative: bool = False) -> float:
    """``power`` of a test with ``n_texts`` texts per arm, each shown ``impressions_per_text``
    times: the power of the effective sample size. (A normal approximation: with very few texts
    the real test is a little weaker.)"""
    n_eff = effective_sample_size(n_texts, impressions_per_text, icc)
    return power(base_rate, min_detectable_lift, n_eff, alpha, relative)


def plateau_impressions(icc: float, share: float = 0.9) -> int:
    """Impressions per text at which any number of texts reaches ``share`` of its ceiling
    n_texts / icc effective impressions: share (1 - icc) / ((1 - share) icc), rounded up. Beyond
    it, more readers per text add little; only more texts do."""
    if not 0 < icc < 1 or not 0 < share < 1:
        raise ValueError("need icc and share in (0, 1)")
    return int(np.ceil(share * (1 - icc) / ((1 - share) * icc) - 1e-9))  # 1e-9: 891.0000001 is 891


def texts_needed(base_rate: float, min_detectable_lift: float, icc: float, impressions_per_text: int,
                 alpha: float = 0.05, power: float = 0.8, relative: bool = False) -> int:
    """Texts per arm, each shown ``impressions_per_text`` times, to reach ``power``:
    ``sample_size`` * design effect / m, rounded up."""
    n = sample_size(base_rate, min_detectable_lift, alpha, power, relative)
    return int(np.ceil(n * design_effect(impressions_per_text, icc) / impressions_per_text))


def impressions_per_text_needed(base_rate: float, min_detectable_lift: float, icc: float, n_texts: int,
                                alpha: float = 0.05, power: float = 0.8, relative: bool = False) -> int | None:
    """Impressions per text to reach ``power`` with ``n_texts`` texts per arm, or None when no
    number of impressions is enough: the effective sample size is capped at n_texts / icc, so
    with n_texts <= n * icc (n = ``sample_size``) only more texts help. Solves
    n_texts * m / (1 + (m - 1) icc) = n for m."""
    n = sample_size(base_rate, min_detectable_lift, alpha, power, relative)
    if n_texts <= n * icc:
        return None
    return max(int(np.ceil(n * (1 - icc) / (n_texts - n * icc))), 1)


# --- why not to peek ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PeekingResult:
    """Outcome of many simulated A/A tests (no real difference between the arms).

    ``looks``: impressions per arm at each look. ``p_values``: (experiments x looks) p-values.
    ``cumulative_fpr``: share of experiments that a naive "stop as soon as p < alpha" rule has
    stopped (wrongly) by each look. ``fpr_peeking``: that share at the last look.
    ``fpr_single_look``: share with p < alpha at the planned size only (≈ alpha).
    ``fpr_peeking_ci`` / ``fpr_single_look_ci``: 95% Wilson intervals for the two shares (the
    simulated experiments are independent, so here the binomial interval is the right one).
    """

    looks: np.ndarray
    p_values: np.ndarray
    cumulative_fpr: np.ndarray
    fpr_peeking: float
    fpr_single_look: float
    alpha: float
    fpr_peeking_ci: tuple[float, float] = (float("nan"), float("nan"))
    fpr_single_look_ci: tuple[float, float] = (float("nan"), float("nan"))


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
    from statsmodels.stats.proportion import proportion_confint

    stopped = np.minimum.accumulate(p_values, axis=1) < alpha  # crossed the line at or before this look
    single = p_values[:, -1] < alpha
    wilson = lambda hits: tuple(float(v) for v in proportion_confint(hits.sum(), len(hits), method="wilson"))  # noqa: E731
    return PeekingResult(looks=looks, p_values=p_values, cumulative_fpr=stopped.mean(axis=0),
                         fpr_peeking=float(stopped[:, -1].mean()), fpr_single_look=float(single.mean()),
                         alpha=alpha, fpr_peeking_ci=wilson(stopped[:, -1]), fpr_single_look_ci=wilson(single))
