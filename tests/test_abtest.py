import numpy as np
import pytest
from scipy import stats

from helpers import abtest


# --- the simulated audience -------------------------------------------------------------------

def test_audience_is_deterministic_and_shaped():
    first = abtest.simulate_audience([0.1, 0.9], "news_brief", rng=3, impressions_per_response=50)
    second = abtest.simulate_audience([0.1, 0.9], "news_brief", rng=np.random.default_rng(3),
                                      impressions_per_response=50)
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert len(first["click"]) == 100 and set(np.unique(first["click"])) <= {0, 1}
    assert (first["time_spent"] > 0).all() and list(first["response"][:50]) == [0] * 50
    with pytest.raises(ValueError):
        abtest.simulate_audience([1.5], "news_brief", rng=0)
    with pytest.raises(ValueError, match="unknown channel"):
        abtest.simulate_audience([0.5], "newsletter", rng=0)


@pytest.mark.parametrize("channel", list(abtest.CHANNELS))
def test_better_fit_means_more_clicks_and_time(channel):
    low = abtest.simulate_audience([0.0], channel, rng=1, impressions_per_response=40_000)
    high = abtest.simulate_audience([1.0], channel, rng=2, impressions_per_response=40_000)
    ch = abtest.CHANNELS[channel]
    assert low["click"].mean() == pytest.approx(ch.ctr_no_fit, rel=0.15)
    assert high["click"].mean() == pytest.approx(ch.ctr_full_fit, rel=0.15)
    assert np.median(high["time_spent"]) / np.median(low["time_spent"]) == pytest.approx(ch.seconds_ratio, rel=0.1)


# --- lift -------------------------------------------------------------------------------------

def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, example (a): 56/70 vs 48/80,
    # method 10 (hybrid score) gives 0.0524 to 0.3339.
    result = abtest.lift(np.repeat([1, 0], [48, 32]), np.repeat([1, 0], [56, 14]), "click")
    assert result.absolute == pytest.approx(0.2)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_lift_p_values_match_scipy():
    rng = np.random.default_rng(0)
    c, t = rng.binomial(1, 0.05, 4000), rng.binomial(1, 0.06, 5000)
    table = [[c.sum(), len(c) - c.sum()], [t.sum(), len(t) - t.sum()]]
    chi2_p = stats.chi2_contingency(table, correction=False)[1]  # = the pooled two-proportion z-test
    assert abtest.lift(c, t, "click").p_value == pytest.approx(chi2_p, rel=1e-6)
    x, y = rng.lognormal(3, 0.8, 300), rng.lognormal(3.1, 1.0, 500)
    welch = stats.ttest_ind(y, x, equal_var=False)
    result = abtest.lift(x, y, "time_spent")
    assert result.p_value == pytest.approx(welch.pvalue, rel=1e-6)
    low, high = welch.confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), rel=1e-6)


@pytest.mark.parametrize("method", ["newcombe", "wald"])
def test_ctr_interval_covers_the_true_lift(method):
    rng, true_lift, hits = np.random.default_rng(11), 0.01, 0
    for _ in range(200):
        r = abtest.lift(rng.binomial(1, 0.05, 3000), rng.binomial(1, 0.06, 3000), "click", method=method)
        hits += r.ci_low <= true_lift <= r.ci_high
    assert 0.90 <= hits / 200 <= 0.99, hits / 200


def test_time_spent_interval_covers_the_true_lift():
    rng, hits = np.random.default_rng(12), 0
    true_lift = np.exp(3.2 + 0.8**2 / 2) - np.exp(3.0 + 0.8**2 / 2)  # lognormal means
    for _ in range(200):
        r = abtest.lift(rng.lognormal(3.0, 0.8, 2000), rng.lognormal(3.2, 0.8, 2000), "time_spent")
        hits += r.ci_low <= true_lift <= r.ci_high
    assert 0.90 <= hits / 200 <= 0.99, hits / 200


def test_clear_effect_excludes_zero_and_no_effect_does_not():
    rng = np.random.default_rng(5)
    control = abtest.simulate_audience([0.1] * 10, "feature_story", rng, impressions_per_response=1000)
    treatment = abtest.simulate_audience([0.9] * 10, "feature_story", rng, impressions_per_response=1000)
    for metric in ("click", "time_spent"):
        r = abtest.lift(control, treatment, metric)
        assert r.ci_low > 0 and r.p_value < 0.001 and r.significant()
        assert r.relative_ci_low > 0 and r.relative == pytest.approx(r.treatment / r.control - 1)
    same = abtest.simulate_audience([0.1] * 10, "feature_story", rng, impressions_per_response=1000)
    r = abtest.lift(control, same, "click")
    assert r.ci_low < 0 < r.ci_high and not r.significant()


def test_lift_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown metric"):
        abtest.lift([0, 1], [1, 1], "revenue")
    with pytest.raises(ValueError, match="0 or 1"):
        abtest.lift([0, 2], [1, 1], "click")


# --- sample size and power --------------------------------------------------------------------

def test_sample_size_textbook_value():
    # Closed form for two proportions (Fleiss, Levin & Paik 2003, ch. 4; no continuity correction),
    # with z_0.975 = 1.959964 and z_0.80 = 0.841621 written out: 0.10 -> 0.12 needs 3,841 per arm.
    p1, p2, p_bar = 0.10, 0.12, 0.11
    n = (1.959964 * np.sqrt(2 * p_bar * (1 - p_bar)) + 0.841621 * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / 0.02**2
    assert int(np.ceil(n)) == 3841
    assert abtest.sample_size(0.10, 0.02) == 3841
    assert abtest.sample_size(0.10, 0.20, relative=True) == 3841
    assert abtest.sample_size(0.10, 0.01) > 3.5 * 3841  # half the lift, about four times the users
    assert abtest.sample_size(0.10, 0.02, power=0.9) > 3841


def test_power_inverts_sample_size_and_matches_simulation():
    assert abtest.power(0.10, 0.02, 3841) == pytest.approx(0.80, abs=0.002)
    assert abtest.power(0.10, 0.02, 1000) < abtest.power(0.10, 0.02, 3841) < abtest.power(0.10, 0.02, 8000)
    # empirical power of the pooled z-test at the planned size
    rng, n = np.random.default_rng(7), 3841
    a, b = rng.binomial(n, 0.10, 2000), rng.binomial(n, 0.12, 2000)
    pooled = (a + b) / (2 * n)
    z = (b - a) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    assert (np.abs(z) > 1.959964).mean() == pytest.approx(0.80, abs=0.04)


# --- peeking ----------------------------------------------------------------------------------

def test_peeking_inflates_false_positives():
    result = abtest.peeking_simulation(base_rate=0.05, n_per_arm=10_000, n_looks=50, n_experiments=2000, rng=0)
    assert result.fpr_peeking > 0.2, result.fpr_peeking
    assert 0.035 <= result.fpr_single_look <= 0.065, result.fpr_single_look
    assert np.all(np.diff(result.cumulative_fpr) >= 0) and result.cumulative_fpr[-1] == result.fpr_peeking
    assert result.p_values.shape == (2000, 50) and result.looks[-1] == 10_000


def test_one_look_is_no_peeking():
    result = abtest.peeking_simulation(n_looks=1, n_experiments=500, rng=1)
    assert result.fpr_peeking == result.fpr_single_look
    again = abtest.peeking_simulation(n_looks=1, n_experiments=500, rng=1)
    assert np.array_equal(result.p_values, again.p_values)
