import dataclasses

import numpy as np
import pytest
from scipy import stats

from helpers import multi_style
from helpers.metrics import abtest

# --- the simulated audience -------------------------------------------------------------------

NEWS = "MILLBROOK — Hollow Oak Bakery will open at 12 Mill Lane on Saturday 14 March, owner Priya Castellan said."
AD = "Fresh bread is coming to Millbrook! 🥖 The first 50 of you get a free loaf, so come early! #HollowOak"
LOOP = "I'm sorry for the new " + "new " * 30 + "$1."


def test_reader_signals_read_the_surface():
    news, ad, loop = (abtest.reader_signals(t, 60) for t in (NEWS, AD, LOOP))
    assert set(news) == set(abtest.SIGNALS) and all(0 <= v <= 1 for s in (news, ad, loop) for v in s.values())
    assert news["dateline"] == 1 and ad["dateline"] == 0
    assert ad["hashtag"] == 1 and ad["emoji"] == 0.5 and ad["exclamation"] == 1 and ad["you"] > 0.5
    assert news["figures"] == pytest.approx(2 / 3) and news["repetition"] == 0  # "12" and "14"
    assert loop["repetition"] == 1 and abtest.reader_signals(LOOP + " \ufffd", 60)["broken"] == 1
    assert abtest.reader_signals("word " * 60, 60)["length_miss"] == 0
    assert abtest.reader_signals("word " * 240, 60)["length_miss"] == 1  # four times too long


def test_audience_is_deterministic_and_shaped():
    first = abtest.simulate_audience([NEWS, AD], "news_brief", rng=3, impressions_per_text=50)
    second = abtest.simulate_audience([NEWS, AD], "news_brief", rng=np.random.default_rng(3),
                                      impressions_per_text=50)
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert len(first["click"]) == 100 and set(np.unique(first["click"])) <= {0, 1}
    assert (first["time_spent"] > 0).all() and list(first["text"][:50]) == [0] * 50
    with pytest.raises(ValueError):
        abtest.simulate_audience([], "news_brief", rng=0)
    with pytest.raises(ValueError):
        abtest.simulate_audience([0.5], "news_brief", rng=0)
    with pytest.raises(ValueError, match="unknown channel"):
        abtest.simulate_audience([NEWS], "newsletter", rng=0)


@pytest.mark.parametrize("channel", list(abtest.CHANNELS))
def test_each_channel_prefers_its_own_style_on_held_out_references(channel):
    # the weights were set by hand from stated reader tastes; this checks them against texts
    # the classifier was not trained on (the held-out sheets)
    sheets = multi_style.load_style_sheets("test")
    ctr = {name: abtest.expected_ctr([s[name] for s in sheets], channel).mean() for name in (*multi_style.STYLES, "generic")}
    others = [v for name, v in ctr.items() if name != channel]
    assert ctr[channel] > 1.2 * max(others), ctr
    assert 0.005 < min(ctr.values()) and max(ctr.values()) < 0.15, ctr


def test_an_ad_too_long_for_the_feed_loses_readers():
    # the classifier would still call it an ad: the audience and the classifier can disagree
    padded = AD + " Our bakers start at dawn and every loaf is shaped by hand from local flour." * 8
    assert abtest.expected_ctr([padded], "social_ad")[0] < 0.8 * abtest.expected_ctr([AD], "social_ad")[0]


def test_simulated_clicks_match_the_expected_rate_and_texts_are_clusters():
    texts = [NEWS] * 300  # one text written 300 times: only the latent appeal differs between them
    ch = abtest.CHANNELS["news_brief"]
    data = abtest.simulate_audience(texts, ch, rng=4, impressions_per_text=400)
    assert data["click"].mean() == pytest.approx(abtest.expected_ctr([NEWS], ch)[0], rel=0.05)
    rate = abtest.expected_ctr([NEWS], ch)[0]
    icc = abtest.intraclass_correlation(data["click"], data["text"])
    assert icc == pytest.approx(abtest.appeal_icc(rate, ch.appeal_sd), rel=0.35), icc
    flat = abtest.simulate_audience(texts, dataclasses.replace(ch, appeal_sd=0.0), rng=4, impressions_per_text=400)
    assert abtest.intraclass_correlation(flat["click"], flat["text"]) < 0.002


