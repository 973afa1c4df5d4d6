"""Notebook 08 executed headless: three Pareto fronts (weighted and constrained best-of-n, rewarded
soups), their hypervolumes and the refusal trap. `tiny` checks the machinery (its replies are
not English, so nothing is refused); `small` runs under the `small` marker."""
import pytest


pytestmark = pytest.mark.notebook

METHODS = ("weighted", "constrained", "soup")


@pytest.fixture(scope="module")
def run_08(tiny_or_small, notebook_runs):
    return notebook_runs("08", profile=tiny_or_small).records


def test_every_method_evaluates_at_least_five_trade_offs(run_08):
    for method in METHODS:
        assert run_08[f"evaluated_points_{method}"] >= 5, method
        assert 1 <= run_08[f"front_points_{method}"] <= run_08[f"evaluated_points_{method}"], method


def test_the_soup_front_comes_from_two_adapters_and_their_mixes(run_08):
    assert run_08["soup_adapters"] == ["professional", "warm"]
    assert run_08["soup_points"] == 5


def test_hypervolumes_are_positive_and_the_winner_is_the_largest(run_08):
    volumes = {m: run_08[f"pareto_hypervolume_{m}"] for m in METHODS}
    assert all(v > 0 for v in volumes.values()), volumes
    names = {"weighted": "weighted best-of-n", "constrained": "constrained best-of-n", "soup": "rewarded soups"}
    assert run_08["front_winner"] == names[max(volumes, key=volumes.get)]


def test_the_tension_carries_an_interval(run_08):
    assert run_08["objective_spearman_ci_low"] <= run_08["objective_spearman"] <= run_08["objective_spearman_ci_high"]
    assert run_08["objective_spearman_ci_high"] > run_08["objective_spearman_ci_low"]


def test_the_refusal_measurements_are_sound(run_08):
    assert run_08["refusal_detector_accuracy"] >= 0.85
    # the counter-examples are in the retrained reward model's data: it must rank the held-out ones
    assert run_08["counterexample_accuracy_after"] >= 0.8
    for kind in ("reasonable", "unreasonable"):
        before, after = run_08[f"{kind}_refusal_rate_before"], run_08[f"{kind}_refusal_rate_after"]
        assert 0 <= before <= 1 and 0 <= after <= 1
        assert run_08[f"{kind}_refusal_change"] == pytest.approx(after - before)
        assert run_08[f"{kind}_refusal_change_ci_low"] <= run_08[f"{kind}_refusal_change"] <= run_08[f"{kind}_refusal_change_ci_high"]


def test_figures_show_inline(run_08):
    assert run_08["inline_figures"] >= 2
