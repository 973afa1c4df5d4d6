import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402

from helpers import drift  # noqa: E402
from helpers.metrics import drift_tests  # noqa: E402
from helpers.labeling import LikertLabeler  # noqa: E402
from helpers.workbook.records import _jsonable  # noqa: E402

STYLES = ("news_brief", "feature_story", "social_ad", "generic")
DIM = 16
CANARY = [(s, f"canary prompt {k}") for s in STYLES for k in range(6)]


def make_pool(seed, shift=0.0, n_per_style=250, styles=STYLES, embed_shift=None, embeddings=True, canary=True):
    """Synthetic replies: numbers and random embeddings, no models. ``shift`` moves every metric,
    the embeddings (along one direction) and the canary judge scores by about ``shift`` standard
    deviations; the style centres and canary difficulties are shared by all pools."""
    base = np.random.default_rng(1234)
    centres = base.normal(0, 1.5, (len(STYLES), DIM))
    direction = base.normal(size=DIM)
    direction /= np.linalg.norm(direction)
    difficulty = base.normal(3.5, 0.4, len(CANARY))
    rng = np.random.default_rng(seed)
    k = np.repeat([STYLES.index(s) for s in styles], n_per_style)
    n = len(k)
    metrics = {"style_prob": 1 / (1 + np.exp(-(rng.normal(1.5, 1, n) - shift))),
               "formality": rng.normal(k * 0.8, 1.0, n) - shift,
               "words": rng.poisson(30 + 10 * k - 8 * shift).astype(float)}
    emb = centres[k] + rng.normal(size=(n, DIM)) + (shift if embed_shift is None else embed_shift) * direction
    scores = difficulty[:, None] + rng.normal(0, 0.5, (len(CANARY), 8)) - 0.5 * shift
    return drift.Pool([f"{STYLES[i]} reply {j} (shift {shift})" for j, i in enumerate(k)], [STYLES[i] for i in k],
                      [f"prompt {j % 97}" for j in range(n)], metrics, emb if embeddings else None,
                      drift.Canary([p for _, p in CANARY], [s for s, _ in CANARY], scores) if canary else None)


@pytest.fixture(scope="module")
def healthy():
    return make_pool(1)


@pytest.fixture(scope="module")
def drifted():
    return make_pool(2, shift=0.5)


# --- PSI, Holm, per-metric tests --------------------------------------------------------------

def test_psi_matches_a_hand_computation():
    reference = np.arange(1, 11, dtype=float)  # 2 bins: the median 5.5 splits it 5 / 5
    current = np.array([1, 2, 3, 8, 9, 10, 11, 12, 13, 14], dtype=float)  # 3 below, 7 above
    by_hand = (0.3 - 0.5) * np.log(0.3 / 0.5) + (0.7 - 0.5) * np.log(0.7 / 0.5)
    assert drift_tests.psi(reference, current, bins=2) == pytest.approx(by_hand) == pytest.approx(0.16946, abs=1e-5)
    # an empty bin counts as eps, so the index stays finite
    eps = 1e-4
    empty = (eps - 0.5) * np.log(eps / 0.5) + (1 - 0.5) * np.log(1 / 0.5)
    assert drift_tests.psi(reference, np.full(10, 9.0), bins=2, eps=eps) == pytest.approx(empty)


def test_psi_is_zero_for_identical_samples_and_small_samples_inflate_it():
    x = np.random.default_rng(0).normal(size=500)
    assert drift_tests.psi(x, x) == pytest.approx(0.0, abs=1e-12)
    # with no drift at all, PSI is about (bins - 1) (1/n_ref + 1/n_cur): 0.1125 for 240 vs 120
    rng = np.random.default_rng(1)
    null = [drift_tests.psi(rng.normal(size=240), rng.normal(size=120)) for _ in range(300)]
    assert np.mean(null) == pytest.approx(9 * (1 / 240 + 1 / 120), rel=0.15)


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(3)
    p = rng.random((30, 5)) ** 3
    p[0] = [0.01, 0.01, 0.04, 0.5, 0.5]  # ties
    expected = np.array([multipletests(row, method="holm")[1] for row in p])
    assert np.allclose(drift_tests.holm(p), expected)
    assert np.allclose(drift_tests.holm(p.T, axis=0), expected.T)
    with pytest.raises(ValueError, match="p_values"):
        drift_tests.holm([0.2, 1.5])


