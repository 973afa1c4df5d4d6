"""Training chat templates: the assistant's tokens are marked, prompts render exactly as before."""
import pytest

from helpers import get_profile
from helpers.core import chat_templates, models

CONVERSATIONS = [
    [{"role": "user", "content": "My order WS-6158 never arrived."}],
    [{"role": "system", "content": "You are a support agent."}, {"role": "user", "content": "Refund please."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Where is my parcel?\nIt is late."}],
]


@pytest.fixture(scope="module")
def small_tokenizer():
    from transformers import AutoTokenizer

    path = models.base_model_path(get_profile("small"))
    return AutoTokenizer.from_pretrained(path), models.load_tokenizer(path)


def test_small_tokenizer_gets_a_training_template(small_tokenizer):
    original, patched = small_tokenizer
    assert not chat_templates.has_generation_markers(original.chat_template)
    assert chat_templates.has_generation_markers(patched.chat_template)
    assert patched.pad_token != patched.eos_token == "<|im_end|>"  # eos must stay in the loss


@pytest.mark.parametrize("conversation", CONVERSATIONS)
def test_prompts_render_token_identical(small_tokenizer, conversation):
    original, patched = small_tokenizer
    for kwargs in ({"add_generation_prompt": True}, {"add_generation_prompt": False}):
        a = original.apply_chat_template(conversation, tokenize=False, **kwargs)
        b = patched.apply_chat_template(conversation, tokenize=False, **kwargs)
        assert a == b
        assert original(a, add_special_tokens=False)["input_ids"] == patched(b, add_special_tokens=False)["input_ids"]


def test_assistant_mask_covers_the_reply_and_its_end_of_turn(small_tokenizer):
    _, tok = small_tokenizer
    conversation = [{"role": "user", "content": "Where is my parcel?"},
                    {"role": "assistant", "content": "Dear Ms Quinn, it ships today."}]
    enc = tok.apply_chat_template(conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    marked = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tok.decode(marked) == "Dear Ms Quinn, it ships today.<|im_end|>"


def test_unknown_templates_are_left_alone():
    assert chat_templates.training_template("{{ messages[0]['content'] }}") is None
    marked = "{% generation %}{{ x }}{% endgeneration %}"
    assert chat_templates.training_template(marked) == marked


def test_gpu_profile_model_has_a_template_trl_patches():
    # the gpu profile's model (Qwen2.5 instruct) is patched by TRL itself; prompts render the same
    from trl import chat_template_utils as ctu

    assert "Qwen2.5" in get_profile("gpu").policy_model
    assert chat_templates.training_template(ctu.qwen2_5_chat_template) is None
    assert chat_templates.has_generation_markers(ctu.qwen2_5_training_chat_template)


@pytest.mark.parametrize("conversation", CONVERSATIONS)
def test_trl_qwen_training_template_renders_prompts_identically(small_tokenizer, conversation):
    from trl import chat_template_utils as ctu

    _, tok = small_tokenizer
    render = lambda template: tok.apply_chat_template(conversation, chat_template=template, tokenize=False,
                                                       add_generation_prompt=True)
    assert render(ctu.qwen2_5_chat_template) == render(ctu.qwen2_5_training_chat_template)
