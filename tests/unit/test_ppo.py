"""helpers.ppo piece by piece: GAE, the KL estimator, clipping, masking, the KL controller, and a
one-token bandit whose optimum (with and without the KL penalty) is known in closed form."""
import math

import pytest
import torch
from torch import nn

from helpers import ppo

# ---------------------------------------------------------------------------------------------
# pure functions
# ---------------------------------------------------------------------------------------------


def test_gae_matches_a_hand_calculation():
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.6, 0.7]])
    mask = torch.ones(1, 3)
    adv, ret = ppo.gae(rewards, values, mask, gamma=0.9, lam=0.5)
    # t=2: 1 - 0.7 = 0.3;  t=1: 0.9*0.7 - 0.6 + 0.45*0.3 = 0.165;  t=0: 0.9*0.6 - 0.5 + 0.45*0.165
    expected = torch.tensor([[0.04 + 0.45 * 0.165, 0.165, 0.3]])
    assert torch.allclose(adv, expected, atol=1e-6)
    assert torch.allclose(ret, expected + values, atol=1e-6)


def test_gae_ignores_padding_after_the_last_token():
    rewards = torch.tensor([[0.0, 2.0, 99.0]])
    values = torch.tensor([[0.1, 0.2, 5.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    adv, ret = ppo.gae(rewards, values, mask, gamma=1.0, lam=0.5)
    # the padded step contributes neither reward nor a bootstrap value
    assert torch.allclose(adv, torch.tensor([[0.1 + 0.5 * 1.8, 1.8, 0.0]]), atol=1e-6)
    assert ret[0, 2] == 0


def test_k1_kl_estimator_is_unbiased_for_the_exact_kl():
    torch.manual_seed(0)
    p = torch.tensor([0.6, 0.3, 0.1])
    q = torch.tensor([0.2, 0.5, 0.3])
    exact = float((p * (p / q).log()).sum())
    samples = torch.multinomial(p, 200_000, replacement=True)
    estimate = ppo.kl_per_token(p.log()[samples], q.log()[samples]).mean().item()
    assert estimate == pytest.approx(exact, abs=0.01)
    # single tokens can be negative (here: the token where q > p)
    assert ppo.kl_per_token(p.log()[1:2], q.log()[1:2]).item() < 0


def _grad_of_policy_loss(ratio: float, advantage: float, clip: float = 0.2):
    old = torch.zeros(1, 1)
    logp = torch.tensor([[math.log(ratio)]], requires_grad=True)
    loss, clip_fraction = ppo.policy_loss(logp, old, torch.tensor([[advantage]]), torch.ones(1, 1), clip)
    loss.backward()
    return logp.grad.item(), clip_fraction.item()


@pytest.mark.parametrize("ratio,advantage,clipped", [
    (1.1, 1.0, False),    # inside the trust region: always pushes
    (1.3, 1.0, True),     # good token already made 30% likelier: stop pushing
    (0.7, -1.0, True),    # bad token already made 30% less likely: stop pushing
    (0.7, 1.0, False),    # good token made *less* likely: the pessimistic bound keeps pushing it back up
    (1.3, -1.0, False),   # bad token made likelier: keep pushing it down
])
def test_clipped_objective_at_the_boundaries(ratio, advantage, clipped):
    grad, clip_fraction = _grad_of_policy_loss(ratio, advantage)
    if clipped:
        assert grad == 0 and clip_fraction == 1
    else:
        assert grad == pytest.approx(-advantage * ratio) and clip_fraction == 0


def test_value_loss_is_clipped_around_the_old_prediction():
    old, target, mask = torch.tensor([[0.0]]), torch.tensor([[1.0]]), torch.ones(1, 1)
    values = torch.tensor([[0.5]], requires_grad=True)
    ppo.value_loss(values, old, target, mask, clip_range=0.2).backward()
    # the clipped branch (0.2 vs target 1) has the larger error, so the max picks it: no gradient
    assert values.grad.item() == 0
    values = torch.tensor([[0.1]], requires_grad=True)
    ppo.value_loss(values, old, target, mask, clip_range=0.2).backward()
    assert values.grad.item() == pytest.approx(0.1 - 1.0)


def test_response_mask_stops_after_the_first_eos_even_when_pad_is_eos():
    eos = 1
    ids = torch.tensor([[5, 6, 1, 1, 1], [5, 1, 7, 8, 9], [5, 6, 7, 8, 9]])
    mask = ppo.response_mask(ids, eos)
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert ppo.last_token_index(mask).tolist() == [2, 1, 4]


def test_token_rewards_put_the_score_on_the_last_real_token_and_the_penalty_everywhere():
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    logp = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, -2.0, -1.0]])
    ref = torch.tensor([[-2.0, -1.0, -9.0], [-1.0, -1.0, -1.0]])
    rewards, kl = ppo.token_rewards(torch.tensor([3.0, 5.0]), logp, ref, mask, beta=0.5)
    assert kl.tolist() == [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]
    assert rewards.tolist() == [[-0.5, 3.0, 0.0], [0.0, 0.5, 5.0]]


