"""Measuring a judge (helpers.metrics.judge_eval): each statistic on small hand-checked cases, against
scipy/statsmodels where they have it, and on synthetic data whose answer is known."""
import math

import numpy as np
import pytest
from scipy import stats

from helpers.metrics import judge_eval as je


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# --- the bootstrap and shares ---------------------------------------------------------------

def test_an_estimate_prints_with_its_interval_and_unpacks():
    estimate = je.Estimate(0.5, 0.4, 0.6)
    value, low, high = estimate
    assert (value, low, high) == (0.5, 0.4, 0.6)
    assert str(estimate) == "0.500 [0.400, 0.600]" and estimate.as_dict() == {"value": 0.5, "low": 0.4, "high": 0.6}


def test_bootstrap_matches_scipy_and_batched_equals_looped():
    x = np.random.default_rng(0).normal(1.0, 2.0, size=200)
    ours = je.bootstrap_ci(np.mean, x, n_boot=4000, seed=1)
    ref = stats.bootstrap((x,), np.mean, method="percentile", n_resamples=4000, random_state=1).confidence_interval
    assert ours.value == pytest.approx(x.mean())
    assert ours.low == pytest.approx(ref.low, abs=0.05) and ours.high == pytest.approx(ref.high, abs=0.05)
    batched = je.bootstrap_ci(lambda a: a.mean(-1), x, n_boot=4000, seed=1, batched=True)
    assert batched == pytest.approx(ours)  # the same seed draws the same resamples either way


def test_resampling_is_paired_across_arrays_and_calls():
    x = np.arange(30.0)
    diff = je.bootstrap_ci(lambda a, b: np.mean(a - b), x, x + 2, n_boot=300)
    assert diff == pytest.approx((-2.0, -2.0, -2.0))  # rows resampled together: no spread at all
    first, second = je.bootstrap_cis(lambda a: np.array([a.mean(), a.mean() * 2]), x, n_boot=300, seed=4)
    assert second == pytest.approx(tuple(2 * v for v in first))


def test_cluster_bootstrap_is_wider_for_copied_rows():
    rng = np.random.default_rng(2)
    x = np.repeat(rng.normal(size=40), 10)  # 40 independent values, each copied 10 times
    rows = je.bootstrap_ci(np.mean, x, n_boot=1000)
    clustered = je.bootstrap_ci(np.mean, x, n_boot=1000, clusters=np.repeat(np.arange(40), 10))
    assert rows.value == clustered.value
    assert (clustered.high - clustered.low) > 2.5 * (rows.high - rows.low)  # about sqrt(10) wider


def test_share_uses_wilson_and_keeps_an_interval_at_100_percent():
    assert je.share([1] * 8 + [0] * 2) == pytest.approx((0.8, 0.4902, 0.9433), abs=1e-4)
    value, low, high = je.share([True] * 20)
    assert value == high == 1.0 and low == pytest.approx(0.8389, abs=1e-4)
    for n in (3, 7, 10, 33):  # Wilson's bound at 0% and 100% lands a rounding error off; the share stays inside
        assert je.share([1] * n).high == 1.0 and je.share([0] * n).low == 0.0


def test_bootstrap_refuses_bad_input():
    with pytest.raises(ValueError, match="same, non-zero"):
        je.bootstrap_ci(np.mean, [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="level"):
        je.bootstrap_ci(np.mean, [1, 2], level=95)


# --- agreement with humans ------------------------------------------------------------------

def test_spearman_matches_scipy_with_ties_nans_and_batches():
    rng = np.random.default_rng(3)
    x, y = rng.integers(1, 6, size=(2, 4, 50)).astype(float)
    for a, b in zip(x, y):
        assert je.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)
    assert je.spearman(x, y) == pytest.approx([stats.spearmanr(a, b).statistic for a, b in zip(x, y)])
    a, b = x[0].copy(), y[0].copy()
    a[:5] = b[:5] = np.nan
    assert je.spearman(a, b) == pytest.approx(stats.spearmanr(x[0][5:], y[0][5:]).statistic)


