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
