"""helpers.core.generation: prompts through the chat template, left-padded batches, and greedy
replies that do not depend on their batch mates."""
import pytest

from helpers import get_profile
from helpers.core import generation, models

PROMPTS = ["Where is my parcel?", [{"role": "user", "content": "You charged me twice for one order, please fix it."}]]


@pytest.fixture(scope="module")
def tiny():
    return models.load_base(get_profile("tiny"))


def test_chat_texts_are_the_templates_generation_prompt(tiny):
    _, tok = tiny
    texts = generation.chat_texts(tok, PROMPTS)
    assert texts[0] == tok.apply_chat_template([{"role": "user", "content": PROMPTS[0]}], tokenize=False,
                                               add_generation_prompt=True)
    assert texts[1] == tok.apply_chat_template(PROMPTS[1], tokenize=False, add_generation_prompt=True)


def test_prompts_are_left_padded_to_one_width(tiny):
    _, tok = tiny
    enc = generation.encode_prompts(tok, PROMPTS)
    lengths = enc["attention_mask"].sum(-1).tolist()
    assert lengths[0] < lengths[1] and enc["input_ids"].shape[1] == lengths[1]
    assert enc["attention_mask"][0, 0] == 0 and enc["attention_mask"][0, -1] == 1  # padding on the left


def test_greedy_replies_are_the_same_alone_and_in_a_batch(tiny):
    model, tok = tiny
    together, finished = generation.generate(model, tok, PROMPTS, max_new_tokens=12, return_finished=True)
    alone = [generation.generate(model, tok, [p], max_new_tokens=12)[0] for p in PROMPTS]
    assert together == alone and len(finished) == 2 and all(isinstance(f, bool) for f in finished)


def test_right_padding_is_refused(tiny):
    model, tok = tiny
    side, tok.padding_side = tok.padding_side, "right"
    try:
        with pytest.raises(ValueError, match="left"):
            generation.generate(model, tok, PROMPTS)
    finally:
        tok.padding_side = side
