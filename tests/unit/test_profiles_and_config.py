import pytest
from trl import DPOConfig, SFTConfig

from helpers import get_profile
from helpers.core.profiles import PROFILES
from helpers.core.trl_configs import trl_config
from helpers.workbook.env_check import out_of_range


def test_profiles_exist_with_the_right_precision():
    assert set(PROFILES) >= {"tiny", "colab", "gpu"}
    assert get_profile("tiny").use_cpu and get_profile("tiny").precision == "fp32"
    assert get_profile("colab").precision == "fp16"  # a T4 has no bf16
    assert get_profile("gpu").load_in_4bit and get_profile("gpu").use_lora


def test_unknown_profile_lists_choices():
    with pytest.raises(ValueError, match="colab"):
        get_profile("laptop")


def test_trl_config_applies_tiny_profile(tmp_path):
    cfg = trl_config(SFTConfig, get_profile("tiny"), tmp_path, seed=3, learning_rate=5e-4)
    assert cfg.use_cpu and not cfg.bf16 and not cfg.fp16
    assert cfg.seed == 3 and cfg.learning_rate == 5e-4 and cfg.report_to in ("none", [], ["none"])
    dpo = trl_config(DPOConfig, get_profile("tiny"), tmp_path, seed=0, beta=0.2)
    assert dpo.beta == 0.2 and dpo.use_cpu


def test_version_check_flags_outside_range():
    assert out_of_range({"trl": "1.16.0", "transformers": "5.24.0"}) == []
    problems = out_of_range({"trl": "2.1.0", "transformers": "4.40.0"})
    assert len(problems) == 2 and any("trl 2.1.0" in p for p in problems)


def test_small_and_colab_differ_only_in_model_precision_device_and_sizes():
    small, colab = PROFILES["small"].flat(), PROFILES["colab"].flat()
    differ = {k for k in small if small[k] != colab[k]}
    sizes = {"batch_size", "grad_accum", "max_length", "max_new_tokens", "gen_batch_size", "eval_size",
             "rl.steps", "rl.batch_size", "rl.max_new_tokens", "rl.baseline_prompts", "rl.eval_prompts",
             "rl.budget_seeds", "dpo.eval_pairs", "dpo.epochs", "dpo.betas", "style.dpo_epochs"}
    assert differ <= {"name", "policy_model", "judge_model", "precision", "use_cpu"} | sizes, differ
    assert {"name", "policy_model", "precision", "use_cpu"} <= differ


def test_small_precision_follows_the_cpu(monkeypatch):
    import torch

    from helpers.core import profiles

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert get_profile("small").precision == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert get_profile("small").precision == "bf16"
    assert profiles.PROFILES["small"].precision == profiles.CPU_AUTO
    cfg = trl_config(SFTConfig, get_profile("small"), "/tmp/unused", seed=0)
    assert cfg.use_cpu and cfg.bf16  # TRL runs CPU bf16 as autocast


def test_runtime_pins_threads(monkeypatch):
    import torch

    from helpers import set_seed
    from helpers.core import runtime

    monkeypatch.setenv(runtime.THREADS_VAR, "1")
    before = torch.get_num_threads()
    try:
        set_seed(0)
        assert torch.get_num_threads() == 1
        env = runtime.environment()
        assert env["MKL_DYNAMIC"] == "FALSE" and env["OMP_NUM_THREADS"] == "1" and env["HF_HUB_OFFLINE"] == "1"
    finally:
        torch.set_num_threads(before)


def test_each_lesson_has_one_config_with_its_defaults_in_one_place():
    from dataclasses import fields

    from helpers.core import profiles

    tiny = get_profile("tiny")
    for group, config_class in profiles.LESSON_CONFIGS.items():
        assert isinstance(getattr(tiny, group), config_class), group
    assert profiles.Profile(name="x", policy_model="m", encoder_model="e", precision="fp32", use_cpu=True).rl == \
        profiles.OnlineRLConfig()  # a profile that says nothing about a lesson gets that lesson's defaults
    flat = tiny.flat()
    assert flat["rl.target_kl"] == tiny.rl.target_kl and "rl" not in flat
    assert len(flat) == len(fields(tiny)) - len(profiles.LESSON_CONFIGS) + sum(
        len(fields(c)) for c in profiles.LESSON_CONFIGS.values())


def test_overrides_reach_into_a_lessons_config_and_leave_the_rest():
    tiny = get_profile("tiny")
    changed = tiny.with_overrides(rl={"target_kl": 3.0}, max_new_tokens=10)
    assert changed.rl.target_kl == 3.0 and changed.rl.beta == tiny.rl.beta and changed.max_new_tokens == 10
    assert tiny.rl.target_kl == 10.0  # the profile itself is unchanged
    with pytest.raises(TypeError):
        tiny.with_overrides(rl={"no_such_setting": 1})


def test_ppo_config_takes_its_settings_from_the_profile():
    from helpers import ppo

    P = get_profile("small")
    config = ppo.PPOConfig.from_profile(P, seed=4, beta=0.0)
    assert (config.learning_rate, config.temperature, config.batch_size, config.max_new_tokens, config.ppo_epochs) == (
        P.rl.learning_rate, P.rl.temperature, P.rl.batch_size, P.rl.max_new_tokens, P.rl.ppo_epochs)
    assert config.beta == 0.0 and config.seed == 4
