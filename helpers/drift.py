"""Stylistic drift monitoring of the deployed style service (lesson 7).

Lesson 6 serves three LoRA style adapters (``news_brief``, ``feature_story``, ``social_ad``) and
the ``generic`` base model behind one endpoint. Once deployed, what it writes can drift away from
what was tested: an adapter update trained on a more casual mix, a change of decoding settings,
or a different mix of requests. This module watches for that, window by window (a window is a
week by default), and measures how often the watching cries wolf and how fast it notices.

The pieces, in the order lesson 7 uses them (the two-sample tests, MMD and CUSUM themselves are
in :mod:`helpers.metrics.drift_tests`; this module simulates the deployment and runs them):

1. ``Pool`` and ``Canary``: replies generated ONCE by the healthy service and by a drifted one,
   with their per-reply metrics (style probability, formality, length, ...) and sentence
   embeddings already computed, and the judge's scores of replies to a fixed set of canary
   prompts. Generating text is the slow part, so a simulated run only resamples these pools;
2. ``simulate_log``: a deployment log over weeks (timestamp, style, prompt, reply, metrics),
   with a drift injected at a known window, or none;
3. the monitors, each comparing a window with the reference period (the first windows after
   deployment, believed healthy): ``metric_tests`` (Kolmogorov-Smirnov or Mann-Whitney per
   metric, Holm-corrected across metrics), ``psi`` (population stability index), ``mmd_test``
   (a kernel two-sample test on the embeddings with a permutation p-value) and ``cusum`` (a
   chart of the canary judge scores with ``cusum_limit``'s control limit). ``monitor`` runs them
   on a log and combines them into one alarm per window;
4. ``evaluate``: many seeded runs without drift (the false-alarm rate per monitored period) and
   with drift (how many are caught within a few windows, and how late);
5. ``dashboard`` plots one run; ``flagged_for_labelling`` turns a flagged window's most atypical
   replies into items for lesson 2's ``LikertLabeler``.

The alarm rule (details in ``monitor``): the false-alarm budget ``alpha`` (0.02 by default,
for the bar "at most 0.05 per monitored period") is split in thirds between the metric tests,
the embedding test and the canary chart; the two tests spend their third evenly over the
monitored windows (Bonferroni), the chart's limit is simulated to spend its third over the whole
period; a window raises an alarm when any of the three flags it. PSI is shown, not used.

The embedding test is MMD with a permutation p-value rather than a domain classifier's AUC: the
permutation p-value is exact at any sample size (the budget split needs p-values it can trust
far in the tail), it needs no model fit per window, and its witness function says which replies
moved, which is what ``flagged_for_labelling`` sends to the raters. ``domain_classifier_auc`` is
there as a second opinion that is easier to explain (AUC 0.7: a classifier ranks a reply of
this week above a reference reply 70% of the time).

Libraries: scipy for the tests and scikit-learn for the optional domain classifier. Both are
already in the workbook's stack, and each test here is a few lines a learner can read and check.
Evidently (Apache-2.0, maintained) has these tests and good reports, but it is a heavy
dependency for four tests and hides the statistics this lesson is about. alibi-detect has the
MMD and classifier tests too, but since January 2024 it is under the Business Source License
1.1, which allows non-production use only without a commercial licence from Seldon: a poor
thing to teach for monitoring a deployed service.

Everything random takes a seed or a ``numpy.random.Generator``: the same seed gives the same log,
the same p-values and the same evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.metrics.drift_tests import (
    PSI_MAJOR,
    PSI_MODERATE,
    TESTS,
    MMDResult,
    _check_int,
    _finite,
    _mmd_pooled,
    _sqdist,
    _two_sample,
    cusum,
    cusum_limit,
    domain_classifier_auc,
    holm,
    metric_tests,
    mmd_test,
    mmd_witness,
    psi,
)
from helpers.workbook.plotting import _finish

__all__ = ["Canary", "Pool", "simulate_log", "log_embeddings", "holm", "metric_tests", "psi", "MMDResult",
           "mmd_test", "mmd_witness", "domain_classifier_auc", "cusum", "cusum_limit", "MonitorResult",
           "monitor", "Evaluation", "evaluate", "dashboard", "flagged_for_labelling",
           "PSI_MODERATE", "PSI_MAJOR", "DRIFT_KINDS", "MONITORS"]

DRIFT_KINDS = ("replies", "mix")
MONITORS = ("metrics", "embedding", "canary")
LOG_COLUMNS = ("timestamp", "window", "style", "prompt", "reply", "canary", "canary_score", "pool", "item",
               "drifted")


# --- pools: replies generated once ------------------------------------------------------------

@dataclass(eq=False)  # array fields: compare pools by identity
class Canary:
    """A fixed set of canary prompts sent every window, and the judge's scores of the replies.

    ``prompts`` and ``styles``: one per canary request (the same prompt may come with several
    styles). ``scores``: (prompts x r) judge scores of r sampled replies per prompt from this
    pool's model; ``replies``: optionally the r texts per prompt (shown in the log).
    """

    prompts: list[str]
    styles: list[str]
    scores: np.ndarray
    replies: list[list[str]] | None = None

    def __post_init__(self):
        self.prompts, self.styles = list(self.prompts), list(self.styles)
        if not self.prompts:
            raise ValueError("Canary: 'prompts' is empty")
        if len(self.styles) != len(self.prompts):
            raise ValueError(f"Canary: 'styles' has {len(self.styles)} entries but 'prompts' has {len(self.prompts)}")
        if len(set(zip(self.styles, self.prompts))) != len(self.prompts):
            raise ValueError("Canary: each (style, prompt) pair must appear once")
        self.scores = np.asarray(self.scores, dtype=float)
        if self.scores.ndim != 2 or self.scores.shape[0] != len(self.prompts) or self.scores.shape[1] < 1:
            raise ValueError(f"Canary: 'scores' must be (prompts x replies) = ({len(self.prompts)} x r), "
                             f"got shape {self.scores.shape}")
        if not np.isfinite(self.scores).all():
            raise ValueError("Canary: 'scores' has NaN or infinite values")
        if self.replies is not None:
            if len(self.replies) != len(self.prompts) or any(len(r) != self.scores.shape[1] for r in self.replies):
                raise ValueError("Canary: 'replies' must hold one text per score (same shape as 'scores')")
            self.replies = [list(r) for r in self.replies]


@dataclass(eq=False)  # array fields: compare pools by identity
class Pool:
    """Replies of one version of the service, with everything the monitors need, computed once.

    ``texts``, ``styles`` (requested style), ``prompts``: one entry per reply. ``metrics``: name ->
    one number per reply (e.g. the style classifier's probability of the requested style, a
    formality score, the length in words). ``embeddings``: (replies x d) sentence embeddings, e.g.
    ``helpers.metrics.style.cached_embed(texts)``. ``canary``: the judge's scores on the canary prompts.
    A style missing from a drifted pool is a style whose adapter did not change.
    """

    texts: list[str]
    styles: list[str]
    prompts: list[str]
    metrics: dict[str, np.ndarray]
    embeddings: np.ndarray | None = None
    canary: Canary | None = None
    by_style: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self):
        self.texts, self.styles, self.prompts = list(self.texts), list(self.styles), list(self.prompts)
        n = len(self.texts)
        if n == 0:
            raise ValueError("Pool: 'texts' is empty")
        for name in ("styles", "prompts"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Pool: {name!r} has {len(getattr(self, name))} entries but 'texts' has {n}")
        metrics = {}
        for name, values in dict(self.metrics).items():
            if name in LOG_COLUMNS:
                raise ValueError(f"Pool: metric name {name!r} is a column of the log; rename the metric")
            metrics[name] = _finite("Pool", f"metrics[{name!r}]", values, 1, n)
        self.metrics = metrics
        if self.embeddings is not None:
            self.embeddings = _finite("Pool", "embeddings", self.embeddings, 2, n)
        if self.canary is not None and not isinstance(self.canary, Canary):
            raise ValueError(f"Pool: 'canary' must be a Canary or None, got {type(self.canary).__name__}")
        styles = np.array(self.styles, dtype=object)
        self.by_style = {s: np.flatnonzero(styles == s) for s in dict.fromkeys(self.styles)}

    def __len__(self) -> int:
        return len(self.texts)


# --- a simulated deployment log ---------------------------------------------------------------

def _mix(mix: dict | None, pool: Pool, name: str, styles: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Style names and their request probabilities (default: every style of the pool, equally)."""
    styles = list(pool.by_style) if styles is None else styles
    if mix is None:
        return styles, np.full(len(styles), 1 / len(styles))
    unknown = [s for s in mix if s not in pool.by_style]
    if unknown:
        raise ValueError(f"{name}: style {unknown[0]!r} has no replies in the healthy pool ({list(pool.by_style)})")
    weights = np.array([float(mix.get(s, 0.0)) for s in styles])
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"{name}: weights must be non-negative numbers, not all zero; got {mix}")
    return styles, weights / weights.sum()