@pytest.mark.parametrize("test", ["ks", "mannwhitney"])
def test_metric_tests_match_scipy_and_correct_across_metrics(test):
    rng = np.random.default_rng(4)
    reference = {"a": rng.normal(size=200), "b": rng.normal(size=200)}
    current = {"a": rng.normal(1.0, 1, size=100), "b": rng.normal(size=100)}
    table = drift_tests.metric_tests(reference, current, test=test)
    scipy_test = stats.ks_2samp if test == "ks" else stats.mannwhitneyu
    assert table.loc["b", "p_value"] == pytest.approx(scipy_test(current["b"], reference["b"]).pvalue)
    assert table.loc["a", "p_holm"] == pytest.approx(min(1, 2 * table.loc["a", "p_value"]))
    assert table.loc["a", "p_holm"] < 1e-3 < table.loc["b", "p_holm"]
    with pytest.raises(ValueError, match="'b' is missing"):
        drift_tests.metric_tests(reference, {"a": current["a"]})
    with pytest.raises(ValueError, match="test must be"):
        drift_tests.metric_tests(reference, current, test="t")


# --- MMD and the domain classifier ------------------------------------------------------------

@pytest.mark.parametrize("stop_after", [10, None])
def test_mmd_p_values_are_uniform_under_the_null(stop_after):
    rng = np.random.default_rng(5)
    p = np.array([drift_tests.mmd_test(rng.normal(size=(30, 5)), rng.normal(size=(30, 5)), n_permutations=199,
                                 rng=trial, stop_after=stop_after).p_value for trial in range(200)])
    # binomial(200, 0.05): mean 10, sd 3.1; binomial(200, 0.5): mean 100, sd 7.1
    assert 2 <= (p <= 0.05).sum() <= 20
    assert 78 <= (p <= 0.5).sum() <= 122


def test_mmd_finds_a_clear_shift_and_is_deterministic():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(60, 8)), rng.normal(size=(60, 8)) + 0.8
    result = drift_tests.mmd_test(x, y, n_permutations=499, rng=1)
    assert result.p_value == pytest.approx(1 / 500) and result.permutations == 499
    assert result == drift_tests.mmd_test(x, y, n_permutations=499, rng=1)
    same = drift_tests.mmd_test(x, x[::-1], n_permutations=499, rng=1)
    assert same.p_value > 0.5 and same.permutations < 499  # the sequential rule stopped early
    with pytest.raises(ValueError, match="one width"):
        drift_tests.mmd_test(x, y[:, :3])


def test_mmd_witness_points_at_the_new_replies():
    rng = np.random.default_rng(7)
    reference = rng.normal(size=(200, 4))
    current = np.vstack([rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + [4, 0, 0, 0]])
    top = np.argsort(drift_tests.mmd_witness(reference, current))[::-1][:40]
    assert (top >= 50).mean() >= 0.95


def test_domain_classifier_auc():
    rng = np.random.default_rng(8)
    reference = rng.normal(size=(150, 10))
    assert abs(drift_tests.domain_classifier_auc(reference, rng.normal(size=(150, 10))) - 0.5) < 0.12
    assert drift_tests.domain_classifier_auc(reference, rng.normal(size=(150, 10)) + np.r_[1.5, np.zeros(9)]) > 0.85


# --- the canary CUSUM -------------------------------------------------------------------------

def test_cusum_recursion_by_hand():
    upper, lower = drift_tests.cusum([0.0, 2.0, 2.0, -1.0, -3.0], k=1.0)
    assert upper.tolist() == [0.0, 1.0, 2.0, 0.0, 0.0]
    assert lower.tolist() == [0.0, 0.0, 0.0, 0.0, 2.0]


def test_cusum_flags_a_step_within_a_few_windows_and_not_a_flat_series():
    h = drift_tests.cusum_limit(10, 0.01, k=1.0)
    rng = np.random.default_rng(9)
    flat = rng.normal(0, 0.3, 10)
    assert max(np.max(a) for a in drift_tests.cusum(flat)) < h
    step = np.r_[rng.normal(0, 0.3, 5), rng.normal(-3.0, 0.3, 5)]  # the judge score drops at window 5
    upper, lower = drift_tests.cusum(step)
    first = np.flatnonzero(np.maximum(upper, lower) > h)
    assert len(first) and 5 <= first[0] <= 7