@pytest.mark.parametrize("channel", list(abtest.CHANNELS))
def test_more_appeal_means_more_clicks_and_time(channel):
    ch = abtest.CHANNELS[channel]
    low = abtest.simulate_audience(["x"] * 100, dataclasses.replace(ch, weights={"broken": -1.0}), 1, 400)
    high = abtest.simulate_audience(["x"] * 100, dataclasses.replace(ch, weights={"broken": 0.0}), 2, 400)
    assert abtest.reader_signals("x", ch.ideal_words)["broken"] == 0  # "x" has no signal: both are the base rate
    assert low["click"].mean() == pytest.approx(high["click"].mean(), rel=0.15)
    broken = abtest.simulate_audience(["x \ufffd"] * 100, dataclasses.replace(ch, weights={"broken": -1.0}), 3, 400)
    assert broken["click"].mean() < 0.8 * high["click"].mean()
    ratio = np.median(high["time_spent"]) / np.median(broken["time_spent"])
    assert ratio == pytest.approx(np.exp(ch.seconds_per_appeal), rel=0.15)


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
    control, treatment = rng.binomial(1, 0.03, 10_000), rng.binomial(1, 0.06, 10_000)
    r = abtest.lift(control, treatment, "click")
    assert r.ci_low > 0 and r.p_value < 0.001 and r.significant()
    assert r.relative_ci_low > 0 and r.relative == pytest.approx(r.treatment / r.control - 1)
    seconds = abtest.lift(rng.lognormal(3.0, 0.8, 5000), rng.lognormal(3.3, 0.8, 5000), "time_spent")
    assert seconds.ci_low > 0 and seconds.significant()
    r = abtest.lift(control, rng.binomial(1, 0.03, 10_000), "click")
    assert r.ci_low < 0 < r.ci_high and not r.significant()


def test_lift_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown metric"):
        abtest.lift([0, 1], [1, 1], "revenue")
    with pytest.raises(ValueError, match="0 or 1"):
        abtest.lift([0, 2], [1, 1], "click")


# --- cluster-robust lift ------------------------------------------------------------------------

def _coverage(channel, control_texts, treatment_texts, impressions, runs, seed):
    """Share of simulated A/B tests whose naive, cluster-t and cluster-bootstrap intervals cover
    the true lift, and the median of (cluster-t width / naive width)² / design effect."""
    truth = (abtest.expected_ctr(treatment_texts, channel).mean() - abtest.expected_ctr(control_texts, channel).mean())
    rng, hits, ratios = np.random.default_rng(seed), np.zeros(3), []
    for _ in range(runs):
        c = abtest.simulate_audience(control_texts, channel, rng, impressions)
        t = abtest.simulate_audience(treatment_texts, channel, rng, impressions)
        r, boot = abtest.cluster_lift(c, t), abtest.cluster_lift(c, t, method="bootstrap", n_boot=1000, rng=rng)
        hits += [r.naive_ci_low <= truth <= r.naive_ci_high, r.ci_low <= truth <= r.ci_high,
                 boot.ci_low <= truth <= boot.ci_high]
        ratios.append(((r.ci_high - r.ci_low) / (r.naive_ci_high - r.naive_ci_low)) ** 2 / r.design_effect)
    return (*(hits / runs), float(np.median(ratios)))


