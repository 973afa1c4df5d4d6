import torch

from helpers.core import generation, models
from helpers.core.profiles import get_profile
from helpers.core.tiny_model import EOS, TinyConfig, build_corpus, build_info, build_key, build_tiny_base
from helpers.metrics import style

SMALL = TinyConfig(vocab_size=600, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2,
                   num_kv_heads=1, block_size=32, batch_size=4, steps=4)


def test_corpus_excludes_held_out_and_sft_targets():
    from helpers.core.data import load_formal_emails

    corpus = "".join(build_corpus())
    for row in load_formal_emails("test"):
        assert row["messages"][0]["content"] not in corpus
    for row in load_formal_emails("train")[:20]:
        assert row["messages"][1]["content"] not in corpus  # SFT targets are new to the base model


def test_small_build_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLE_WORKBOOK_CACHE", str(tmp_path))
    first = build_tiny_base(SMALL, verbose=False)
    weights = {k: v.clone() for k, v in models.load_causal_lm(first, get_profile("tiny")).state_dict().items()}
    assert build_tiny_base(SMALL, verbose=False) == first  # cache hit
    second = build_tiny_base(SMALL, force=True, verbose=False)
    again = models.load_causal_lm(second, get_profile("tiny")).state_dict()
    assert all(torch.equal(weights[k], again[k]) for k in weights)
    assert build_info(first)["history"][0]["step"] == 0


def test_key_changes_with_config():
    docs = ["a", "b"]
    assert build_key(docs, SMALL) != build_key(docs, TinyConfig())


def test_default_base_model_learned_the_corpus():
    path = build_tiny_base()
    info = build_info(path)
    assert 1e6 < info["parameters"] < 5e6
    assert info["history"][-1]["loss"] < info["history"][0]["loss"] - 2.5  # ln(4096) = 8.3 at the start


def test_chat_template_marks_generation_and_ends_turns_on_eos():
    tok = models.load_tokenizer(build_tiny_base())
    assert "{% generation %}" in tok.chat_template
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
                                   tokenize=False)
    assert text.count(EOS) == 2
    out = tok.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
                                  return_assistant_tokens_mask=True, return_dict=True)
    assert 0 < sum(out["assistant_masks"]) < len(out["input_ids"])


def test_generation_is_deterministic_and_stops():
    P = get_profile("tiny")
    model, tok = models.load_base(P)
    prompts = ["my refund never arrived, order 5521", "hey can i change my delivery address?"]
    a = generation.generate(model, tok, prompts, max_new_tokens=40, repetition_penalty=1.2)
    b = generation.generate(model, tok, prompts, max_new_tokens=40, batch_size=1, repetition_penalty=1.2)
    assert a == b and all(isinstance(x, str) and x for x in a)
    sampled = generation.generate(model, tok, prompts, max_new_tokens=20, do_sample=True, seed=5)
    assert sampled == generation.generate(model, tok, prompts, max_new_tokens=20, do_sample=True, seed=5)


def test_generation_requires_left_padding():
    import pytest

    model, tok = models.load_base(get_profile("tiny"))
    tok.padding_side = "right"
    with pytest.raises(ValueError, match="left"):
        generation.generate(model, tok, ["hi"])


def test_perplexity_prefers_corpus_like_text():
    model, tok = models.load_base(get_profile("tiny"))
    ppl = style.perplexity(model, tok, ["Thank you for your patience, we will process your refund today.",
                                        "zq xv kkp wq zzt plm qqq vvx"])
    assert ppl[0] < ppl[1]
