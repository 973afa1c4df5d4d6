"""The router's grouped mixed-adapter LoRA path against PEFT's own (helpers.serving.lora_batching)."""
import pytest
import torch
from peft import PeftModel

from serving_support import STYLES

from helpers import get_profile
from helpers.core import models
from helpers.serving import lora_batching
from helpers.serving.random_adapters import make_random_adapters



@pytest.fixture(scope="module")
def model(tmp_path_factory):
    profile = get_profile("tiny")
    base = models.base_model_path(profile)
    folders = make_random_adapters(base, tmp_path_factory.mktemp("adapters"), STYLES, seed=5, profile=profile)
    peft_model = PeftModel.from_pretrained(models.load_causal_lm(base, profile), str(folders[STYLES[0]]),
                                           adapter_name=STYLES[0])
    for style in STYLES[1:]:
        peft_model.load_adapter(str(folders[style]), adapter_name=style)
    return peft_model.eval()


def logits(model, names, ids):
    with torch.no_grad():
        return model(input_ids=ids, adapter_names=names).logits


@pytest.mark.parametrize("names", [
    ["__base__"] * 2 + ["news_brief"] * 2 + ["feature_story"] * 2 + ["social_ad"] * 2,  # equal runs: one bmm
    ["social_ad"] * 3 + ["__base__"] + ["news_brief"] * 4,                               # unequal runs
    ["news_brief", "social_ad", "news_brief", "__base__"],                              # not grouped: PEFT's path
])
def test_grouped_forward_equals_peft(model, names):
    ids = torch.randint(5, 200, (len(names), 7), generator=torch.Generator().manual_seed(0))
    expected = logits(model, names, ids)
    assert lora_batching.install(model) > 0
    try:
        got = logits(model, names, ids)
    finally:
        lora_batching.uninstall(model)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    with model.disable_adapter():  # the adapters matter, so equality is not trivial
        with torch.no_grad():
            plain = model(input_ids=ids).logits
    adapted = [i for i, n in enumerate(names) if n != "__base__"]
    assert (plain[adapted] - expected[adapted]).abs().max() > 1e-2


def test_runs_finds_contiguous_groups_only():
    assert lora_batching.runs(("a", "a", "b")) == (("a", 0, 2), ("b", 2, 3))
    assert lora_batching.runs(("a", "b", "a")) is None


def test_a_weight_changed_after_install_is_used(model):
    names = ["news_brief"] * 2 + ["social_ad"] * 2
    ids = torch.randint(5, 200, (4, 5), generator=torch.Generator().manual_seed(1))
    lora_batching.install(model)
    try:
        before = logits(model, names, ids)
        layer = next(m for m in model.modules() if hasattr(m, "_grouped_lora_cache"))
        with torch.no_grad():
            layer.lora_B["social_ad"].weight.mul_(3.0)  # an optimizer step changes weights in place
        after = logits(model, names, ids)
        lora_batching.uninstall(model)
        torch.testing.assert_close(after, logits(model, names, ids), rtol=1e-4, atol=1e-4)
        assert not torch.allclose(before[2:], after[2:])
    finally:
        with torch.no_grad():
            layer.lora_B["social_ad"].weight.div_(3.0)
        lora_batching.uninstall(model)