def test_cusum_limit_gives_its_false_alarm_rate_including_the_reference_error():
    alpha, windows, ratio, df = 0.05, 10, 4.0, 40
    h = drift_tests.cusum_limit(windows, alpha, k=1.0, df=df, reference_ratio=ratio)
    rng = np.random.default_rng(10)  # an independent simulation of the same null
    n = 8000
    z = (rng.standard_normal((n, windows)) - rng.standard_normal((n, 1)) / np.sqrt(ratio))
    z /= np.sqrt(rng.chisquare(df, (n, 1)) / df)
    crossed = [max(np.max(a) for a in drift_tests.cusum(row)) > h for row in z]
    assert abs(np.mean(crossed) - alpha) < 3 * np.sqrt(alpha * (1 - alpha) / n)
    # a limit that pretends the reference is exact is lower, so it would alarm more often
    assert drift_tests.cusum_limit(windows, alpha, k=1.0) < h


# --- the simulated log ------------------------------------------------------------------------

def test_simulate_log_is_deterministic_and_consistent(healthy, drifted):
    log = drift.simulate_log(healthy, drifted, n_windows=6, per_window=50, drift_window=3, seed=11)
    assert log.equals(drift.simulate_log(healthy, drifted, n_windows=6, per_window=50, drift_window=3, seed=11))
    assert not log.equals(drift.simulate_log(healthy, drifted, n_windows=6, per_window=50, drift_window=3, seed=12))
    traffic, canary = log[~log["canary"]], log[log["canary"]]
    assert (traffic.groupby("window").size() == 50).all()
    assert canary.groupby("window").size().tolist() == [16 * len(CANARY)] + [2 * len(CANARY)] * 5
    start = pd.Timestamp("2026-01-05") + pd.to_timedelta(log["window"] * 7, unit="D")
    assert ((log["timestamp"] >= start) & (log["timestamp"] < start + pd.Timedelta(days=7))).all()
    assert log["timestamp"].is_monotonic_increasing
    assert not log.loc[log["window"] < 3, "drifted"].any() and log.loc[log["window"] >= 3, "drifted"].all()
    assert (log["drifted"] == (log["pool"] == "drifted")).all()
    assert traffic[list(healthy.metrics)].notna().all().all() and canary["canary_score"].notna().all()
    assert log.attrs["drift_window"] == 3


def test_simulate_log_draws_from_the_right_pool(healthy):
    only_ads = make_pool(3, shift=1.0, styles=("social_ad",))  # only the social_ad adapter changed
    log = drift.simulate_log(healthy, only_ads, n_windows=4, per_window=200, drift_window=2, drift_share=0.5, seed=0)
    traffic = log[~log["canary"]]
    late = traffic[traffic["window"] >= 2]
    assert set(late.loc[late["drifted"], "style"]) == {"social_ad"}
    assert 0.3 < late.loc[late["style"] == "social_ad", "drifted"].mean() < 0.7
    emb = drift.log_embeddings(traffic, healthy, only_ads)
    row = traffic.iloc[np.flatnonzero(traffic["drifted"].to_numpy())[0]]
    assert np.allclose(emb[traffic.index.get_loc(row.name)], only_ads.embeddings[row["item"]])
    assert row["reply"] == only_ads.texts[row["item"]]
    assert not drift.simulate_log(healthy, only_ads, n_windows=4, drift_window=2, drift_share=0.0, seed=0)[
        "drifted"].any()
    assert not drift.simulate_log(healthy, n_windows=4, seed=0)["drifted"].any()


def test_simulate_log_prompt_mix_shift(healthy):
    log = drift.simulate_log(healthy, n_windows=4, per_window=200, drift_window=2, drift_kind="mix",
                             drifted_mix={"social_ad": 1}, seed=0)
    traffic = log[~log["canary"]]
    assert set(traffic.loc[traffic["window"] >= 2, "style"]) == {"social_ad"}
    assert traffic.loc[traffic["window"] < 2, "style"].nunique() == 4
    assert (traffic["pool"] == "healthy").all() and (traffic["drifted"] == (traffic["window"] >= 2)).all()
    assert not log.loc[log["canary"], "drifted"].any()  # the canary set does not follow the traffic


# --- bad input --------------------------------------------------------------------------------