@pytest.mark.parametrize("channel", ["news_brief", "social_ad"])
def test_naive_interval_undercovers_with_few_texts_and_cluster_intervals_do_not(channel):
    # 10 texts per arm, 500 readers each: the lesson's design. The texts' latent appeal makes
    # the 5,000 impressions of an arm worth far fewer independent ones.
    sheets = multi_style.load_style_sheets("test")
    control, treatment = [s["generic"] for s in sheets], [s[channel] for s in sheets]
    naive, t, boot, ratio = _coverage(channel, control, treatment, impressions=500, runs=300, seed=1)
    assert naive < 0.8, naive  # measured over seeds: 0.51-0.57 (news app), 0.66-0.73 (social feed)
    assert 0.91 <= t <= 0.99, t  # measured over seeds and channels: 0.92-0.96
    assert 0.85 <= boot <= 0.97, boot  # measured: 0.88-0.93 (10 texts: a little narrow)
    # the cluster interval is wider than the naive one by about the square root of the design effect
    assert 0.6 < ratio < 1.6, ratio


def test_without_clustering_both_intervals_agree():
    ch = dataclasses.replace(abtest.CHANNELS["news_brief"], appeal_sd=0.0)
    c = abtest.simulate_audience([NEWS] * 200, ch, 0, 50)  # 200 copies of a text with no latent appeal
    t = abtest.simulate_audience([NEWS + " #now"] * 200, ch, 1, 50)
    r = abtest.cluster_lift(c, t, rng=0)
    assert r.design_effect == pytest.approx(1.0, abs=0.1)
    assert (r.ci_high - r.ci_low) / (r.naive_ci_high - r.naive_ci_low) == pytest.approx(1.0, abs=0.12)
    assert r.absolute == pytest.approx(abtest.lift(c, t).absolute)


def test_cluster_lift_is_seeded_and_reports_its_texts():
    sheets = multi_style.load_style_sheets("test")
    c = abtest.simulate_audience([s["generic"] for s in sheets], "social_ad", 0, 300)
    t = abtest.simulate_audience([s["social_ad"] for s in sheets], "social_ad", 1, 300)
    first, again = abtest.cluster_lift(c, t, rng=7), abtest.cluster_lift(c, t, rng=7)
    assert first == again
    assert first.n_texts_control == first.n_texts_treatment == 10 and first.n_control == 3000
    assert first.ci_low <= first.absolute <= first.ci_high and first.relative_ci_low <= first.relative <= first.relative_ci_high
    assert first.effective_n_control == pytest.approx(3000 / first.design_effect)
    seconds = abtest.cluster_lift(c, t, "time_spent", rng=7)
    assert seconds.ci_low <= seconds.absolute <= seconds.ci_high and seconds.design_effect > 1
    assert (seconds.ci_high - seconds.ci_low) > (seconds.naive_ci_high - seconds.naive_ci_low)


def test_cluster_lift_rejects_bad_input():
    c = abtest.simulate_audience([NEWS, AD], "news_brief", 0, 20)
    with pytest.raises(ValueError, match="'text'"):
        abtest.cluster_lift({"click": c["click"]}, c)
    with pytest.raises(ValueError, match="two texts"):
        abtest.cluster_lift(abtest.simulate_audience([NEWS], "news_brief", 0, 20), c)


def test_intraclass_correlation_by_hand():
    # two clusters, perfectly separated: all the variance is between clusters
    assert abtest.intraclass_correlation([0, 0, 1, 1], [0, 0, 1, 1]) == pytest.approx(1.0)
    # cluster means equal: no variance between clusters (the estimate is clipped at 0)
    assert abtest.intraclass_correlation([0, 1, 0, 1], [0, 0, 1, 1]) == 0.0
    # one-way ANOVA by hand: means 1/3 and 2/3, MSB = 3 * 2 * (1/6)^2 = 1/6, MSW = 4/3 / 4 = 1/3
    assert abtest.intraclass_correlation([0, 0, 1, 0, 1, 1], [0, 0, 0, 1, 1, 1]) == 0.0
    y, g = [0, 0, 0, 1, 1, 0, 1, 1, 1, 1], [0] * 5 + [1] * 5  # means 0.4, 0.8; MSB = 0.4, MSW = 2.0 / 8
    assert abtest.intraclass_correlation(y, g) == pytest.approx((0.4 - 0.25) / (0.4 + 4 * 0.25))


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