def test_masked_statistics_ignore_padding():
    x = torch.tensor([[1.0, 3.0, 1000.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    assert ppo.masked_mean(x, mask).item() == 2.0
    white = ppo.masked_whiten(x, mask)
    assert white[0, 2] == 0 and white[0, :2].tolist() == pytest.approx([-1.0, 1.0], abs=1e-3)


def test_adaptive_kl_controller_moves_beta_towards_the_target():
    ctl = ppo.AdaptiveKLController(0.1, target=6.0, horizon=100)
    ctl.update(current_kl=60.0, n_steps=10)        # far above target: error capped at +20%
    assert ctl.value == pytest.approx(0.1 * (1 + 0.2 * 10 / 100))
    ctl = ppo.AdaptiveKLController(0.1, target=6.0, horizon=100)
    ctl.update(current_kl=3.0, n_steps=10)         # below target: beta falls
    assert ctl.value < 0.1
    fixed = ppo.FixedKLController(0.1)
    fixed.update(100.0, 10)
    assert fixed.value == 0.1


# ---------------------------------------------------------------------------------------------
# a one-token bandit on a toy Llama
# ---------------------------------------------------------------------------------------------

VOCAB, TARGET, EOS, PAD = 12, 7, 1, 0


class ToyTokenizer:
    eos_token_id, pad_token_id = EOS, PAD

    def batch_decode(self, ids, skip_special_tokens=True):
        return [" ".join(str(t) for t in row if t > EOS) for row in ids.tolist()]


class BanditPPO(ppo.PPOTrainer):
    """Every prompt is the same three tokens; the reply is a single token."""

    def encode(self, prompts):
        return torch.full((len(prompts), 3), 2), torch.ones(len(prompts), 3, dtype=torch.long)


def toy_model(seed=0, init_std=0.02):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16,
                         pad_token_id=PAD, eos_token_id=EOS, bos_token_id=2, initializer_range=init_std)
    model = LlamaForCausalLM(config)
    model.eval()
    return model


def reward_target(prompts, replies):
    return [1.0 if r == str(TARGET) else 0.0 for r in replies]


def next_token_probs(model):
    with torch.no_grad():
        logits = ppo.lm_forward(model, torch.full((1, 3), 2), torch.ones(1, 3, dtype=torch.long)).logits
    return torch.softmax(logits[0, -1].float(), -1)


def bandit(beta, steps, seed=0, model=None, lr=2e-2):
    config = ppo.PPOConfig(beta=beta, learning_rate=lr, batch_size=32, mini_batch_size=16, ppo_epochs=2,
                           max_new_tokens=1, seed=seed)
    trainer = BanditPPO(model or toy_model(), ToyTokenizer(), reward_target, config)
    trainer.train(["q"] * 32, steps)
    return trainer


def test_ppo_solves_the_bandit_without_a_penalty():
    model = toy_model()
    start = next_token_probs(model)[TARGET].item()
    trainer = bandit(beta=0.0, steps=40, model=model)
    end = next_token_probs(trainer.model)[TARGET].item()
    assert start < 0.15 and end > 0.9
    assert trainer.history[-1]["reward"] > 0.8 > trainer.history[0]["reward"]


def test_ppo_with_a_kl_penalty_finds_the_regularised_optimum():
    # maximising E[r] - beta * KL(pi || ref) has the closed-form optimum pi*(a) ∝ ref(a) exp(r(a) / beta)
    beta = 0.5
    ref = next_token_probs(toy_model())
    weights = ref * torch.exp(torch.tensor([1.0 if a == TARGET else 0.0 for a in range(VOCAB)]) / beta)
    optimum = (weights / weights.sum())[TARGET].item()
    trainer = bandit(beta=beta, steps=60)
    reached = next_token_probs(trainer.model)[TARGET].item()
    assert ref[TARGET].item() < optimum < 0.9           # the penalty keeps it well short of 1
    assert reached == pytest.approx(optimum, abs=0.12)


def test_full_fine_tuning_keeps_a_frozen_reference():
    model = toy_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = bandit(beta=0.1, steps=3, model=model)
    assert all(torch.equal(before[k], v) for k, v in trainer.ref_model.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())


def test_lora_uses_the_disabled_adapter_as_reference():
    from peft import LoraConfig, get_peft_model

    # LoRA leaves lm_head frozen: with the default 0.02 init its rows are too short for an adapter
    # on a 16-dim model to move the logits, so this toy starts from larger weights
    model = get_peft_model(toy_model(init_std=0.3), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    base = {k: v.clone() for k, v in model.state_dict().items() if "lora_" not in k}
    start = next_token_probs(model)
    trainer = bandit(beta=0.1, steps=12, model=model, lr=1e-2)
    assert trainer.ref_model is None                   # no second copy of the model
    assert trainer.history[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # LoRA starts as the identity
    assert all(torch.equal(base[k], v) for k, v in trainer.model.state_dict().items() if k in base)
    with trainer.model.disable_adapter():
        assert torch.allclose(next_token_probs(trainer.model), start, atol=1e-6)
    assert next_token_probs(trainer.model)[TARGET] > start[TARGET] + 0.1


def test_a_seeded_run_is_reproducible():
    first = bandit(beta=0.1, steps=4, seed=3).history
    second = bandit(beta=0.1, steps=4, seed=3).history
    def strip(history):
        return [{k: v for k, v in row.items() if not k.startswith("seconds")} for row in history]

    assert strip(first) == strip(second)


def test_a_token_budget_stops_the_run_at_the_step_that_reaches_it():
    config = ppo.PPOConfig(beta=0.1, learning_rate=1e-2, batch_size=32, mini_batch_size=16, max_new_tokens=1)
    trainer = BanditPPO(toy_model(), ToyTokenizer(), reward_target, config)
    trainer.train(["q"] * 32, steps=10, max_generated_tokens=70)  # one-token replies: 32 tokens a step
    assert [row["tokens"] for row in trainer.history] == [32, 32, 32]
    row = trainer.history[-1]
    assert 0 < row["seconds_generate"] + row["seconds_score"] < row["seconds"]
    assert row["kl_per_token"] == pytest.approx(row["kl"], rel=1e-5)  # one token per reply


@pytest.mark.parametrize("lora", [False, True])
def test_the_sampling_pass_gives_the_log_probabilities_and_values_a_forward_pass_would(lora):
    # rollout reads logp and values off generate instead of a second forward pass: they must agree,
    # with left padding (row 1's prompt is one token shorter) and replies that end at different lengths;
    # a LoRA policy samples with its adapter folded into the weights, and is updated with it unfolded
    class PaddedPPO(ppo.PPOTrainer):
        def encode(self, prompts):
            ids = torch.tensor([[2, 3, 4], [PAD, 5, 6]] * (len(prompts) // 2))
            return ids, (ids != PAD).long()

    config = ppo.PPOConfig(beta=0.1, batch_size=8, max_new_tokens=6, seed=1)
    model = toy_model(init_std=0.3)
    if lora:
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(0)
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, init_lora_weights=False, target_modules="all-linear"))
    trainer = PaddedPPO(model, ToyTokenizer(), reward_target, config)
    nn.init.normal_(trainer.policy.value_head.weight, std=0.5)
    batch = trainer.rollout(["q"] * 8)
    assert batch.response_ids.shape[1] > 1 and batch.mask.sum() > 8
    with torch.no_grad():
        logits, values = trainer.forward_reply(trainer.policy, batch.query_ids, batch.query_mask,
                                               batch.response_ids, batch.mask)
    logp = ppo.logprobs_of(logits, batch.response_ids, config.temperature)
    assert torch.allclose(batch.logp * batch.mask, logp * batch.mask, atol=1e-5)
    assert torch.allclose(batch.values * batch.mask, values * batch.mask, atol=1e-5)
    assert batch.values.abs().max() > 0.01          # the value head is not the zero it starts as
