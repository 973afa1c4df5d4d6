"""Notebook 02 executed headless on `tiny`: agreement, position bias, and the exported pairs."""
import krippendorff
import pytest
from datasets import load_from_disk

from helpers.core import data
from helpers.preferences import reliability_matrix

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def run_02(tiny_or_small, notebook_runs):
    run = notebook_runs("02", profile=tiny_or_small)
    return run.records, run.artifacts / "02_preference_labeling"


def test_alpha_matches_established_implementation(run_02):
    records, _ = run_02
    _, ratings = data.load_likert()
    for trait in ("empathy", "professionalism"):
        expected = krippendorff.alpha(reliability_data=reliability_matrix(ratings, trait)[0],
                                      level_of_measurement="ordinal")
        assert records[f"krippendorff_alpha_{trait}"] == pytest.approx(expected, abs=1e-6)


def test_position_bias_is_detected(run_02):
    records, _ = run_02
    assert 0.35 <= records["left_win_rate"] <= 0.65  # randomised order, unbiased raters
    assert records["left_win_rate_left_clicker"] >= 0.75


def test_the_biased_rater_is_flagged_and_left_out_of_the_vote(run_02):
    records, _ = run_02
    assert records["n_raters_flagged"] == 1
    assert records["krippendorff_alpha_pairwise_without_flagged"] > records["krippendorff_alpha_pairwise"] + 0.15
    for key in ("majority_agreement_with_expert", "majority_agreement_with_expert_all_raters"):
        assert records[f"{key}_ci_low"] < records[key] < records[f"{key}_ci_high"]
    assert records["majority_agreement_with_expert"] >= 0.9
    assert records["majority_agreement_with_expert"] > records["majority_agreement_with_expert_all_raters"]


def test_same_raters_agree_as_much_pairwise_as_on_the_scale(run_02):
    records = run_02[0]
    assert abs(records["krippendorff_alpha_likert_as_pairwise"] - records["krippendorff_alpha_empathy"]) < 0.1


def test_split_votes_are_adjudicated_with_the_expert_winner(run_02):
    records, out = run_02
    dataset = load_from_disk(str(out / "empathy_preferences"))
    expert = {(p["prompt"], p["chosen"], p["rejected"]) for p in data.load_empathy_pairs("train")}
    adjudicated = [row for row in dataset if row["source"] == "adjudicated"]
    assert len(adjudicated) == records["n_adjudicated"] >= 1
    assert all((row["prompt"], row["chosen"], row["rejected"]) in expert for row in adjudicated)


def test_real_annotators_disagree_on_some_requests(run_02):
    assert 0.02 <= run_02[0]["politeness_contested_share"] <= 0.3


def test_export_is_trl_format_and_counted(run_02):
    records, out = run_02
    dataset = load_from_disk(str(out / "empathy_preferences"))
    assert {"prompt", "chosen", "rejected", "margin", "source"} <= set(dataset.column_names)
    assert len(dataset) == records["n_pairs_exported"] >= 250
    assert records["n_likert_pairs"] >= 40
    assert all(c != r for c, r in zip(dataset["chosen"], dataset["rejected"]))


def test_figures_show_inline(run_02):
    assert run_02[0]["inline_figures"] >= 1
