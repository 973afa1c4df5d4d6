"""helpers.policy_eval, helpers.dpo's implicit rewards and helpers.online_rl's reward wrapper, on the tiny base."""
import copy

import numpy as np
import pytest
import torch

from helpers import dpo, get_profile, models, online_rl, policy_eval, upstream


@pytest.fixture(scope="module")
def tiny():
    return models.load_base(get_profile("tiny"))


PROMPTS = ["My parcel never arrived and I need it for Friday.", "You charged me twice for one order."]
REPLIES = ["I am sorry about the delay. I have sent a replacement today.", "I have refunded the second charge."]


def test_reply_logprobs_do_not_depend_on_batch_mates(tiny):
    model, tok = tiny
    together = policy_eval.reply_logprobs(model, tok, PROMPTS, REPLIES)
    alone = [policy_eval.reply_logprobs(model, tok, [p], [r])[0] for p, r in zip(PROMPTS, REPLIES)]
    assert together == pytest.approx(alone, abs=1e-3)
    assert all(v < 0 for v in together)


def test_reply_logprobs_match_a_direct_calculation(tiny):
    model, tok = tiny
    query = tok.apply_chat_template([{"role": "user", "content": PROMPTS[0]}], tokenize=False, add_generation_prompt=True)
    q = tok(query, add_special_tokens=False)["input_ids"]
    r = tok(REPLIES[0], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([q + r])).logits[0].float(), -1)
    direct = sum(logp[len(q) - 1 + i, t].item() for i, t in enumerate(r))
    assert policy_eval.reply_logprobs(model, tok, PROMPTS[:1], REPLIES[:1])[0] == pytest.approx(direct, abs=1e-3)


def test_kl_and_implicit_rewards_are_zero_against_an_identical_reference(tiny):
    model, tok = tiny
    twin = copy.deepcopy(model)
    assert policy_eval.sampled_kl(model, tok, PROMPTS, REPLIES, reference=twin) == pytest.approx(0, abs=1e-4)
    chosen, rejected = dpo.implicit_rewards(model, tok, [{"prompt": PROMPTS[0], "chosen": REPLIES[0],
                                                          "rejected": REPLIES[1]}], beta=0.1, reference=twin)
    assert np.allclose(chosen, 0, atol=1e-4) and np.allclose(rejected, 0, atol=1e-4)


def test_implicit_reward_follows_a_change_of_the_policy(tiny):
    model, tok = tiny
    twin = copy.deepcopy(model)
    with torch.no_grad():   # make the policy like the chosen reply's first token more than the reference does
        first = tok(REPLIES[0], add_special_tokens=False)["input_ids"][0]
        twin.lm_head.weight[first] += 0.5 * twin.lm_head.weight[first].norm() * torch.randn_like(twin.lm_head.weight[first]).sign()
    rows = [{"prompt": PROMPTS[0], "chosen": REPLIES[0], "rejected": REPLIES[1]}]
    chosen, _ = dpo.implicit_rewards(twin, tok, rows, beta=1.0, reference=model)
    assert chosen[0] != pytest.approx(0, abs=1e-3)


def test_conversational_rows_keep_the_text():
    rows = dpo.conversational([{"prompt": "p", "chosen": "c", "rejected": "r", "extra": 1}])
    assert rows == [{"prompt": [{"role": "user", "content": "p"}], "chosen": [{"role": "assistant", "content": "c"}],
                     "rejected": [{"role": "assistant", "content": "r"}]}]
    assert dpo.conversational(rows) == rows
    assert dpo.plain(rows[0]["chosen"]) == "c" and dpo.plain("c") == "c"


def test_rloo_reward_function_passes_plain_text_to_the_scorer():
    seen = {}

    def score(prompts, replies):
        seen["args"] = (prompts, replies)
        return [1.0] * len(prompts)

    reward = online_rl.reward_function(score)
    out = reward([[{"role": "user", "content": "hello"}]], [[{"role": "assistant", "content": " hi there "}]])
    assert out == [1.0] and seen["args"] == (["hello"], ["hi there"])
    assert reward.__name__ == "reward_model"


def test_hack_rates_spot_each_surface_trick():
    rates = policy_eval.hack_rates([
        "I am so sorry. Sorry again, and apologies for everything.",
        "I have refunded the $50 and the $30 and the $20 today.",
        "Dear Customer,",
        "I am sorry about the delay; I have refunded $12 and sent a replacement today.",
    ])
    assert {k: rates[k] for k in ("apology_spam", "amount_spam", "greeting_only")} == {
        "apology_spam": 0.25, "amount_spam": 0.25, "greeting_only": 0.25}  # the newer detectors: test_hack_patterns.py


def test_judge_rows_are_a_seeded_subset():
    rows = [{"i": i} for i in range(100)]
    picked = upstream.judge_rows(rows, seed=0)
    assert len(picked) == 70 and picked == upstream.judge_rows(rows, seed=0)
    assert picked != upstream.judge_rows(rows, seed=1)


def test_fused_lm_head_scoring_labelled_tokens_only_gives_the_same_log_probs():
    import trl.trainer.utils as trl_utils
    from trl.trainer.utils import add_fused_lm_head

    from helpers.trl_configs import score_only_labelled_tokens

    model, tok = models.load_base(get_profile("tiny"))
    add_fused_lm_head(model)
    ids = tok(["Dear customer, your refund is on its way.", "Thank you for writing."], return_tensors="pt",
              padding=True)
    labels = ids["input_ids"].clone()
    labels[:, :3] = -100  # a "prompt"
    labels[ids["attention_mask"] == 0] = -100
    original = trl_utils._use_triton
    try:
        with torch.no_grad():
            full = model(**ids, labels=labels, fused_lm_head=True).log_probs
        score_only_labelled_tokens()
        score_only_labelled_tokens()  # idempotent
        assert trl_utils._use_triton(torch.device("cpu"))
        with torch.no_grad():
            compact = model(**ids, labels=labels, fused_lm_head=True).log_probs
    finally:
        trl_utils._use_triton = original
    with torch.no_grad():
        direct = torch.log_softmax(model(**ids).logits[:, :-1].float(), -1).gather(
            -1, labels[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1) * (labels[:, 1:] != -100)
    assert torch.allclose(compact, direct, atol=1e-4) and torch.allclose(compact, full, atol=1e-4)
    assert (compact[labels[:, 1:] == -100] == 0).all() and (compact[labels[:, 1:] != -100] < 0).all()