def by_hand(ratings, judge=None):
    """Leave-one-annotator-out Spearman written out with scipy (the reference)."""
    rhos = []
    for k in range(ratings.shape[1]):
        others = np.nanmean(np.delete(ratings, k, 1), 1)
        target = ratings[:, k] if judge is None else judge
        ok = ~np.isnan(ratings[:, k]) & ~np.isnan(others) & ~np.isnan(target)
        rhos.append(stats.spearmanr(target[ok], others[ok]).statistic)
    return np.mean(rhos)


def test_leave_one_out_agreement_matches_the_hand_computation():
    ratings = np.array([[1, 2, 1], [2, 2, 3], [3, 4, 3], [4, 3, 5], [5, 5, 4], [2, 1, 2]], dtype=float)
    judge = np.array([1.5, 2.0, 3.5, 3.0, 4.8, 2.2])
    assert je.human_human_agreement(ratings, n_boot=200).value == pytest.approx(by_hand(ratings))
    assert je.judge_human_agreement(judge, ratings, n_boot=200).value == pytest.approx(by_hand(ratings, judge))
    ratings[0, 1] = ratings[3, 2] = np.nan  # lesson 2's labels: not every rater rates every item
    assert je.human_human_agreement(ratings, n_boot=200).value == pytest.approx(by_hand(ratings))
    assert je.judge_human_agreement(judge, ratings, n_boot=200).value == pytest.approx(by_hand(ratings, judge))


