"""Notebook 06 executed headless: three LoRA style adapters on one base, the router, the A/B test.

On `tiny` (every test run) the whole lesson; on `small` (a real model, marker ``small``) the bars of
the style adapters: each writes its own style on held-out sheets, the base does not, and each
adapter's texts are about their own fact sheet."""
import pytest
from safetensors.torch import load_file

from helpers import get_profile, runner, styles
from helpers.router import GENERIC, StyleRequest, StyleRouter, adapter_folders

pytestmark = pytest.mark.notebook

STYLES = styles.STYLES


@pytest.fixture(scope="module")
def run_06(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nb06")
    records = runner.run_for_records("06", tmp / "run", tmp / "artifacts")
    return records, tmp / "artifacts" / "06_multi_style_lora" / "adapters"


@pytest.fixture(scope="module")
def records_06_small(tmp_path_factory, small_artifacts):
    return runner.run_for_records("06", tmp_path_factory.mktemp("nb06_small"), small_artifacts, profile="small")


def test_figures_show_inline(run_06):
    assert run_06[0]["inline_figures"] >= 1


def test_each_adapter_writes_in_its_style(run_06):
    records, _ = run_06
    generic = records["style_accuracy_generic"]
    assert generic <= 0.5  # the base model cannot know which style is asked for
    for style in STYLES:
        accuracy = records[f"style_accuracy_{style}"]
        assert accuracy >= 0.8, (style, accuracy)
        assert accuracy >= generic + 0.3, (style, accuracy, generic)


def test_mixed_batching_is_faster_than_single_calls(run_06):
    records, _ = run_06
    assert records["router_mixed_rps"] > records["router_single_rps"]


def test_ab_test_finds_a_lift_and_peeking_inflates_false_alarms(run_06):
    records, _ = run_06
    for style in STYLES:
        assert records[f"ab_lift_ci_low_{style}"] > 0, style
    assert records["single_look_false_positive_rate"] < 0.1
    assert records["peeking_false_positive_rate"] > 2 * records["single_look_false_positive_rate"]


def test_three_adapters_saved_separately_and_different(run_06):
    _, adapters = run_06
    folders = adapter_folders(adapters)
    assert set(folders) == set(STYLES)
    weights = {style: load_file(folder / "adapter_model.safetensors") for style, folder in folders.items()}
    names = set(weights[STYLES[0]])
    assert names and all(set(w) == names for w in weights.values()), "one adapter per folder, same LoRA layout"
    for i, a in enumerate(STYLES):
        for b in STYLES[i + 1:]:
            assert any(not weights[a][n].equal(weights[b][n]) for n in names), (a, b)

    router = StyleRouter.from_folder(adapters, profile=get_profile("tiny"), max_prompt_tokens=64,
                                     default_max_new_tokens=32)
    try:
        prompt = styles.style_prompt(styles.load_style_sheets("test")[0])
        replies = router.generate([StyleRequest(s, prompt) for s in (*STYLES, GENERIC)])
    finally:
        router.close()
    assert len(set(replies)) == len(replies), replies


@pytest.mark.small
def test_small_adapters_write_their_style_and_the_base_does_not(records_06_small):
    r = records_06_small
    accuracies = {s: r[f"style_accuracy_{s}"] for s in STYLES}
    assert min(accuracies.values()) >= 0.8, accuracies
    assert r["style_accuracy_generic"] <= min(accuracies.values()) - 0.3, (r["style_accuracy_generic"], accuracies)


@pytest.mark.small
def test_small_adapters_write_about_their_own_facts(records_06_small):
    r = records_06_small
    for style in STYLES:
        gap = r[f"content_sim_{style}"] - r[f"content_sim_other_sheet_{style}"]
        assert gap >= 0.1, (style, gap)