def test_pool_names_the_field_that_does_not_fit():
    good = dict(texts=["a", "b"], styles=["news_brief", "social_ad"], prompts=["p", "q"],
                metrics={"formality": [1.0, 2.0]}, embeddings=np.zeros((2, 3)))
    for field, value, message in [("styles", ["news_brief"], "'styles' has 1"),
                                  ("prompts", ["p", "q", "r"], "'prompts' has 3"),
                                  ("metrics", {"formality": [1.0]}, "metrics\\['formality'\\]"),
                                  ("metrics", {"formality": [1.0, np.nan]}, "NaN"),
                                  ("metrics", {"window": [1.0, 2.0]}, "column of the log"),
                                  ("embeddings", np.zeros((3, 3)), "'embeddings' has 3")]:
        with pytest.raises(ValueError, match=message):
            drift.Pool(**{**good, field: value})
    with pytest.raises(ValueError, match="'scores'"):
        drift.Canary(["c1", "c2"], ["news_brief", "news_brief"], np.zeros((3, 4)))


def test_bad_arguments_name_the_argument(healthy, drifted):
    for kwargs, message in [({"drift_window": 0}, "drift_window"), ({"drift_window": 12}, "drift_window"),
                            ({"drift_window": 3, "drift_share": 1.5}, "drift_share"),
                            ({"style_mix": {"newsletter": 1}}, "style_mix: style 'newsletter'"),
                            ({"drift_window": 3, "drift_kind": "mix"}, "drifted_mix"),
                            ({"drift_window": 3, "drift_kind": "weather"}, "drift_kind")]:
        with pytest.raises(ValueError, match=message):
            drift.simulate_log(healthy, drifted, **kwargs)
    with pytest.raises(ValueError, match="drifted: a 'replies' drift needs"):
        drift.simulate_log(healthy, drift_window=3)
    no_canary = make_pool(2, canary=False)
    with pytest.raises(ValueError, match="drifted.canary"):
        drift.simulate_log(healthy, no_canary, drift_window=3)
    log = drift.simulate_log(healthy, n_windows=4, per_window=40)
    with pytest.raises(ValueError, match="unknown metric 'tone'"):
        drift.monitor(log, healthy, metrics=["tone"])
    with pytest.raises(ValueError, match="n_permutations=199 .* use at least"):
        drift.monitor(log, healthy, n_permutations=199)
    with pytest.raises(ValueError, match="reference_windows=4 leaves no window"):
        drift.monitor(log, healthy, reference_windows=4)
    with pytest.raises(ValueError, match="budget: unknown monitor 'psi'"):
        drift.monitor(log, healthy, budget={"psi": 1})
    with pytest.raises(ValueError, match="drift_window"):
        drift.evaluate(healthy, drifted, n_runs=1, drift_window=1)  # inside the reference period


# --- the monitor and its evaluation -----------------------------------------------------------

def test_monitor_on_one_drifted_log(healthy):
    strong = make_pool(2, shift=1.5)
    log = drift.simulate_log(healthy, strong, n_windows=8, drift_window=5, seed=13)
    result = drift.monitor(log, healthy, strong)
    assert result.windows.tolist() == [2, 3, 4, 5, 6, 7] and result.computed.all()
    assert result.first_alarm == 5 and result.alarm[3:].all()
    assert sum(result.budget.values()) == pytest.approx(result.alpha)
    assert result.levels["metrics"] == pytest.approx(0.02 / 3 / 6)
    table = result.table()
    assert list(table.index) == list(range(2, 8)) and {"p_holm formality", "psi words", "mmd_p", "cusum",
                                                        "alarm"} <= set(table.columns)
    assert (table.loc[5:, "psi formality"] > drift_tests.PSI_MAJOR).all()


def test_monitor_gives_a_missing_monitors_budget_to_the_others():
    bare = make_pool(1, embeddings=False, canary=False)
    result = drift.monitor(drift.simulate_log(bare, n_windows=4, per_window=60, seed=1), bare)
    assert set(result.flags) == {"metrics"} and result.budget == {"metrics": pytest.approx(0.02)}
    assert np.isnan(result.mmd_p).all() and np.isnan(result.cusum_upper).all()


def test_false_alarms_and_detection_on_synthetic_pools(healthy, drifted):
    ev = drift.evaluate(healthy, drifted, n_runs=100, n_drift_runs=100, seed=0)
    assert ev.n_null_runs == 100 and ev.false_alarm_rate <= 0.05
    assert ev.false_alarm_ci[0] <= ev.false_alarm_rate <= ev.false_alarm_ci[1]
    assert ev.detection_rate >= 0.95 and ev.median_delay <= 2
    assert ev.false_alarm_before_drift <= 0.05
    records = ev.records()
    assert set(records) == {"drift_false_alarm_rate", "drift_detection_rate", "drift_detection_delay_windows"}
    assert [_jsonable(v) for v in records.values()]  # what helpers.record accepts: finite numbers


