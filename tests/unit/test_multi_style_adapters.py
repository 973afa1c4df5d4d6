"""Training one style's adapter: SFT warm start + DPO in one LoRA adapter, the base as reference."""
import pytest
import torch

from helpers import get_profile, multi_style
from helpers.core import models
from helpers.multi_style import drop_reference_copy, save_style_adapter, train_style_adapter

TINY = get_profile("tiny")


@pytest.fixture(scope="module")
def sheets():
    return multi_style.load_style_sheets("train")[:2]


@pytest.mark.parametrize("kwargs, message", [
    (dict(style="haiku"), "unknown style 'haiku'"),
    (dict(style="generic"), "unknown style 'generic'"),
    (dict(reference="policy"), "unknown reference 'policy'"),
    (dict(sheets=[]), "no fact sheets"),
    (dict(sft_epochs=0, dpo_epochs=0), "nothing to train"),
])
def test_bad_arguments_are_refused_before_training(tmp_path, sheets, kwargs, message):
    args = dict(style="news_brief", sheets=sheets, profile=TINY, output_dir=tmp_path, seed=0) | kwargs
    with pytest.raises(ValueError, match=message):
        train_style_adapter(**args)


def test_drop_reference_copy_leaves_the_style_adapter_active():
    from peft import get_peft_model

    model = get_peft_model(models.load_base(TINY)[0], models.lora_config(TINY, always=True))
    model.add_adapter("ref", model.peft_config["default"])
    assert drop_reference_copy(model)
    assert list(model.peft_config) == ["default"] and model.active_adapter == "default"
    assert not drop_reference_copy(model)


@pytest.fixture(scope="module")
def run(tmp_path_factory, sheets):
    """A few steps of both stages on two sheets (6 pairs): enough to check the plumbing."""
    small = TINY.with_overrides(batch_size=4, style={"max_length": 96})
    return train_style_adapter("social_ad", sheets, small, tmp_path_factory.mktemp("train"), seed=0,
                               sft_epochs=1, dpo_epochs=1)


def test_sft_then_dpo_train_one_adapter_against_the_base(run):
    assert run.sft_log and run.dpo_log
    assert any("rewards/margins" in row for row in run.dpo_log)
    # one adapter, no frozen "ref" copy: the DPO reference was the base (adapter disabled)
    assert list(run.model.peft_config) == ["default"]
    base = models.load_base(TINY)[0].state_dict()
    for name, tensor in run.model.named_parameters():
        if "lora_" in name:
            continue
        key = name.replace("base_model.model.", "").replace(".base_layer", "")
        assert torch.equal(tensor, base[key]), f"base weight {key} changed"
    lora_b = [p for n, p in run.model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b), "LoRA B starts at zero and must have trained"


def test_save_keeps_an_earlier_adapter_aside(run, tmp_path):
    first = save_style_adapter(run, tmp_path / "adapters")
    assert first == tmp_path / "adapters" / "social_ad" and (first / "adapter_config.json").exists()
    save_style_adapter(run, tmp_path / "adapters")
    assert (tmp_path / "adapters" / "social_ad.previous-1" / "adapter_config.json").exists()
    from helpers.serving.router import adapter_folders
    assert list(adapter_folders(tmp_path / "adapters")) == ["social_ad"]


def test_sft_reference_keeps_trls_copy_only_while_training(tmp_path, sheets):
    small = TINY.with_overrides(batch_size=4, style={"max_length": 96})
    run = train_style_adapter("news_brief", sheets, small, tmp_path, seed=0, reference="sft",
                              sft_epochs=1, dpo_epochs=1)
    assert list(run.model.peft_config) == ["default"]
    assert (save_style_adapter(run, tmp_path / "adapters") / "adapter_config.json").exists()