def synthetic_ratings(noise: float, n: int = 300, annotators: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    return signal, signal[:, None] + rng.normal(scale=noise, size=(n, annotators))


def test_less_noisy_annotators_agree_more():
    _, careful = synthetic_ratings(0.5)
    _, sloppy = synthetic_ratings(2.0)
    good, bad = je.human_human_agreement(careful, n_boot=300), je.human_human_agreement(sloppy, n_boot=300)
    assert bad.high < good.low
    assert bad.low < bad.value < bad.high


def test_a_judge_that_sees_the_true_signal_beats_the_humans_on_the_same_items():
    signal, ratings = synthetic_ratings(1.0)
    report = je.compare_with_humans(signal, ratings, n_boot=300)
    assert report.judge_human.value > report.human_human.value and report.difference.low > 0
    assert report.human_human == je.human_human_agreement(ratings, n_boot=300)  # same items, same resamples
    assert report.judge_human == je.judge_human_agreement(signal, ratings, n_boot=300)
    noisy_judge = signal + np.random.default_rng(9).normal(scale=3.0, size=len(signal))
    assert je.compare_with_humans(noisy_judge, ratings, n_boot=300).difference.high < 0
    assert "judge–human" in str(report) and "300 items" in str(report)


def test_unscored_items_leave_both_figures():
    signal, ratings = synthetic_ratings(1.0, n=60)
    judge = signal.copy()
    judge[:10] = np.nan
    report = je.compare_with_humans(judge, ratings, n_boot=200)
    assert (report.n_items, report.n_unscored) == (50, 10)
    assert report.human_human.value == pytest.approx(by_hand(ratings[10:]))
    with pytest.raises(ValueError, match="one judge score per item"):
        je.judge_human_agreement(judge[:5], ratings)


# --- order swaps ----------------------------------------------------------------------------

P_AB = np.array([0.9, 0.8, 0.3, 0.6, np.nan])
P_BA = np.array([0.7, 0.2, 0.1, 0.6, 0.9])


def test_consistency_and_the_both_orders_rule_on_constructed_pairs():
    assert je.consistent(P_AB, P_BA).tolist() == [True, False, True, True, False]
    assert je.consistent([0.5, 0.7], [0.7, 0.5]).tolist() == [False, False]  # an exact 0.5 is no verdict
    assert je.both_orders_preference(P_AB, P_BA).tolist() == [1, 0.5, 0, 1, 0.5]
    assert je.swap_consistency(P_AB, P_BA).value == pytest.approx(3 / 5)


def test_swap_report_before_and_after_the_rule():
    report = je.swap_report(P_AB, P_BA, n_boot=300)
    assert report.consistency.value == pytest.approx(0.6)
    assert report.consistency_after.value == 1.0 and report.ties_after.value == pytest.approx(0.4)
    assert report.win_rate_ab.value == pytest.approx(np.mean([1, 1, 0, 1, 0.5]))
    assert report.win_rate_ba.value == pytest.approx(np.mean([1, 0, 0, 1, 1]))
    assert report.win_rate_both.value == pytest.approx(np.mean([1, 0.5, 0, 1, 0.5]))
    # the first-shown reply won 3 of the 4 decided AB answers and 2 of the 5 BA answers
    assert report.first_position.value == pytest.approx(5 / 9)
    assert report.unusable.value == pytest.approx(0.1) and report.n_pairs == 5
    for estimate in (report.consistency, report.win_rate_both, report.first_position):
        assert estimate.low <= estimate.value <= estimate.high


def test_a_judge_that_always_picks_the_first_reply():
    p_ab, p_ba = np.full(40, 0.9), np.full(40, 0.1)  # "A" whatever is shown as A
    report = je.swap_report(p_ab, p_ba, n_boot=200)
    assert report.consistency.value == 0 and report.consistency.high < 0.1
    assert report.first_position.value == 1
    assert (report.win_rate_ab.value, report.win_rate_ba.value, report.win_rate_both.value) == (1, 0, 0.5)


# --- length ---------------------------------------------------------------------------------

def length_pairs(n: int = 800, seed: int = 0):
    rng = np.random.default_rng(seed)
    len_a, len_b = rng.normal(130, 40, n).clip(5), rng.normal(80, 40, n).clip(5)  # A writes longer replies
    diff = len_a - len_b
    return len_a, len_b, np.tanh(diff / diff.std()), rng


def test_length_controlled_win_rate_removes_a_pure_length_effect():
    len_a, len_b, z, rng = length_pairs()
    soft = sigmoid(3 * z)  # a judge that looks at length and nothing else
    hard = (rng.random(len(z)) < soft).astype(float)  # the same judge, answering in text
    exact = je.length_controlled_win_rate(soft, len_a, len_b, n_boot=300)
    assert exact.raw.value > 0.75 and exact.controlled.value == pytest.approx(0.5, abs=1e-3)
    noisy = je.length_controlled_win_rate(hard, len_a, len_b, n_boot=300)
    assert noisy.raw.value > 0.7 and noisy.controlled.low < 0.5 < noisy.controlled.high
    assert exact.slope.low > 2 and noisy.slope.low > 2
    bias = je.length_bias(soft, len_a, len_b, n_boot=300)
    assert bias.longer_preferred.value > 0.75 and bias.spearman.low > 0.8


def test_length_control_keeps_a_real_quality_difference():
    len_a, len_b, z, _ = length_pairs(seed=1)
    result = je.length_controlled_win_rate(sigmoid(1.0 + 2 * z), len_a, len_b, n_boot=300)
    assert result.controlled.value == pytest.approx(sigmoid(1.0), abs=0.01)
    assert result.slope.value == pytest.approx(2.0, abs=0.05)


def test_the_length_model_is_statsmodels_fractional_logit():
    import statsmodels.api as sm

    len_a, len_b, z, rng = length_pairs(n=300, seed=2)
    p = sigmoid(0.4 + 1.5 * z + rng.normal(scale=0.5, size=len(z)))
    fit = sm.GLM(p, sm.add_constant(z), family=sm.families.Binomial()).fit()
    result = je.length_controlled_win_rate(p, len_a, len_b, n_boot=100, ridge=0.0)
    assert result.controlled.value == pytest.approx(sigmoid(fit.params[0]), abs=1e-6)
    assert result.slope.value == pytest.approx(fit.params[1], abs=1e-6)
    assert result.raw.value == pytest.approx(p.mean())


def test_a_length_blind_judge_shows_no_length_bias():
    len_a, len_b, _, rng = length_pairs(seed=3)
    bias = je.length_bias(rng.random(len(len_a)), len_a, len_b, n_boot=300)
    assert bias.spearman.low < 0 < bias.spearman.high
    assert bias.longer_preferred.low < 0.5 < bias.longer_preferred.high


def test_length_functions_leave_out_unusable_answers():
    len_a, len_b, z, _ = length_pairs(n=100, seed=4)
    p = sigmoid(z)
    p[:7] = np.nan
    assert je.length_controlled_win_rate(p, len_a, len_b, n_boot=50).n_pairs == 93
    assert je.length_bias(p, len_a, len_b, n_boot=50).n_pairs == 93


# --- self-preference and calibration --------------------------------------------------------

def test_self_preference_against_equal_pairs_and_against_humans():
    judge = np.array([1, 1, 0, 0.5] * 10)
    equal = je.self_preference(judge, n_boot=300)
    assert (equal.judge.value, equal.reference.value, equal.bias.value) == pytest.approx((0.625, 0.5, 0.125))
    humans = je.self_preference(judge, np.array([1, 0, 0, 0.5] * 10), n_boot=300)
    assert humans.bias.value == pytest.approx(0.25) and humans.bias.low > 0


def test_calibration_table_and_ece_by_hand():
    probs = np.array([0.95, 0.95, 0.65, 0.65, 0.35, 0.35])  # the last two: 65% sure of outcome 0
    outcomes = np.array([1, 1, 1, 0, 0, 1])
    table = je.calibration_table(probs, outcomes, bins=10)
    filled = table["count"] > 0
    assert table["count"][filled].tolist() == [4, 2]
    assert table["confidence"][filled] == pytest.approx([0.65, 0.95])
    assert table["accuracy"][filled] == pytest.approx([0.5, 1.0])
    ece = je.expected_calibration_error(probs, outcomes, n_boot=200)
    assert ece.value == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.05)
    assert ece.low <= ece.value <= ece.high