def test_a_zero_shift_is_not_detected(healthy):
    same = make_pool(2, shift=0.0)  # another sample of the healthy distribution: nothing to find
    ev = drift.evaluate(healthy, same, n_runs=0, n_drift_runs=40, seed=1)
    assert ev.detection_rate <= 0.15
    assert "drift_false_alarm_rate" not in ev.records()  # no no-drift runs: nothing to record


def test_a_prompt_mix_shift_is_detected(healthy):
    ev = drift.evaluate(healthy, n_runs=0, n_drift_runs=20, drift_kind="mix", n_windows=8, seed=2,
                        drifted_mix={"social_ad": 5, "news_brief": 1, "feature_story": 1, "generic": 1})
    assert ev.detection_rate >= 0.9 and ev.detected_by["canary"] == 0


def test_evaluate_is_deterministic(healthy, drifted):
    first = drift.evaluate(healthy, drifted, n_runs=4, n_drift_runs=4, n_windows=6, per_window=60, seed=5)
    second = drift.evaluate(healthy, drifted, n_runs=4, n_drift_runs=4, n_windows=6, per_window=60, seed=5)
    assert first.false_alarms == second.false_alarms and np.array_equal(first.delays, second.delays)


# --- dashboard and labelling ------------------------------------------------------------------

def test_dashboard_draws_every_monitor(healthy, drifted, tmp_path):
    import matplotlib.pyplot as plt

    log = drift.simulate_log(healthy, drifted, n_windows=8, drift_window=5, seed=14)
    fig = drift.dashboard(log, drift.monitor(log, healthy, drifted), save_to=tmp_path / "dashboard.png")
    assert len(fig.axes) == 4 and (tmp_path / "dashboard.png").stat().st_size > 0
    assert all(ax.lines for ax in fig.axes)
    plt.close(fig)


@pytest.mark.parametrize("with_embeddings", [True, False])
def test_flagged_replies_go_to_the_likert_labeller(tmp_path, with_embeddings):
    healthy_pool = make_pool(1, embeddings=with_embeddings)
    moved = make_pool(2, shift=2.0, embed_shift=4.0, embeddings=with_embeddings)
    log = drift.simulate_log(healthy_pool, moved, n_windows=6, drift_window=4, drift_share=0.3, seed=15)
    items = drift.flagged_for_labelling(log, 4, healthy_pool, moved, n=10)
    assert len(items) == 10 and len({i["item_id"] for i in items}) == 10
    assert all(set(i) == {"item_id", "prompt", "response", "style"} for i in items)
    assert np.mean(["(shift 2.0)" in i["response"] for i in items]) >= 0.8  # 30% of the window drifted
    assert all(i["item_id"].startswith("drift-w04-") for i in items)
    labeler = LikertLabeler(items, tmp_path / "labels.jsonl", rater="ann", trait="style fit")
    labeler.rate(2)
    assert labeler.progress() == (1, 10) and labeler.ratings()[0]["item_id"] == items[0]["item_id"]
    ads = drift.flagged_for_labelling(log, 4, healthy_pool, moved, n=5, style="social_ad")
    assert {i["style"] for i in ads} == {"social_ad"}
    with pytest.raises(ValueError, match="window"):
        drift.flagged_for_labelling(log, 1, healthy_pool, moved)


def test_flagging_can_follow_the_metrics_when_the_embeddings_did_not_move(tmp_path):
    healthy_pool = make_pool(1)
    moved = make_pool(2, shift=2.0, embed_shift=0.0)  # the metrics moved, the embeddings did not
    log = drift.simulate_log(healthy_pool, moved, n_windows=6, drift_window=4, drift_share=0.3, seed=15)
    by_metrics = drift.flagged_for_labelling(log, 4, healthy_pool, moved, n=10, by="metrics")
    assert np.mean(["(shift 2.0)" in i["response"] for i in by_metrics]) >= 0.8
    with pytest.raises(ValueError, match="by must be"):
        drift.flagged_for_labelling(log, 4, healthy_pool, moved, by="witness")
    with pytest.raises(ValueError, match="no embeddings"):
        drift.flagged_for_labelling(log, 4, make_pool(1, embeddings=False), None, by="embedding")
