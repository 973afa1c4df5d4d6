"""Notebook 06 executed headless: three LoRA style adapters on one base, the router, the A/B test.

On `tiny` (every test run) the whole lesson; on `small` (a real model, markers ``small`` and
``long``: about 11 minutes, so CI leaves it to ``tasks.py test --profile small``) the bars of
the style adapters: each writes its own style on held-out sheets, the base does not, and each
adapter's texts are about their own fact sheet; and the A/B test's intervals are over texts."""
import pytest
from safetensors.torch import load_file

from helpers import get_profile, multi_style
from helpers.serving.router import GENERIC, StyleRequest, StyleRouter, adapter_folders

pytestmark = pytest.mark.notebook

STYLES = multi_style.STYLES


@pytest.fixture(scope="module")
def run_06(notebook_runs):
    run = notebook_runs("06")
    return run.records, run.artifacts / "06_multi_style_lora" / "adapters"


@pytest.fixture(scope="module")
def records_06_small(notebook_runs):
    return notebook_runs("06", profile="small", chain="small").records


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


def _check_ab_test(records):
    """What must hold for a sound A/B pipeline on any profile (whatever the lifts come out as)."""
    assert records["ab_texts_per_arm"] == len(multi_style.load_style_sheets("test"))
    covered = 0
    for style in STYLES:
        lift, low, high = (records[f"ab_lift_{k}{style}"] for k in ("", "ci_low_", "ci_high_"))
        naive_low, naive_high = records[f"ab_lift_naive_ci_low_{style}"], records[f"ab_lift_naive_ci_high_{style}"]
        boot_low, boot_high = records[f"ab_lift_bootstrap_ci_low_{style}"], records[f"ab_lift_bootstrap_ci_high_{style}"]
        design_effect = records[f"ab_design_effect_{style}"]
        assert low < lift < high and naive_low < lift < naive_high and boot_low < lift < boot_high, style
        # thousands of readers per text: the texts' own appeal must show up as a design effect,
        # and the interval over texts must be wider than the naive one by about its square root
        assert design_effect > 2, (style, design_effect)
        ratio = (high - low) / (naive_high - naive_low)
        assert 0.7 * design_effect**0.5 < ratio < 1.6 * design_effect**0.5, (style, ratio, design_effect)
        assert max(low, boot_low) < min(high, boot_high), style  # the two cluster intervals overlap
        assert (records[f"ab_relative_lift_ci_low_{style}"] < records[f"ab_relative_lift_{style}"]
                < records[f"ab_relative_lift_ci_high_{style}"]), style
        assert records[f"ab_time_lift_ci_low_{style}"] < records[f"ab_time_lift_{style}"] < records[f"ab_time_lift_ci_high_{style}"]
        assert 0 < records[f"ab_planned_power_{style}"] < 1
        covered += low <= records[f"ab_true_lift_{style}"] <= high
    assert covered >= 2, covered  # each 95% interval covers the simulated truth; missing two of three is a broken pipeline


def test_ab_test_intervals_are_over_texts_and_peeking_inflates_false_alarms(run_06):
    records, _ = run_06
    _check_ab_test(records)
    # on tiny the base model loops ("new new new ..."), which every reader leaves; the news and
    # magazine adapters' texts loop less and carry their channel's markers
    for style in ("news_brief", "feature_story"):
        assert records[f"ab_true_lift_{style}"] > 0.005, style
    assert records["single_look_false_positive_rate_ci_high"] < 0.1
    assert records["peeking_false_positive_rate_ci_low"] > 2 * records["single_look_false_positive_rate_ci_high"]


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
        prompt = multi_style.style_prompt(multi_style.load_style_sheets("test")[0])
        replies = router.generate([StyleRequest(s, prompt) for s in (*STYLES, GENERIC)])
    finally:
        router.close()
    assert len(set(replies)) == len(replies), replies


def _check_intervals(records):
    for name in STYLES + (GENERIC,):
        key = f"style_accuracy_{name}"
        assert records[f"{key}_ci_low"] <= records[key] <= records[f"{key}_ci_high"], key
    for name in STYLES:
        gap = records[f"content_gap_{name}"]
        assert records[f"content_gap_{name}_ci_low"] <= gap <= records[f"content_gap_{name}_ci_high"], name
        assert gap == pytest.approx(records[f"content_sim_{name}"] - records[f"content_sim_other_sheet_{name}"], abs=1e-3)


def test_style_accuracy_and_content_gaps_carry_intervals(run_06):
    _check_intervals(run_06[0])


def test_lesson_6_saves_its_held_out_replies_for_lesson_7(run_06):
    from helpers.workbook import upstream

    _, adapters = run_06
    saved = upstream.load_policy_replies(adapters.parent.parent, "06_multi_style_lora")
    assert saved["baseline"] == GENERIC and set(saved["policies"]) == set(STYLES) | {GENERIC}
    assert all(len(p["replies"]) == len(saved["prompts"]) for p in saved["policies"].values())


@pytest.mark.small
@pytest.mark.long
def test_small_adapters_write_their_style_and_the_base_does_not(records_06_small):
    r = records_06_small
    accuracies = {s: r[f"style_accuracy_{s}"] for s in STYLES}
    assert min(accuracies.values()) >= 0.8, accuracies
    assert r["style_accuracy_generic"] <= min(accuracies.values()) - 0.3, (r["style_accuracy_generic"], accuracies)


@pytest.mark.small
@pytest.mark.long
def test_small_adapters_write_about_their_own_facts(records_06_small):
    r = records_06_small
    for style in STYLES:
        gap = r[f"content_sim_{style}"] - r[f"content_sim_other_sheet_{style}"]
        assert gap >= 0.1, (style, gap)
    _check_intervals(r)


@pytest.mark.small
@pytest.mark.long
def test_small_ab_test_intervals_are_over_texts(records_06_small):
    _check_ab_test(records_06_small)