def test_calibration_of_several_classes():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
    table = je.calibration_table(probs, np.array([0, 2, 2]), bins=5)
    assert table["count"].tolist() == [0, 0, 2, 1, 0]
    assert table["accuracy"][2:4] == pytest.approx([0.5, 1.0])


def test_a_calibrated_judge_has_a_small_ece():
    rng = np.random.default_rng(5)
    p = rng.random(20_000)
    assert je.expected_calibration_error(p, (rng.random(len(p)) < p).astype(int), n_boot=100).value < 0.02
    assert je.expected_calibration_error(p, (p > 0.5).astype(int), n_boot=100).value > 0.2  # underconfident


def test_plot_calibration(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    p = np.linspace(0.05, 0.95, 50)
    fig = je.plot_calibration(je.calibration_table(p, (p > 0.3).astype(int)), save_to=tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0 and fig.axes[0].get_xlabel() == "confidence"
    assert not math.isnan(fig.axes[0].lines[1].get_ydata().sum())


def test_paired_difference_is_the_mean_gain_resampled_by_pair():
    rng = np.random.default_rng(0)
    baseline = rng.normal(0, 1, 60)
    treated = baseline + 0.5 + rng.normal(0, 0.1, 60)  # a clear gain, small noise around it
    gain = je.paired_difference(treated, baseline, seed=1)
    assert gain.value == pytest.approx(np.mean(treated - baseline))
    assert 0.45 < gain.low < gain.value < gain.high < 0.55  # pairing removes the baseline's own spread
    assert je.paired_difference(treated, baseline, scale=2.0, seed=1) == pytest.approx(tuple(x / 2 for x in gain))
    assert je.paired_difference(treated, baseline, seed=1) == gain  # same seed, same interval