def _check_drifted(healthy: Pool, drifted: Pool | None) -> None:
    if drifted is None:
        raise ValueError("drifted: a 'replies' drift needs the drifted pool")
    if set(drifted.metrics) != set(healthy.metrics):
        raise ValueError(f"drifted.metrics: {sorted(drifted.metrics)} differ from the healthy pool's "
                         f"{sorted(healthy.metrics)}")
    if (healthy.embeddings is None) != (drifted.embeddings is None) or (
            healthy.embeddings is not None and healthy.embeddings.shape[1] != drifted.embeddings.shape[1]):
        raise ValueError("drifted.embeddings: both pools need embeddings of the same width, or neither")
    if (healthy.canary is None) != (drifted.canary is None):
        raise ValueError("drifted.canary: both pools need canary scores, or neither")
    if healthy.canary is not None and (list(zip(healthy.canary.styles, healthy.canary.prompts))
                                       != list(zip(drifted.canary.styles, drifted.canary.prompts))):
        raise ValueError("drifted.canary: the canary prompts must be the healthy pool's, in the same order")
    if not set(drifted.by_style) & set(healthy.by_style):
        raise ValueError("drifted.styles: the drifted pool shares no style with the healthy pool")


def _draw(pool: Pool, styles: list[str], style_idx: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Pool indices: for each row, the reply at quantile ``u`` among the pool's replies of its style."""
    item = np.zeros(len(style_idx), dtype=int)
    for k, style in enumerate(styles):
        rows = style_idx == k
        if rows.any():
            choices = pool.by_style[style]
            item[rows] = choices[(u[rows] * len(choices)).astype(int)]
    return item


def _traffic(healthy, drifted, styles, mix_before, mix_after, n_windows, per_window, drift_window, drift_share,
             use_drifted, rng) -> dict:
    """The requests of the log: style, pool item and ground truth, one entry per request."""
    window = np.repeat(np.arange(n_windows), per_window)
    in_drift = window >= drift_window if drift_window is not None else np.zeros(len(window), bool)
    u = rng.random(len(window))
    pick = lambda mix: np.minimum(np.searchsorted(np.cumsum(mix), u, side="right"), len(styles) - 1)  # noqa: E731
    style_idx = np.where(in_drift, pick(mix_after), pick(mix_before))
    from_drifted = in_drift & (rng.random(len(window)) < drift_share)
    if use_drifted:
        from_drifted &= np.array([s in drifted.by_style for s in styles])[style_idx]
    else:
        from_drifted[:] = False
    u_item = rng.random(len(window))
    item = _draw(healthy, styles, style_idx, u_item)
    if from_drifted.any():
        item[from_drifted] = _draw(drifted, styles, style_idx[from_drifted], u_item[from_drifted])
    return {"window": window, "offset": rng.random(len(window)), "style_idx": style_idx, "item": item,
            "from_drifted": from_drifted, "in_drift": in_drift}


def _pick(values, item: np.ndarray, from_drifted: np.ndarray, drifted_values, dtype) -> np.ndarray:
    """``values[item]``, with the drifted pool's ``drifted_values[item]`` where ``from_drifted``."""
    column = np.asarray(values, dtype=dtype)[item]
    if from_drifted.any():
        column[from_drifted] = np.asarray(drifted_values, dtype=dtype)[item[from_drifted]]
    return column


def _traffic_frame(healthy, drifted, styles, t, drift_kind) -> pd.DataFrame:
    item, flag = t["item"], t["from_drifted"]
    other = drifted if flag.any() else healthy
    frame = {"window": t["window"], "style": np.array(styles, dtype=object)[t["style_idx"]],
             "prompt": _pick(healthy.prompts, item, flag, other.prompts, object),
             "reply": _pick(healthy.texts, item, flag, other.texts, object)}
    for name in healthy.metrics:
        frame[name] = _pick(healthy.metrics[name], item, flag, other.metrics[name], float)
    frame.update(canary=False, canary_score=np.nan, pool=np.where(flag, "drifted", "healthy"), item=item,
                 drifted=flag if drift_kind == "replies" else t["in_drift"])
    return pd.DataFrame(frame)


def _canary_frame(healthy, drifted, n_windows, repeats, baseline, drift_window, drift_share, use_drifted,
                  rng) -> pd.DataFrame:
    """Each canary prompt sent ``baseline`` times in window 0 and ``repeats`` times in every later
    window; each reply drawn from its pool."""
    canary = healthy.canary
    n_prompts = len(canary.prompts)
    sends = np.r_[baseline, np.full(n_windows - 1, repeats)]
    window = np.repeat(np.arange(n_windows), sends * n_prompts)
    prompt = np.concatenate([np.repeat(np.arange(n_prompts), s) for s in sends])
    from_drifted = np.zeros(len(window), bool)
    if use_drifted and drift_window is not None:
        from_drifted = (window >= drift_window) & (rng.random(len(window)) < drift_share)
    u = rng.random(len(window))
    scores, replies, items = np.empty(len(window)), np.empty(len(window), dtype=object), np.empty(len(window), int)
    for flag, pool in ((False, healthy), (True, drifted)):
        rows = from_drifted == flag
        if not rows.any():
            continue
        c, r = pool.canary, pool.canary.scores.shape[1]
        j = (u[rows] * r).astype(int)
        scores[rows] = c.scores[prompt[rows], j]
        replies[rows] = [c.replies[p][k] if c.replies is not None else "" for p, k in zip(prompt[rows], j)]
        items[rows] = prompt[rows] * r + j
    return pd.DataFrame({"window": window, "offset": np.concatenate([np.arange(s * n_prompts) for s in sends]),
                         "style": np.array(canary.styles, dtype=object)[prompt],
                         "prompt": np.array(canary.prompts, dtype=object)[prompt], "reply": replies,
                         **{name: np.nan for name in healthy.metrics}, "canary": True, "canary_score": scores,
                         "pool": np.where(from_drifted, "drifted", "healthy"), "item": items, "drifted": from_drifted})


def simulate_log(healthy: Pool, drifted: Pool | None = None, *, n_windows: int = 12, per_window: int = 120,
                 drift_window: int | None = None, drift_kind: str = "replies", drift_share: float = 1.0,
                 style_mix: dict | None = None, drifted_mix: dict | None = None, canary_repeats: int = 2,
                 canary_baseline: int = 16, start: str = "2026-01-05", window_days: float = 7.0,
                 seed=0) -> pd.DataFrame:
    """A deployment log of the style service: one row per request, sampled from the pools.

    ``n_windows`` windows of ``window_days`` days from ``start``, each with ``per_window``
    requests: a style drawn from ``style_mix`` (style -> weight; default every style of the
    healthy pool equally), then a reply of that style drawn (with replacement) from a pool, at a
    uniformly random time in the window. When the pools have canary scores, every canary prompt
    is sent ``canary_repeats`` times one hour into each window, and ``canary_baseline`` times in
    window 0: a baseline measured at deployment, which pins down the canary chart's centre and
    spread far better than two windows of ``canary_repeats`` could (see ``cusum_limit``).

    A drift starts at window ``drift_window`` (None: no drift):
    * ``drift_kind="replies"``: from then on a share ``drift_share`` of replies (traffic and
      canary) comes from the ``drifted`` pool (an adapter update, new decoding settings); styles
      the drifted pool lacks stay healthy;
    * ``drift_kind="mix"``: the replies stay healthy but the styles requested follow
      ``drifted_mix`` (a shift of the prompt mix; the canary set is fixed, so it does not move).

    Columns: ``timestamp``, ``window``, ``style``, ``prompt``, ``reply``, one per metric (NaN on
    canary rows), ``canary`` (bool), ``canary_score`` (the judge's score; NaN on traffic rows),
    ``pool`` and ``item`` (where the reply came from: ``log_embeddings`` looks embeddings up with
    them) and ``drifted`` (ground truth: the reply came from the drifted pool, or, for a mix
    drift, the request was made under the shifted mix). Sorted by time. ``log.attrs`` keeps
    ``drift_window``, ``drift_kind``, ``start`` and ``window_days``.

    Draws are with replacement, so a pool should hold several times a window's replies per
    style (or the same replies keep coming back), and a canary several sampled replies per
    prompt (with greedy decoding every reply to a prompt is the same and the chart has no noise
    to measure).
    """
    _check_int("n_windows", n_windows, 2)
    _check_int("per_window", per_window, 1)
    _check_int("canary_repeats", canary_repeats, 1)
    _check_int("canary_baseline", canary_baseline, 1)
    if drift_kind not in DRIFT_KINDS:
        raise ValueError(f"drift_kind must be one of {DRIFT_KINDS}, got {drift_kind!r}")
    if drift_window is not None:
        _check_int("drift_window", drift_window, 1, n_windows - 1)  # window 0 is always healthy
    if not 0 <= drift_share <= 1:
        raise ValueError(f"drift_share must be in [0, 1], got {drift_share!r}")
    if not window_days > 0:
        raise ValueError(f"window_days must be positive, got {window_days!r}")
    rng = np.random.default_rng(seed)
    styles, mix_before = _mix(style_mix, healthy, "style_mix")
    mix_after = mix_before
    use_drifted = drift_window is not None and drift_kind == "replies"
    if use_drifted:
        _check_drifted(healthy, drifted)
    if drift_window is not None and drift_kind == "mix":
        if drifted_mix is None:
            raise ValueError("drifted_mix: a 'mix' drift needs the style weights after the drift")
        _, mix_after = _mix(drifted_mix, healthy, "drifted_mix", styles)

    t = _traffic(healthy, drifted, styles, mix_before, mix_after, n_windows, per_window, drift_window,
                 drift_share, use_drifted, rng)
    frames = [_traffic_frame(healthy, drifted, styles, t, drift_kind)]
    seconds = [np.floor((t["window"] + t["offset"]) * window_days * 86_400)]  # floor: never in the next window
    if healthy.canary is not None:
        canary = _canary_frame(healthy, drifted, n_windows, canary_repeats, canary_baseline, drift_window,
                               drift_share, use_drifted, rng)
        seconds.append(canary["window"].to_numpy() * window_days * 86_400 + 3_600 + canary.pop("offset").to_numpy())
        frames.append(canary)
    log = pd.concat(frames, ignore_index=True)
    start_ts = pd.Timestamp(start)
    log.insert(0, "timestamp", start_ts + pd.to_timedelta(np.concatenate(seconds), unit="s"))
    log = log.sort_values("timestamp", kind="stable").reset_index(drop=True)
    log.attrs.update(drift_window=drift_window, drift_kind=drift_kind, start=str(start_ts.date()),
                     window_days=window_days)
    return log


def _embedding_table(healthy: Pool, drifted: Pool | None) -> np.ndarray | None:
    """Healthy embeddings, then drifted ones: row ``item`` (healthy) or ``len(healthy) + item``."""
    if healthy.embeddings is None:
        return None
    if drifted is None or drifted.embeddings is None:
        return healthy.embeddings
    return np.vstack([healthy.embeddings, drifted.embeddings])


def _row_keys(log: pd.DataFrame, healthy: Pool, drifted: Pool | None) -> np.ndarray:
    if log["canary"].any():
        raise ValueError("log: canary rows have no embeddings; pass the traffic rows (log[~log.canary])")
    from_drifted = (log["pool"] == "drifted").to_numpy()
    if from_drifted.any() and (drifted is None or drifted.embeddings is None):
        raise ValueError("drifted: the log has replies from the drifted pool; pass that pool (with embeddings)")
    return log["item"].to_numpy() + from_drifted * len(healthy)


def log_embeddings(log: pd.DataFrame, healthy: Pool, drifted: Pool | None = None) -> np.ndarray:
    """The embeddings of the log's traffic rows, looked up in the pools they were drawn from."""
    table = _embedding_table(healthy, drifted)
    if table is None:
        raise ValueError("healthy.embeddings: the pool has no embeddings")
    return table[_row_keys(log, healthy, drifted)]


# --- monitor 3 on the log: the canary judge scores, standardised ---------------------------

def _canary_z(log: pd.DataFrame, reference_windows: int, n_windows: int) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Per window: the canary mean, its z against the reference, and (df, reference_ratio).

    Each score is centred on its prompt's reference mean (the canary prompts are the same every
    window, so their difficulty cancels); the within-prompt spread of the reference scores gives
    the noise of a window's mean.
    """
    rows = log[log["canary"].to_numpy()]
    key = pd.factorize(rows["style"].astype(str) + "\x00" + rows["prompt"].astype(str))[0]
    window, score = rows["window"].to_numpy(), rows["canary_score"].to_numpy(float)
    ref = window < reference_windows
    n_keys = key.max() + 1
    counts = np.bincount(key[ref], minlength=n_keys)
    if (counts == 0).any():
        raise ValueError("log: every canary prompt needs replies in the reference period")
    mean_p = np.bincount(key[ref], score[ref], minlength=n_keys) / counts
    df = int(ref.sum() - n_keys)
    if df < 1:
        raise ValueError("the canary chart needs two or more canary replies per prompt in the reference period "
                         "(canary_baseline + (reference_windows - 1) x canary_repeats >= 2)")
    sigma = np.sqrt(np.sum((score[ref] - mean_p[key[ref]]) ** 2) / df)
    centred = score - mean_p[key]
    n_w = np.bincount(window, minlength=n_windows)
    if (n_w[reference_windows:] == 0).any():
        raise ValueError("log: a monitored window has no canary replies")
    means = np.bincount(window, score, minlength=n_windows) / np.maximum(n_w, 1)
    diff = np.bincount(window, centred, minlength=n_windows) / np.maximum(n_w, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(diff == 0, 0.0, diff / (sigma / np.sqrt(np.maximum(n_w, 1))))
    return means, z, df, ref.sum() / n_w[reference_windows:].mean()


# --- the monitor: every window against the reference, one alarm rule --------------------------

@dataclass
class MonitorResult:
    """Every monitor on every monitored window of one log (rows follow ``windows``).

    ``p_values`` / ``p_holm`` / ``statistic`` / ``psi``: (windows x metrics). ``mmd`` / ``mmd_p``:
    the embedding test. ``canary_mean``: the window's mean judge score; ``cusum_upper`` /
    ``cusum_lower``: the chart. ``levels``: the per-window thresholds (``metrics`` and
    ``embedding``: a p-value to reach; ``canary``: the CUSUM limit h). ``budget``: each monitor's
    share of ``alpha``. ``flags``: monitor -> bool per window; ``alarm``: any flag. ``computed``:
    False for windows skipped after the first alarm (``evaluate`` only): their metric and MMD
    entries are NaN and their flags False.
    """

    windows: np.ndarray
    reference_windows: int
    metrics: list[str]
    test: str
    statistic: np.ndarray
    p_values: np.ndarray
    p_holm: np.ndarray
    psi: np.ndarray
    mmd: np.ndarray
    mmd_p: np.ndarray
    canary_mean: np.ndarray
    cusum_upper: np.ndarray
    cusum_lower: np.ndarray
    alpha: float
    budget: dict[str, float]
    levels: dict[str, float]
    flags: dict[str, np.ndarray]
    alarm: np.ndarray
    computed: np.ndarray

    @property
    def first_alarm(self) -> int | None:
        """The first window with an alarm (None: none)."""
        hits = np.flatnonzero(self.alarm)
        return int(self.windows[hits[0]]) if len(hits) else None

    def table(self) -> pd.DataFrame:
        """One row per monitored window: Holm p and PSI per metric, MMD, the CUSUM, the flags."""
        table = pd.DataFrame(index=pd.Index(self.windows, name="window"))
        for j, name in enumerate(self.metrics):
            table[f"p_holm {name}"] = self.p_holm[:, j]
            table[f"psi {name}"] = self.psi[:, j]
        table["mmd"], table["mmd_p"] = self.mmd, self.mmd_p
        table["canary_mean"] = self.canary_mean
        table["cusum"] = np.maximum(self.cusum_upper, self.cusum_lower)
        for name, flags in self.flags.items():
            table[f"flag {name}"] = flags
        table["alarm"] = self.alarm
        return table


def _shares(budget: dict | None, available: list[str]) -> dict[str, float]:
    weights = {name: 1.0 for name in MONITORS} if budget is None else dict(budget)
    unknown = [name for name in weights if name not in MONITORS]
    if unknown:
        raise ValueError(f"budget: unknown monitor {unknown[0]!r}; choose from {MONITORS}")
    if any(not np.isfinite(w) or w < 0 for w in weights.values()):
        raise ValueError(f"budget: weights must be non-negative numbers, got {weights}")
    used = {name: float(weights.get(name, 0.0)) for name in available if weights.get(name, 0.0) > 0}
    if not used:
        raise ValueError(f"budget: no monitor left to run (available: {available}, weights: {weights})")
    total = sum(used.values())
    return {name: w / total for name, w in used.items()}


class _Monitor:
    """The settings of ``monitor``, checked once; ``run`` applies them to a log (``evaluate``
    reuses one for many logs)."""

    def __init__(self, healthy: Pool, drifted: Pool | None, *, reference_windows: int, alpha: float,
                 metrics, test: str, budget: dict | None, n_permutations: int, psi_bins: int, cusum_k: float):
        _check_int("reference_windows", reference_windows, 1)
        _check_int("n_permutations", n_permutations, 1)
        _check_int("psi_bins", psi_bins, 2)
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if test not in TESTS:
            raise ValueError(f"test must be one of {TESTS}, got {test!r}")
        self.metrics = list(healthy.metrics) if metrics is None else list(metrics)
        unknown = [name for name in self.metrics if name not in healthy.metrics]
        if unknown:
            raise ValueError(f"metrics: unknown metric {unknown[0]!r}; the pool has {list(healthy.metrics)}")
        self.healthy, self.drifted = healthy, drifted
        self.embeddings = _embedding_table(healthy, drifted)
        self.reference_windows, self.alpha, self.test, self.budget_weights = reference_windows, alpha, test, budget
        self.n_permutations, self.psi_bins, self.cusum_k = n_permutations, psi_bins, cusum_k

    def _plan(self, log: pd.DataFrame) -> tuple[int, dict, dict]:
        """(n_windows, each monitor's share of alpha, per-window levels) for this log."""
        n_windows = int(log["window"].max()) + 1
        monitored = n_windows - self.reference_windows
        if monitored < 1:
            raise ValueError(f"reference_windows={self.reference_windows} leaves no window of the "
                             f"{n_windows}-window log to monitor")
        available = [name for name, ok in (("metrics", bool(self.metrics)), ("embedding", self.embeddings is not None),
                                           ("canary", bool(log["canary"].any()))) if ok]
        shares = _shares(self.budget_weights, available)
        # Bonferroni across the monitored windows: each window spends alpha_monitor / windows.
        levels = {name: self.alpha * share / monitored for name, share in shares.items() if name != "canary"}
        if "embedding" in levels and 1 / (self.n_permutations + 1) > levels["embedding"]:
            need = int(np.ceil(1 / levels["embedding"])) - 1
            raise ValueError(f"n_permutations={self.n_permutations} cannot give an MMD p-value at or below the "
                             f"per-window level {levels['embedding']:.5f}; use at least {need}")
        return n_windows, shares, levels

    def run(self, log: pd.DataFrame, seed: int = 0, stop_from: int | None = None) -> MonitorResult:
        """All monitors on every window after the reference period (permutations seeded by
        ``[seed, window]``); with ``stop_from``, stop at the first alarm in a window >= ``stop_from``
        (the windows after it are not computed)."""
        missing = [c for c in ("window", "canary", "pool", "item", *self.metrics) if c not in log]
        if missing:
            raise ValueError(f"log: column {missing[0]!r} is missing (a log from simulate_log has it)")
        n_windows, shares, levels = self._plan(log)
        R, m = self.reference_windows, len(self.metrics)
        windows = np.arange(R, n_windows)
        W = len(windows)
        nan = lambda *shape: np.full(shape, np.nan)  # noqa: E731
        out = {"statistic": nan(W, m), "p_values": nan(W, m), "p_holm": nan(W, m), "psi": nan(W, m),
               "mmd": nan(W), "mmd_p": nan(W), "canary_mean": nan(W), "cusum_upper": nan(W), "cusum_lower": nan(W)}
        flags = {name: np.zeros(W, bool) for name in shares}

        if "canary" in shares:
            means, z, df, ratio = _canary_z(log, R, n_windows)
            levels["canary"] = cusum_limit(W, self.alpha * shares["canary"], self.cusum_k, df, ratio)
            out["canary_mean"] = means[R:]
            out["cusum_upper"], out["cusum_lower"] = cusum(z[R:], k=self.cusum_k)
            flags["canary"] = np.maximum(out["cusum_upper"], out["cusum_lower"]) > levels["canary"]

        traffic = log[~log["canary"].to_numpy()]
        window = traffic["window"].to_numpy()
        ref = window < R
        values = {name: traffic[name].to_numpy(float) for name in self.metrics}
        if "embedding" in shares:
            emb = self.embeddings[_row_keys(traffic, self.healthy, self.drifted)]
            sq_ref = _sqdist(emb[ref], emb[ref])  # shared by every window
        computed = np.zeros(W, bool)
        for i, w in enumerate(windows):
            cur = window == w
            if cur.sum() < 2:
                raise ValueError(f"log: window {w} has fewer than two requests")
            if "metrics" in shares:
                ref_values = np.column_stack([values[name][ref] for name in self.metrics])
                cur_values = np.column_stack([values[name][cur] for name in self.metrics])
                out["statistic"][i], out["p_values"][i] = _two_sample(ref_values, cur_values, self.test)
                out["psi"][i] = [psi(ref_values[:, j], cur_values[:, j], self.psi_bins) for j in range(m)]
                out["p_holm"][i] = holm(out["p_values"][i])
                flags["metrics"][i] = out["p_holm"][i].min() <= levels["metrics"]
            if "embedding" in shares:
                sq_cross = _sqdist(emb[ref], emb[cur])
                sq = np.block([[sq_ref, sq_cross], [sq_cross.T, _sqdist(emb[cur], emb[cur])]])
                result = _mmd_pooled(sq, int(ref.sum()), self.n_permutations,
                                     np.random.default_rng([seed, int(w)]), None, 10)
                out["mmd"][i], out["mmd_p"][i] = result.statistic, result.p_value
                flags["embedding"][i] = result.p_value <= levels["embedding"]
            computed[i] = True
            if stop_from is not None and w >= stop_from and any(f[i] for f in flags.values()):
                break
        for name in flags:
            flags[name] &= computed
        alarm = np.any(np.array(list(flags.values())), axis=0)
        return MonitorResult(windows=windows, reference_windows=R, metrics=self.metrics, test=self.test, **out,
                             alpha=self.alpha, budget={n: self.alpha * s for n, s in shares.items()}, levels=levels,
                             flags=flags, alarm=alarm, computed=computed)


def monitor(log: pd.DataFrame, healthy: Pool, drifted: Pool | None = None, *, reference_windows: int = 2,
            alpha: float = 0.02, metrics: list[str] | None = None, test: str = "ks", budget: dict | None = None,
            n_permutations: int = 1999, psi_bins: int = 10, cusum_k: float = 1.0, seed: int = 0) -> MonitorResult:
    """Run every monitor on each window after the reference period, and raise one alarm per window.

    The reference is the first ``reference_windows`` windows (the weeks after deployment,
    believed healthy); each later window is compared with it:
    * ``metrics``: each metric's distribution (``test``: "ks" or "mannwhitney"), Holm-corrected
      across the metrics of the window; PSI per metric is computed too, as a size of shift to
      read (it has no error control; see ``psi``);
    * ``embedding``: MMD with a permutation p-value (``n_permutations``) on the reply embeddings;
    * ``canary``: a two-sided CUSUM of the canary prompts' mean judge score, per window.

    The alarm rule, with a false-alarm budget ``alpha`` for the whole monitored period (the
    chance that a run without drift raises any alarm in any of its W monitored windows):
    1. ``alpha`` is split between the monitors available (``budget``: monitor -> weight, default
       equal thirds; a monitor the pools cannot feed gives its share to the others);
    2. ``metrics`` flags a window when its smallest Holm-adjusted p-value is <= alpha_metrics / W;
       ``embedding`` when the MMD p-value is <= alpha_embedding / W (Bonferroni across windows:
       the windows share one reference, so their tests are dependent, which Bonferroni allows);
    3. ``canary`` flags a window when the CUSUM exceeds h, set by ``cusum_limit`` so that the
       chart crosses it anywhere in the W windows with chance alpha_canary;
    4. a window raises an alarm when any monitor flags it.

    By the union bound, a run without drift raises an alarm with chance <= alpha. Why
    ``alpha=0.02`` when the bar is 0.05: the bar is checked on a *measured* rate, over about 100
    runs, whose chance spread is about 0.02; a monitor built for exactly 0.05 would miss the bar
    about half the time, one built for 0.02 (measured: 0.017 on synthetic pools) almost never.
    The price of Bonferroni: each test runs at a small level (0.02 / 3 / 10 = 0.00067 with the
    defaults), so the permutation test needs more than 1 / level permutations (1,999 by default;
    the sequential p-value stops most windows without drift after a few dozen).

    ``log``: from ``simulate_log``; ``healthy`` / ``drifted``: the pools it was drawn from (for the
    embeddings). ``seed``: for the permutations (window w uses ``[seed, w]``).
    """
    settings = _Monitor(healthy, drifted, reference_windows=reference_windows, alpha=alpha, metrics=metrics,
                        test=test, budget=budget, n_permutations=n_permutations, psi_bins=psi_bins, cusum_k=cusum_k)
    return settings.run(log, seed)


# --- evaluation over many seeded runs ---------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    """False alarms over runs without drift, and detection over runs with one.

    ``false_alarm_rate``: share of no-drift runs with any alarm in their monitored period, with a
    95% Wilson interval. ``delays``: per drift run, the windows from the drift's start to the
    first alarm at or after it, counting the drift window as 1 (inf: never within the log).
    ``detection_rate``: share with delay <= ``within``, with a 95% Wilson interval.
    ``median_delay``: over all drift runs (inf if under half are detected);
    ``median_delay_detected`` and ``mean_delay``: over the detected ones.
    ``false_alarm_before_drift``: share of drift runs with an alarm before the drift started.
    ``detected_by``: how often each monitor flagged the detecting window.
    """

    alpha: float
    n_null_runs: int
    false_alarms: int
    false_alarm_rate: float
    false_alarm_ci: tuple[float, float]
    n_drift_runs: int
    within: int
    detection_rate: float
    detection_ci: tuple[float, float]
    delays: np.ndarray
    median_delay: float
    median_delay_detected: float
    mean_delay: float
    false_alarm_before_drift: float
    detected_by: dict[str, int]

    def records(self) -> dict[str, float]:
        """The numbers lesson 7 records (``helpers.record(name, value)`` for each): the false-alarm
        rate, the detection rate within ``within`` windows and the median delay of the detected
        runs. ``helpers.record`` refuses NaN and inf, so a number that is undefined (no runs of
        that kind, no run detected) is left out."""
        numbers = {"drift_false_alarm_rate": self.false_alarm_rate,
                   "drift_detection_rate": self.detection_rate,
                   "drift_detection_delay_windows": self.median_delay_detected}
        return {name: float(value) for name, value in numbers.items() if np.isfinite(value)}


def _wilson(count: int, n: int) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
    return float(low), float(high)


def _int_seed(sequence: np.random.SeedSequence) -> int:
    return int(sequence.generate_state(1)[0])


def evaluate(healthy: Pool, drifted: Pool | None = None, *, n_runs: int = 200, n_drift_runs: int | None = None,
             n_windows: int = 12, per_window: int = 120, reference_windows: int = 2, drift_window: int | None = None,
             drift_kind: str = "replies", drift_share: float = 1.0, style_mix: dict | None = None,
             drifted_mix: dict | None = None, canary_repeats: int = 2, canary_baseline: int = 16, within: int = 3,
             alpha: float = 0.02, metrics: list[str] | None = None, test: str = "ks", budget: dict | None = None,
             n_permutations: int = 1999, cusum_k: float = 1.0, seed: int = 0) -> Evaluation:
    """The monitor's false-alarm rate and detection delay, over many simulated logs.

    ``n_runs`` logs without drift, and ``n_drift_runs`` (default ``n_runs``; 0 when there is no
    drift to inject) with a drift of ``drift_kind`` starting at ``drift_window`` (None: a window
    drawn per run from ``reference_windows`` to ``n_windows - within``, so ``within`` drifted
    windows always follow). Every run has its own seeds (from ``seed``), so the evaluation is
    deterministic. A run stops at its first alarm (in a drift run: at or after the drift), since
    nothing later changes its outcome. The other arguments are ``simulate_log``'s and ``monitor``'s.
    """
    _check_int("n_runs", n_runs, 0)
    _check_int("within", within, 1)
    _check_int("n_windows", n_windows, 2)
    _check_int("reference_windows", reference_windows, 1, n_windows - 1)
    can_drift = drifted is not None or drift_kind == "mix"
    n_drift_runs = (n_runs if can_drift else 0) if n_drift_runs is None else n_drift_runs
    _check_int("n_drift_runs", n_drift_runs, 0)
    if n_runs + n_drift_runs == 0:
        raise ValueError("n_runs: nothing to evaluate (no runs with or without drift)")
    if drift_window is not None:
        _check_int("drift_window", drift_window, reference_windows, n_windows - 1)
    elif n_drift_runs and n_windows - within < reference_windows:
        raise ValueError(f"within={within}: the log has too few windows after the reference for that")
    settings = _Monitor(healthy, drifted, reference_windows=reference_windows, alpha=alpha, metrics=metrics,
                        test=test, budget=budget, n_permutations=n_permutations, psi_bins=10, cusum_k=cusum_k)
    log_args = dict(n_windows=n_windows, per_window=per_window, style_mix=style_mix, canary_repeats=canary_repeats,
                    canary_baseline=canary_baseline)
    null_seeds, drift_seeds, window_seed = np.random.SeedSequence(seed).spawn(3)

    false_alarms = 0
    for run_seed in null_seeds.spawn(n_runs):
        log_seed, perm_seed = run_seed.spawn(2)
        log = simulate_log(healthy, None, seed=np.random.default_rng(log_seed), **log_args)
        false_alarms += settings.run(log, _int_seed(perm_seed), stop_from=reference_windows).first_alarm is not None

    starts = (np.full(n_drift_runs, drift_window) if drift_window is not None else
              np.random.default_rng(window_seed).integers(reference_windows, n_windows - within + 1, n_drift_runs))
    delays, before, detected_by = np.full(n_drift_runs, np.inf), 0, {name: 0 for name in MONITORS}
    for i, run_seed in enumerate(drift_seeds.spawn(n_drift_runs)):
        log_seed, perm_seed = run_seed.spawn(2)
        start = int(starts[i])
        log = simulate_log(healthy, drifted, drift_window=start, drift_kind=drift_kind, drift_share=drift_share,
                           drifted_mix=drifted_mix, seed=np.random.default_rng(log_seed), **log_args)
        result = settings.run(log, _int_seed(perm_seed), stop_from=start)
        before += bool(result.alarm[result.windows < start].any())
        hits = np.flatnonzero(result.alarm & (result.windows >= start))
        if len(hits):
            delays[i] = result.windows[hits[0]] - start + 1
            for name, flags in result.flags.items():
                detected_by[name] += bool(flags[hits[0]])

    detected = int((delays <= within).sum())
    finite = delays[np.isfinite(delays)]
    return Evaluation(alpha=alpha, n_null_runs=n_runs, false_alarms=false_alarms,
                      false_alarm_rate=false_alarms / n_runs if n_runs else float("nan"),
                      false_alarm_ci=_wilson(false_alarms, n_runs), n_drift_runs=n_drift_runs, within=within,
                      detection_rate=detected / n_drift_runs if n_drift_runs else float("nan"),
                      detection_ci=_wilson(detected, n_drift_runs), delays=delays,
                      median_delay=float(np.median(delays)) if n_drift_runs else float("nan"),
                      median_delay_detected=float(np.median(finite)) if len(finite) else float("nan"),
                      mean_delay=float(finite.mean()) if len(finite) else float("nan"),
                      false_alarm_before_drift=before / n_drift_runs if n_drift_runs else float("nan"),
                      detected_by=detected_by)


# --- the dashboard and the labeller hand-off --------------------------------------------------

def _neg_log10(p: np.ndarray) -> np.ndarray:
    return -np.log10(np.clip(p, 1e-300, 1))


def dashboard(log: pd.DataFrame, result: MonitorResult, drift_window: int | None = None, title: str = "",
              save_to=None):
    """One figure, one panel per monitor against the window: -log10 Holm p per metric, PSI per
    metric (0.1 / 0.25 lines), -log10 MMD p, and the CUSUM chart with its limit. The reference
    period is shaded grey, windows with an alarm red; the drift's start (``drift_window``,
    default ``log.attrs["drift_window"]``) is a dashed line. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    drift_window = log.attrs.get("drift_window") if drift_window is None else drift_window
    w = result.windows
    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True)
    panels = [("metrics", "-log10 Holm p", "metric tests"), ("psi", "PSI", "population stability index"),
              ("embedding", "-log10 p", "embedding drift (MMD permutation test)"),
              ("canary", "CUSUM", "canary judge scores (CUSUM)")]
    for ax, (name, ylabel, panel_title) in zip(axes, panels):
        ax.set_ylabel(ylabel)
        ax.set_title(panel_title, fontsize=10, loc="left")
        ax.axvspan(-0.5, result.reference_windows - 0.5, color="grey", alpha=0.15, lw=0)
        for hit in w[result.alarm]:
            ax.axvspan(hit - 0.5, hit + 0.5, color="red", alpha=0.12, lw=0)
        if drift_window is not None:
            ax.axvline(drift_window - 0.5, color="red", ls="--", lw=1)
        ax.grid(alpha=0.3)
        present = name in result.flags or (name == "psi" and "metrics" in result.flags)
        if not present:
            ax.text(0.5, 0.5, "not monitored", transform=ax.transAxes, ha="center", va="center", color="grey")
        elif name in ("metrics", "psi"):
            values = _neg_log10(result.p_holm) if name == "metrics" else result.psi
            for j, metric in enumerate(result.metrics):
                ax.plot(w, values[:, j], marker="o", ms=3, label=metric)
            if name == "metrics":
                ax.axhline(-np.log10(result.levels["metrics"]), color="black", lw=1, ls=":", label="alarm level")
            else:
                ax.axhline(PSI_MODERATE, color="orange", lw=1, ls=":", label="0.1 moderate")
                ax.axhline(PSI_MAJOR, color="red", lw=1, ls=":", label="0.25 major")
            ax.legend(fontsize=7, ncol=4, loc="upper left")
        elif name == "embedding":
            ax.plot(w, _neg_log10(result.mmd_p), marker="o", ms=3, color="purple", label="MMD p")
            ax.axhline(-np.log10(result.levels["embedding"]), color="black", lw=1, ls=":", label="alarm level")
            ax.legend(fontsize=7, loc="upper left")
        else:
            ax.plot(w, result.cusum_upper, marker="^", ms=3, label="upper (score up)")
            ax.plot(w, result.cusum_lower, marker="v", ms=3, label="lower (score down)")
            ax.axhline(result.levels["canary"], color="black", lw=1, ls=":", label="limit h")
            ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("window (reference shaded grey, alarms red, drift start dashed)")
    axes[-1].set_xlim(-0.5, w[-1] + 0.5)
    if title:
        fig.suptitle(title)
    return _finish(fig, save_to)


