"""Notebook 03 executed headless on `tiny` (standalone: no lesson-2 export): RM quality and probes."""
import pytest

from helpers.core import data
from helpers.rewards import load_reward_model

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def run_03(tiny_or_small, notebook_runs):
    run = notebook_runs("03", profile=tiny_or_small)
    return run.records, run.artifacts / "03_reward_model"


def test_reward_model_is_accurate_on_held_out_pairs(run_03):
    records, _ = run_03
    assert records["rm_val_accuracy"] >= 0.85
    assert records["rm_val_accuracy_after"] >= 0.85
    assert records["judge_val_accuracy"] >= 0.85


def test_the_reward_model_is_right_by_a_margin_and_its_confidence_is_calibrated(run_03):
    records, _ = run_03
    # margins in standard deviations of the RM's held-out scores (a Bradley-Terry RM has no scale)
    assert records["rm_median_margin_sd"] >= 0.5
    # raw sigmoid(margin) is badly under-confident; temperature scaling, fitted on the other half
    # of the held-out pairs, brings the calibration error down by far more than its noise
    assert records["rm_temperature"] < 1
    assert records["rm_calibration_error_scaled"] < 0.5 * records["rm_calibration_error"]


def test_counter_examples_fix_probe_failures(run_03):
    records, _ = run_03
    assert records["probe_pass_rate_after"] > records["probe_pass_rate_before"]
    assert records["probe_pass_rate_after"] >= 0.85


def test_reward_model_agrees_with_human_raters(run_03):
    # same-prompt pairs from lesson 2's Likert ratings, never trained on; chance is 0.5
    assert run_03[0]["rm_human_pair_agreement"] >= 0.7


def test_saved_models_score_through_the_api(run_03):
    _, out = run_03
    rows = data.load_empathy_pairs("test")[:20]
    for name in ("reward_model", "judge"):
        rm = load_reward_model(out / name)
        assert rm.accuracy(rows) >= 0.8


def test_figures_show_inline(run_03):
    assert run_03[0]["inline_figures"] >= 1


def test_the_independent_judge_shares_no_data_with_the_reward_model_and_follows_it_less(run_03):
    records, _ = run_03
    assert records["independent_judge_shared_complaints"] == 0
    # it ranks held-out pairs it never saw well above chance (0.5)...
    assert records["independent_judge_pair_accuracy"] >= 0.7
    # ...while its margins follow the RM's far less than the second RM's do
    assert records["rm_independent_judge_correlation_ci_high"] < records["rm_judge_correlation_ci_low"]
