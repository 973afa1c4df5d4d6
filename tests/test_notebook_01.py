"""Notebook 01 executed headless on `tiny`; its records must show the effect of SFT."""
import pytest

from helpers import read_records, runner

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def records_01(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nb01")
    return read_records(runner.execute("01", tmp / "run", tmp / "artifacts", seed=0))


def test_sft_makes_replies_formal(records_01):
    r = records_01
    assert r["formality_sft"] - r["formality_base"] >= 0.2, r
    assert r["formality_sft"] >= 0.7


def test_training_loss_fell(records_01):
    assert records_01["train_loss_last"] < records_01["train_loss_first"] - 0.8


def test_content_and_fluency_did_not_collapse(records_01):
    r = records_01
    assert r["content_sim_sft"] >= r["content_sim_base"] - 0.05
    assert r["content_sim_sft"] >= 0.25
    assert r["distinct2_sft"] >= 0.3  # no collapse onto one stock reply
    assert r["perplexity_sft"] < 10 * r["perplexity_base"]


def test_same_seed_same_records(records_01, tmp_path):
    again = read_records(runner.execute("01", tmp_path / "run", tmp_path / "artifacts", seed=0))
    assert again == records_01