def _atypicality(traffic: pd.DataFrame, window: int, reference_windows: int, healthy: Pool,
                 drifted: Pool | None, metrics: list[str], by: str) -> np.ndarray:
    """Per reply of ``window``: the MMD witness (``by="embedding"``), or its largest robust z-score
    of a metric against the reference (``by="metrics"``: distance from the reference median in MAD units)."""
    ref = (traffic["window"] < reference_windows).to_numpy()
    cur = (traffic["window"] == window).to_numpy()
    if by == "embedding":
        emb = log_embeddings(traffic, healthy, drifted)
        return mmd_witness(emb[ref], emb[cur])
    values = traffic[metrics].to_numpy(float)
    median = np.median(values[ref], axis=0)
    mad = 1.4826 * np.median(np.abs(values[ref] - median), axis=0)
    return np.max(np.abs(values[cur] - median) / np.where(mad > 0, mad, 1.0), axis=1)


def flagged_for_labelling(log: pd.DataFrame, window: int, healthy: Pool, drifted: Pool | None = None, *,
                          n: int = 12, reference_windows: int = 2, style: str | None = None,
                          by: str = "auto") -> list[dict]:
    """The ``n`` most atypical replies of ``window`` as items for lesson 2's ``LikertLabeler``.

    Atypical (``by``): ``"embedding"``, the highest MMD witness (the replies in the region the
    window fills more than the reference did, i.e. what drifted); ``"metrics"``, the largest robust
    z-score of a metric (follow the monitor that raised the alarm); ``"auto"``, the embedding
    where the pools have embeddings, else the metrics. Each reply appears once. Items are ``{item_id, prompt, response, style}``:
    ``likert_panel`` shows prompt and response, so label one style at a time (``style=``; e.g.
    ``LikertLabeler(items, path, rater=..., trait=f"fits {style}")``). The ``item_id`` names the
    window and the log row (``drift-w05-1234``), so the same log gives the same ids, and it says
    nothing of where the reply came from: the raters label blind.
    """
    _check_int("n", n, 1)
    _check_int("reference_windows", reference_windows, 1)
    traffic = log[~log["canary"].to_numpy()]
    windows = set(traffic["window"].unique())
    if isinstance(window, bool) or window not in windows or window < reference_windows:
        raise ValueError(f"window must be a monitored window of the log ({reference_windows} to "
                         f"{max(windows)}), got {window!r}")
    if style is not None and style not in set(traffic["style"]):
        raise ValueError(f"style: {style!r} is not in the log ({sorted(set(traffic['style']))})")
    if by not in ("auto", "embedding", "metrics"):
        raise ValueError(f"by must be 'auto', 'embedding' or 'metrics', got {by!r}")
    if by == "auto":
        by = "embedding" if healthy.embeddings is not None else "metrics"
    elif by == "embedding" and healthy.embeddings is None:
        raise ValueError("by='embedding': the pools have no embeddings")
    score = _atypicality(traffic, window, reference_windows, healthy, drifted, list(healthy.metrics), by)
    rows = traffic[(traffic["window"] == window).to_numpy()].assign(score=score)
    if style is not None:
        rows = rows[rows["style"] == style]
    rows = rows.sort_values("score", ascending=False, kind="stable").drop_duplicates(["pool", "item"])
    return [{"item_id": f"drift-w{int(window):02d}-{row.Index}", "prompt": row.prompt, "response": row.reply,
             "style": row.style} for row in rows.head(n).itertuples()]
