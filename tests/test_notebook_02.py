"""Notebook 02 executed headless on `tiny`: agreement, position bias, and the exported pairs."""
import krippendorff
import pytest
from datasets import load_from_disk

from helpers import data, runner
from helpers.preferences import reliability_matrix

pytestmark = pytest.mark.notebook


# the lesson does not read the profile: `small` repeats `tiny` (so it runs only with `--profile small`)
@pytest.fixture(scope="module", params=["tiny", pytest.param("small", marks=[pytest.mark.small, pytest.mark.long])])
def run_02(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"nb02-{request.param}")
    records = runner.run_for_records("02", tmp / "run", tmp / "artifacts", profile=request.param)
    return records, tmp / "artifacts" / "02_preference_labeling"


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


def test_majority_vote_recovers_expert_labels(run_02):
    assert run_02[0]["majority_agreement_with_expert"] >= 0.8


def test_export_is_trl_format_and_counted(run_02):
    records, out = run_02
    dataset = load_from_disk(str(out / "empathy_preferences"))
    assert {"prompt", "chosen", "rejected", "margin", "source"} <= set(dataset.column_names)
    assert len(dataset) == records["n_pairs_exported"] >= 250
    assert records["n_likert_pairs"] >= 40
    assert all(c != r for c, r in zip(dataset["chosen"], dataset["rejected"]))


def test_figures_show_inline(run_02):
    assert run_02[0]["inline_figures"] >= 1
