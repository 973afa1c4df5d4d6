"""Properties of the A/B statistics over arbitrary arms (Hypothesis): intervals contain the
estimate, stay in range and mirror when the arms swap; p-values are probabilities; the same for
the cluster-robust lift over arbitrary texts and impressions per text."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.metrics import abtest

CLICKS = st.lists(st.integers(0, 1), min_size=2, max_size=400)
SECONDS = st.lists(st.floats(0.1, 600, allow_nan=False), min_size=2, max_size=200)


@settings(max_examples=200, deadline=None)
@given(control=CLICKS, treatment=CLICKS, method=st.sampled_from(["newcombe", "wald"]))
def test_click_lift_is_a_probability_statement_that_mirrors(control, treatment, method):
    result = abtest.lift(np.array(control), np.array(treatment), "click", method=method)
    swapped = abtest.lift(np.array(treatment), np.array(control), "click", method=method)
    assert 0.0 <= result.p_value <= 1.0 and result.p_value == pytest.approx(swapped.p_value)
    assert result.ci_low - 1e-12 <= result.absolute <= result.ci_high + 1e-12
    assert swapped.absolute == pytest.approx(-result.absolute)
    assert (swapped.ci_low, swapped.ci_high) == pytest.approx((-result.ci_high, -result.ci_low), abs=1e-12)
    if method == "newcombe":
        assert -1 - 1e-12 <= result.ci_low and result.ci_high <= 1 + 1e-12


@settings(max_examples=150, deadline=None)
@given(control=SECONDS, treatment=SECONDS)
def test_time_lift_is_finite_for_any_arms_even_constant_ones(control, treatment):
    result = abtest.lift(np.array(control), np.array(treatment), "time_spent")
    assert 0.0 <= result.p_value <= 1.0
    assert all(math.isfinite(v) for v in (result.absolute, result.ci_low, result.ci_high))
    assert result.ci_low - 1e-9 <= result.absolute <= result.ci_high + 1e-9


def test_identical_arms_show_no_difference():
    same = np.array([0, 1, 1, 0, 1])
    assert abtest.lift(same, same, "click").p_value == 1.0
    assert abtest.lift(np.full(5, 3.0), np.full(5, 3.0), "time_spent").p_value == 1.0


@pytest.mark.parametrize("bad", [[1.0, float("nan")], [2.0, float("inf")]])
def test_non_finite_times_are_refused(bad):
    with pytest.raises(ValueError, match="finite"):
        abtest.lift(np.array(bad), np.array([1.0, 2.0]), "time_spent")


@st.composite
def clustered_arm(draw, metric):
    """An arm of 2-8 texts, each with 1-30 impressions of clicks or seconds."""
    sizes = draw(st.lists(st.integers(1, 30), min_size=2, max_size=8))
    value = st.integers(0, 1) if metric == "click" else st.floats(0.1, 600, allow_nan=False)
    values = draw(st.lists(value, min_size=sum(sizes), max_size=sum(sizes)))
    return {metric: np.array(values, dtype=float), "text": np.repeat(np.arange(len(sizes)), sizes)}


@settings(max_examples=150, deadline=None)
@given(data=st.data(), metric=st.sampled_from(["click", "time_spent"]), method=st.sampled_from(["t", "bootstrap"]))
def test_cluster_lift_contains_its_estimate_and_is_a_probability_statement(data, metric, method):
    control, treatment = data.draw(clustered_arm(metric)), data.draw(clustered_arm(metric))
    result = abtest.cluster_lift(control, treatment, metric, method=method, n_boot=200, rng=0)
    assert 0.0 <= result.p_value <= 1.0 and 0.0 <= result.icc <= 1.0 and result.design_effect >= 1.0
    assert result.ci_low - 1e-9 <= result.absolute <= result.ci_high + 1e-9
    assert result.absolute == pytest.approx(abtest.lift(control, treatment, metric).absolute)
    if method == "t":  # a closed form: swapping the arms mirrors it exactly
        swapped = abtest.cluster_lift(treatment, control, metric, method="t")
        assert (swapped.ci_low, swapped.ci_high) == pytest.approx((-result.ci_high, -result.ci_low), abs=1e-9)
        assert swapped.p_value == pytest.approx(result.p_value)
