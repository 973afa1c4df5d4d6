"""Properties of the A/B statistics over arbitrary arms (Hypothesis): intervals contain the
estimate, stay in range and mirror when the arms swap; p-values are probabilities."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import abtest

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
