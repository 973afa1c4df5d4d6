"""helpers.multi_objective (lesson 8): Pareto fronts and hypervolume on hand-made points, and
rewarded soups built by PEFT against the exact weight interpolation on a toy model."""
import numpy as np
import pytest
import torch

from helpers import multi_objective as mo


def test_the_front_keeps_exactly_the_non_dominated_points():
    points = [(1, 5), (2, 4), (2, 2), (3, 1), (0, 0), (1.5, 4.5), (2, 4)]
    front = mo.pareto_front(points)
    assert [tuple(points[i]) for i in front] == [(1, 5), (1.5, 4.5), (2, 4), (3, 1)]


def test_minimising_an_objective_flips_the_front():
    points = [(1, 5), (2, 4), (3, 6)]
    assert [tuple(points[i]) for i in mo.pareto_front(points, maximise=(True, False))] == [(2, 4), (3, 6)]


def test_hypervolume_of_a_staircase():
    # two points above the reference (0, 0): rectangles 1x3 and 1x1 beyond it: 3 + 1
    assert mo.hypervolume([(1, 3), (2, 1)], reference=(0, 0)) == pytest.approx(4.0)
    assert mo.hypervolume([(1, 3), (2, 1), (0.5, 0.5)], reference=(0, 0)) == pytest.approx(4.0)  # dominated
    assert mo.hypervolume([(-1, 3)], reference=(0, 0)) == 0.0                                 # not beyond it


def test_a_front_that_reaches_further_has_more_hypervolume():
    narrow = [(0.5, 0.5)]
    wide = [(0.5, 0.5), (0.9, 0.2), (0.2, 0.9)]
    assert mo.hypervolume(wide, (0, 0)) > mo.hypervolume(narrow, (0, 0))


def test_bad_points_are_refused():
    with pytest.raises(ValueError, match="two objectives"):
        mo.pareto_front([1, 2, 3])
    with pytest.raises(ValueError, match="finite"):
        mo.hypervolume([(np.nan, 1)], (0, 0))


def toy_lora(seed):
    from peft import LoraConfig, get_peft_model
    from torch import nn

    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["0", "2"]), adapter_name="friendly")
    model.add_adapter("professional", LoraConfig(r=2, lora_alpha=4, target_modules=["0", "2"]))
    torch.manual_seed(seed)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.data.normal_(0, 0.5)   # both adapters non-zero (LoRA's B starts at 0)
    return model


def delta(model, adapter, layer="0"):
    module = dict(model.named_modules())[f"base_model.model.{layer}"]
    return module.get_delta_weight(adapter)


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_a_soup_is_the_weight_interpolation_of_the_two_adapters(weight):
    model = toy_lora(1)
    expected = (1 - weight) * delta(model, "friendly") + weight * delta(model, "professional")
    name = mo.add_soup(model, ("friendly", "professional"), weight)
    assert model.active_adapter == name == f"soup_friendly_professional_{round(100 * weight):03d}"
    assert torch.allclose(delta(model, name), expected, atol=1e-5)
    x = torch.randn(4, 6)
    with torch.no_grad():
        out = model(x)
        model.set_adapter("friendly")
        assert not torch.allclose(out, model(x)) or weight == 0.0


def test_a_soup_never_overwrites_an_adapter():
    model = toy_lora(2)
    mo.add_soup(model, ("friendly", "professional"), 0.5, name="mix")
    with pytest.raises(ValueError, match="already exists"):
        mo.add_soup(model, ("friendly", "professional"), 0.7, name="mix")
    with pytest.raises(ValueError, match="no adapter"):
        mo.add_soup(model, ("friendly", "formal"), 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mo.add_soup(model, ("friendly", "professional"), 1.5)


# --- best-of-n on a pool of (samples, prompts) scores ---------------------------------------

WARM = np.array([[0.9, 0.1], [0.5, 0.6], [0.1, 0.9]])   # 3 samples x 2 prompts
PROF = np.array([[0.1, 0.8], [0.6, 0.5], [0.9, 0.2]])


def test_the_weighted_choice_moves_from_one_objective_to_the_other():
    assert mo.weighted_choice(WARM, PROF, 0.0).tolist() == [0, 2]   # warmest per prompt
    assert mo.weighted_choice(WARM, PROF, 1.0).tolist() == [2, 0]   # most professional per prompt
    assert mo.weighted_choice(WARM, PROF, 0.5)[0] == 1              # with both counting, the balanced reply wins
    with pytest.raises(ValueError, match="weight"):
        mo.weighted_choice(WARM, PROF, 1.5)
    with pytest.raises(ValueError, match="one shape"):
        mo.weighted_choice(WARM, PROF[:, :1], 0.5)


def test_the_constrained_choice_is_the_warmest_pick_that_meets_the_threshold():
    # every combination of picks, brute force: the best mean warmth with mean professionalism >= 0.55
    best = max(((i, j) for i in range(3) for j in range(3) if (PROF[i, 0] + PROF[j, 1]) / 2 >= 0.55),
               key=lambda c: WARM[c[0], 0] + WARM[c[1], 1])
    choice, lam, met = mo.constrained_choice(WARM, PROF, 0.55)
    assert met and lam > 0
    assert (WARM[choice, [0, 1]]).sum() == pytest.approx(WARM[best, [0, 1]].sum())
    assert mo.mean_point(WARM, PROF, choice)[1] >= 0.55


def test_a_slack_constraint_costs_nothing_and_an_impossible_one_is_reported():
    choice, lam, met = mo.constrained_choice(WARM, PROF, 0.0)
    assert met and lam == 0.0 and choice.tolist() == [0, 2]
    choice, lam, met = mo.constrained_choice(WARM, PROF, 0.95)   # the best reachable mean is 0.85
    assert not met and choice.tolist() == [2, 0]


def test_self_similarity_is_one_for_identical_replies_and_lower_for_different_ones():
    same = np.tile([[1.0, 2.0, 0.5]], (4, 1))
    assert mo.self_similarity(same) == pytest.approx(1.0)
    assert mo.self_similarity(np.eye(3)) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        mo.self_similarity(np.ones((1, 3)))


def test_objective_rows_are_equal_sized_chat_rows_from_the_named_sources():
    warm, professional = mo.objective_rows("warm", 16, 0), mo.objective_rows("professional", 16, 0)
    assert len(warm) == len(professional) == 16
    assert all([m["role"] for m in r["messages"]][-1] == "assistant" for r in warm + professional)
    assert mo.objective_rows("warm", 16, 0) == warm                   # seeded
    with pytest.raises(ValueError, match="unknown objective"):
        mo.objective_rows("witty", 4, 0)
    with pytest.raises(ValueError, match="has"):
        mo.objective_rows("professional", 10_000, 0)
