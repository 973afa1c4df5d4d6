"""helpers.core.logprobs on the tiny base: reply log-probabilities, the KL to a reference, the reference
policy of a LoRA model, and DPO's implicit rewards built on them."""
import copy

import numpy as np
import pytest
import torch

from helpers import dpo, get_profile
from helpers.core import logprobs, models


@pytest.fixture(scope="module")
def tiny():
    return models.load_base(get_profile("tiny"))


PROMPTS = ["My parcel never arrived and I need it for Friday.", "You charged me twice for one order."]
REPLIES = ["I am sorry about the delay. I have sent a replacement today.", "I have refunded the second charge."]


def test_reply_logprobs_do_not_depend_on_batch_mates(tiny):
    model, tok = tiny
    together = logprobs.reply_logprobs(model, tok, PROMPTS, REPLIES)
    alone = [logprobs.reply_logprobs(model, tok, [p], [r])[0] for p, r in zip(PROMPTS, REPLIES)]
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
    assert logprobs.reply_logprobs(model, tok, PROMPTS[:1], REPLIES[:1])[0] == pytest.approx(direct, abs=1e-3)


def test_kl_and_implicit_rewards_are_zero_against_an_identical_reference(tiny):
    model, tok = tiny
    twin = copy.deepcopy(model)
    assert logprobs.sampled_kl(model, tok, PROMPTS, REPLIES, reference=twin) == pytest.approx(0, abs=1e-4)
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


def test_fused_lm_head_scoring_labelled_tokens_only_gives_the_same_log_probs():
    import trl.trainer.utils as trl_utils
    from trl.trainer.utils import add_fused_lm_head

    from helpers.core.trl_configs import score_only_labelled_tokens

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


def test_the_reference_of_a_lora_policy_is_its_adapter_switched_off(tiny):
    from peft import LoraConfig, get_peft_model

    model, tok = tiny
    base_logp = logprobs.reply_logprobs(model, tok, PROMPTS, REPLIES)
    config = LoraConfig(r=4, lora_alpha=32, init_lora_weights=False, target_modules="all-linear", task_type="CAUSAL_LM")
    torch.manual_seed(0)
    policy = get_peft_model(copy.deepcopy(model), config)
    assert logprobs.is_peft(policy) and not logprobs.is_peft(model)
    assert logprobs.reply_logprobs(policy, tok, PROMPTS, REPLIES) != pytest.approx(base_logp, abs=1e-3)
    with logprobs.adapter_off(policy):
        assert logprobs.reply_logprobs(policy, tok, PROMPTS, REPLIES) == pytest.approx(base_logp, abs=1e-4)
    with logprobs.adapter_off(model):  # a full model is its own reference only when passed as one
        assert logprobs.reply_logprobs(model, tok, PROMPTS, REPLIES) == pytest.approx(base_logp, abs=1e-6)
    ratios = logprobs.log_ratios(policy, tok, PROMPTS, REPLIES)  # reference=None: the adapter switched off
    assert ratios == pytest.approx(np.subtract(logprobs.reply_logprobs(policy, tok, PROMPTS, REPLIES), base_logp), abs=1e-4)


def test_a_folded_lora_policy_computes_the_same_function_and_leaves_the_base_weights_untouched(tiny):
    from peft import LoraConfig, get_peft_model

    model, tok = tiny
    config = LoraConfig(r=4, lora_alpha=32, init_lora_weights=False, target_modules="all-linear", task_type="CAUSAL_LM")
    torch.manual_seed(0)
    policy = get_peft_model(copy.deepcopy(model), config)
    before = {name: p.detach().clone() for name, p in policy.named_parameters()}
    unfolded = logprobs.reply_logprobs(policy, tok, PROMPTS, REPLIES)
    with logprobs.adapter_off(policy):
        base = logprobs.reply_logprobs(policy, tok, PROMPTS, REPLIES)
    with logprobs.lora_folded(policy):
        folded = logprobs.reply_logprobs(policy, tok, PROMPTS, REPLIES)
    assert folded == pytest.approx(unfolded, abs=1e-3) and folded != pytest.approx(base, abs=1e-2)
    assert all(torch.equal(p, before[name]) for name, p in policy.named_parameters())  # bit for bit
    assert logprobs.reply_logprobs(policy, tok, PROMPTS, REPLIES) == unfolded  # the adapter is back on
    with logprobs.lora_folded(model):  # a full model: nothing to fold
        assert logprobs.reply_logprobs(model, tok, PROMPTS, REPLIES) == logprobs.reply_logprobs(model, tok, PROMPTS, REPLIES)


def test_the_profile_decides_which_reference_a_policy_is_compared_with(tiny):
    model, _ = tiny
    assert logprobs.reference_model(get_profile("tiny"), model) is model   # full fine-tuning: a frozen copy
    assert logprobs.reference_model(get_profile("small"), model) is None   # LoRA: the adapter switched off