def test_design_effect_and_the_ceiling_on_impressions_per_text():
    assert abtest.design_effect(1, 0.3) == 1.0 and abtest.design_effect(101, 0.01) == pytest.approx(2.0)
    assert abtest.effective_sample_size(10, 1000, 0.0) == 10_000
    icc = 0.01  # the effective size of 10 texts never exceeds 10 / icc = 1,000 impressions
    sizes = [abtest.effective_sample_size(10, m, icc) for m in (100, 1000, 10_000, 1_000_000)]
    assert np.all(np.diff(sizes) > 0) and sizes[-1] < 1000 and sizes[-1] > 0.99 * 1000
    assert abtest.power_clustered(0.10, 0.02, 10, 384.1, 0.0) == pytest.approx(abtest.power(0.10, 0.02, 3841))
    assert abtest.power_clustered(0.10, 0.02, 10, 10**6, icc) < abtest.power(0.10, 0.02, 1001)
    with pytest.raises(ValueError):
        abtest.design_effect(10, 1.5)
    m = abtest.plateau_impressions(icc)
    assert m == 891 and abtest.effective_sample_size(10, m, icc) == pytest.approx(0.9 * 10 / icc)
    assert abtest.effective_sample_size(10, m - 1, icc) < 0.9 * 10 / icc


def test_texts_and_impressions_needed_invert_each_other():
    n = abtest.sample_size(0.05, 0.25, power=0.9, relative=True)
    icc = 0.005
    assert abtest.impressions_per_text_needed(0.05, 0.25, icc, n_texts=10, power=0.9, relative=True) is None  # 10 <= n * icc
    k = abtest.texts_needed(0.05, 0.25, icc, 1000, power=0.9, relative=True)
    assert k == int(np.ceil(n * (1 + 999 * icc) / 1000))
    m = abtest.impressions_per_text_needed(0.05, 0.25, icc, n_texts=k, power=0.9, relative=True)
    assert m is not None and m <= 1000
    assert abtest.power_clustered(0.05, 0.25, k, m, icc, relative=True) >= 0.9 - 1e-9
    assert abtest.power_clustered(0.05, 0.25, k, m - 1, icc, relative=True) < 0.9


def test_appeal_icc_matches_a_direct_simulation_of_text_rates():
    rng = np.random.default_rng(0)
    p = 1 / (1 + np.exp(-(np.log(0.05 / 0.95) + rng.normal(0, 0.4, 400_000))))
    assert abtest.appeal_icc(0.05, 0.4) == pytest.approx(p.var() / (p.mean() * (1 - p.mean())), rel=0.02)
    assert abtest.appeal_icc(0.05, 0.0) == pytest.approx(0.0, abs=1e-12)


# --- peeking ----------------------------------------------------------------------------------

def test_peeking_inflates_false_positives():
    result = abtest.peeking_simulation(base_rate=0.05, n_per_arm=10_000, n_looks=50, n_experiments=2000, rng=0)
    assert result.fpr_peeking > 0.2, result.fpr_peeking
    assert 0.035 <= result.fpr_single_look <= 0.065, result.fpr_single_look
    assert np.all(np.diff(result.cumulative_fpr) >= 0) and result.cumulative_fpr[-1] == result.fpr_peeking
    assert result.p_values.shape == (2000, 50) and result.looks[-1] == 10_000
    for rate, (low, high) in ((result.fpr_peeking, result.fpr_peeking_ci), (result.fpr_single_look, result.fpr_single_look_ci)):
        assert low < rate < high and high - low < 0.05  # Wilson intervals over 2,000 experiments
    assert result.fpr_peeking_ci[0] > result.fpr_single_look_ci[1]


def test_one_look_is_no_peeking():
    result = abtest.peeking_simulation(n_looks=1, n_experiments=500, rng=1)
    assert result.fpr_peeking == result.fpr_single_look
    again = abtest.peeking_simulation(n_looks=1, n_experiments=500, rng=1)
    assert np.array_equal(result.p_values, again.p_values)
