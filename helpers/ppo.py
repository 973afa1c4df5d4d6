"""PPO with a KL penalty (lesson 4), in one readable module (TRL 1.x no longer ships a PPO trainer).

The algorithm of Ziegler et al. (2019) and InstructGPT, as TRL's old ``PPOTrainer`` ran it.
One ``PPOTrainer.step`` is:

1. **rollout**: sample a reply to each prompt from the current policy;
2. **score**: the reward model scores each (prompt, reply); the score lands on the reply's last token;
3. **KL penalty**: every reply token also gets ``-beta * (log pi(token) - log pi_ref(token))``, the
   per-token KL estimate to the frozen reference model (the SFT model), so drifting away from
   fluent text costs reward;
4. **advantages**: a value head on the policy predicts the return at each token; GAE turns rewards
   and values into advantages;
5. **update**: a few epochs of minibatch updates of the clipped policy loss and the clipped value
   loss on this batch;
6. **KL controller**: optionally adapt ``beta`` so the KL tracks a target.

Where to start reading: ``PPOTrainer.step`` runs the six steps above in order, calling
``rollout`` (1-2: the sampling pass also gives the log-probabilities and values; then the
reference's log-probabilities), ``token_rewards`` (3), ``gae`` (4) and
``update`` (5, with ``policy_loss`` and ``value_loss``). The file itself runs in that order too:
the config, the tensor functions of steps 3-5, the KL controllers, the value head, the trainer.

Works on a full model (the reference is a frozen copy) and on a PEFT LoRA model (the reference is
the same model with the adapter disabled: no second copy in memory). The tensor functions
(``gae``, ``policy_loss``, ...) are pure and unit-tested one by one.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from helpers.core import tracking
from helpers.core.generation import encode_prompts
from helpers.core.logprobs import is_peft, lm_forward, logprobs_of, lora_folded


@dataclass
class PPOConfig:
    """Settings of a PPO run. Defaults suit the tiny profile; see the notebook for what each does."""

    beta: float = 0.05                # KL coefficient (the start value when target_kl is set)
    target_kl: float | None = None    # adaptive controller: steer the mean per-reply KL towards this
    kl_horizon: int = 32              # rollouts over which the controller corrects an error (16 per step: up to 10% a step)
    learning_rate: float = 3e-4
    batch_size: int = 16              # rollouts per step
    mini_batch_size: int = 8
    ppo_epochs: int = 2
    clip_range: float = 0.2           # policy ratio clipping
    clip_range_value: float = 0.2     # value prediction clipping
    value_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    whiten_rewards: bool = False      # normalise per-token rewards within the batch (scale only)
    max_new_tokens: int = 48
    min_new_tokens: int = 0           # > 0 only to benchmark replies of a fixed length (suppresses EOS)
    temperature: float = 1.0          # sampling and log-probabilities both use it (the policy *is* the tempered model)
    max_grad_norm: float = 1.0
    seed: int = 0

    @classmethod
    def from_profile(cls, profile, seed: int = 0, **overrides) -> "PPOConfig":
        """A profile's PPO settings (beta and target, learning rate, batch, minibatches and epochs,
        reply length, temperature); keyword overrides win, e.g. ``beta=0.0, target_kl=None``."""
        settings = dict(beta=profile.rl.beta, target_kl=profile.rl.target_kl,
                        learning_rate=profile.rl.learning_rate, batch_size=profile.rl.batch_size,
                        mini_batch_size=profile.rl.mini_batch_size, ppo_epochs=profile.rl.ppo_epochs,
                        max_new_tokens=profile.rl.max_new_tokens, temperature=profile.rl.temperature, seed=seed)
        return cls(**{**settings, **overrides})


# ---------------------------------------------------------------------------------------------
# Pure tensor functions
# ---------------------------------------------------------------------------------------------

def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim=None) -> torch.Tensor:
    """Mean of ``x`` over positions where ``mask`` is 1."""
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Normalise ``x`` to unit variance (and zero mean if ``shift_mean``) over the masked positions."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    whitened = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask


def entropy_of(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Entropy of the next-token distribution at each position (nats)."""
    logp = F.log_softmax(logits / temperature, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def kl_per_token(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """The k1 estimator of KL(pi || pi_ref) at each sampled token: log pi - log pi_ref.

    Its expectation over tokens sampled from pi is the exact KL; a single token's value can be
    negative. Summed over a reply it estimates the sequence-level KL.
    """
    return logp - ref_logp


def response_mask(response_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """1 for reply tokens up to and including the first eos, 0 for the padding after it.

    Uses the position of the first eos (not ``!= pad``) so it is right when pad == eos.
    """
    is_eos = response_ids == eos_token_id
    after_eos = (is_eos.cumsum(-1) - is_eos.long()) > 0
    return (~after_eos).float()


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last real token of every row (0 for an empty row)."""
    return (mask.sum(-1).long() - 1).clamp(min=0)


def token_rewards(scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor,
                  beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards: ``-beta * KL`` at every reply token plus the score at the last one.

    Returns (rewards, kl) with padding positions zeroed.
    """
    kl = kl_per_token(logp, ref_logp) * mask
    rewards = -beta * kl
    rows = torch.arange(len(scores))
    rewards[rows, last_token_index(mask)] += scores
    return rewards * mask, kl


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over reply tokens; returns (advantages, returns).

    ``delta_t = r_t + gamma * V_{t+1} - V_t`` and ``A_t = delta_t + gamma * lam * A_{t+1}``, with
    ``V`` and ``A`` zero after the last real token. Returns are ``A + V`` (the value targets).
    """
    values = values * mask
    rewards = rewards * mask
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros(rewards.shape[0])
    next_value = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_advantage = (delta + gamma * lam * next_advantage) * mask[:, t]
        advantages[:, t] = next_advantage
        next_value = values[:, t]
    return advantages, (advantages + values) * mask


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                clip_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate loss; returns (loss, fraction of tokens where the clip was active).

    ``ratio = pi / pi_old``; the loss is ``max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps))``:
    once the ratio has moved more than ``eps`` in the direction the advantage favours, the token
    stops pushing.
    """
    ratio = torch.exp(logp - old_logp)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
    loss = masked_mean(torch.max(unclipped, clipped), mask)
    clip_fraction = masked_mean((clipped > unclipped).float(), mask)
    return loss, clip_fraction


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip_range: float) -> torch.Tensor:
    """Clipped value loss: the new prediction may move at most ``clip_range`` from the old one."""
    clipped = old_values + torch.clamp(values - old_values, -clip_range, clip_range)
    return 0.5 * masked_mean(torch.max((values - returns) ** 2, (clipped - returns) ** 2), mask)


class FixedKLController:
    """A constant KL coefficient."""

    def __init__(self, beta: float):
        self.value = beta

    def update(self, current_kl: float, n_steps: int) -> None:
        pass


class AdaptiveKLController:
    """Ziegler et al. (2019): raise beta when the KL is above target, lower it when below.

    ``beta *= 1 + clip(KL / target - 1, -0.2, 0.2) * n_steps / horizon``.
    """

    def __init__(self, beta: float, target: float, horizon: int):
        self.value, self.target, self.horizon = beta, target, horizon

    def update(self, current_kl: float, n_steps: int) -> None:
        error = min(max(current_kl / self.target - 1, -0.2), 0.2)
        self.value *= 1 + error * n_steps / self.horizon


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

class PolicyWithValueHead(nn.Module):
    """A causal LM plus a scalar value head on its last hidden state (shared backbone)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        hidden = model.config.get_text_config().hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids, attention_mask, logits_to_keep: int = 0):
        """(logits, values) at the last ``logits_to_keep`` positions (0: every position)."""
        out = lm_forward(self.model, input_ids, attention_mask, logits_to_keep, output_hidden_states=True)
        hidden = out.hidden_states[-1][:, -logits_to_keep:].to(self.value_head.weight.dtype)
        return out.logits.float(), self.value_head(hidden).squeeze(-1).float()


# ---------------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------------

@dataclass
class Batch:
    """One batch of rollouts; tensors are (rows, reply tokens) unless noted."""

    query_ids: torch.Tensor      # (rows, query tokens), left padded
    query_mask: torch.Tensor
    response_ids: torch.Tensor
    mask: torch.Tensor
    scores: torch.Tensor         # (rows,)
    logp: torch.Tensor
    ref_logp: torch.Tensor
    values: torch.Tensor
    entropy: torch.Tensor
    responses: list


class PPOTrainer:
    """PPO with a KL penalty to a frozen reference.

    ``score_fn(prompts, replies) -> list[float]`` is the reward (e.g. ``RewardModel.score``).
    With a PEFT model the reference is the model with its adapter disabled; otherwise a frozen
    copy of the model as it is when the trainer is created.
    """

    def __init__(self, model, tokenizer, score_fn, config: PPOConfig):
        torch.manual_seed(config.seed)
        self.config = config
        self.tokenizer = tokenizer
        self.score_fn = score_fn
        self.policy = PolicyWithValueHead(model)
        self.ref_model = None if is_peft(model) else self._frozen_copy(model)
        self.kl_ctl = (AdaptiveKLController(config.beta, config.target_kl, config.kl_horizon)
                       if config.target_kl else FixedKLController(config.beta))
        trainable = [p for p in self.policy.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.history: list[dict] = []
        self.phase_seconds = {"generate": 0.0, "score": 0.0}

    @staticmethod
    def _frozen_copy(model):
        ref = copy.deepcopy(model)
        ref.eval()
        for p in ref.parameters():
            p.requires_grad = False
        return ref

    @property
    def model(self):
        """The policy language model (without the value head)."""
        return self.policy.model

    # -- rollout ---------------------------------------------------------------------------------
    def encode(self, prompts: list) -> tuple[torch.Tensor, torch.Tensor]:
        """Chat-format and left-pad the prompts (user strings or message lists)."""
        enc = encode_prompts(self.tokenizer, prompts)
        return enc["input_ids"], enc["attention_mask"]

    @torch.no_grad()
    def sample(self, query_ids, query_mask) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample replies from the policy; returns (reply ids, logits, values) at each reply position.

        Plain temperature sampling (no top-p, no repetition penalty), so the log-probabilities taken
        from the logits are the ones the tokens were drawn with. The logits (raw: before temperature
        and ``min_new_tokens``) and the value head's estimates are read off the sampling pass itself,
        so no second forward pass over the batch recomputes them before the update. A LoRA policy
        samples with its adapter folded into the weights (``lora_folded``): the same function at
        one matmul per layer and token instead of three.
        """
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator)))
        self.policy.eval()
        with lora_folded(self.model):
            out = self.model.generate(input_ids=query_ids, attention_mask=query_mask, do_sample=True,
                                      temperature=self.config.temperature, top_p=1.0, top_k=0,
                                      max_new_tokens=self.config.max_new_tokens,
                                      min_new_tokens=self.config.min_new_tokens,
                                      pad_token_id=self.tokenizer.pad_token_id,
                                      eos_token_id=self.tokenizer.eos_token_id,
                                      return_dict_in_generate=True, output_logits=True, output_hidden_states=True)
        logits = torch.stack(out.logits, dim=1).float()
        # step t's last layer at its last position is the state that predicted reply token t
        hidden = torch.stack([layers[-1][:, -1] for layers in out.hidden_states], dim=1)
        values = self.policy.value_head(hidden.to(self.policy.value_head.weight.dtype)).squeeze(-1).float()
        return out.sequences[:, query_ids.shape[1]:], logits, values

    def forward_reply(self, model_fn, query_ids, query_mask, response_ids, mask):
        """Logits and values at the positions that predict each reply token."""
        input_ids = torch.cat([query_ids, response_ids], dim=1)
        attention = torch.cat([query_mask, mask.long()], dim=1)
        # position q - 1 (the prompt's last token) predicts the first reply token
        logits, values = model_fn(input_ids, attention, response_ids.shape[1] + 1)
        return logits[:, :-1], None if values is None else values[:, :-1]

    @torch.no_grad()
    def reference_logprobs(self, query_ids, query_mask, response_ids, mask) -> torch.Tensor:
        """log pi_ref of each reply token (adapter disabled, or the frozen copy)."""
        def reference(ids, attention, logits_to_keep):
            return lm_forward(self.ref_model, ids, attention, logits_to_keep).logits.float(), None

        if self.ref_model is None:
            with self.model.disable_adapter():
                logits, _ = self.forward_reply(self.policy, query_ids, query_mask, response_ids, mask)
        else:
            logits, _ = self.forward_reply(reference, query_ids, query_mask, response_ids, mask)
        return logprobs_of(logits, response_ids, self.config.temperature)

    @torch.no_grad()
    def rollout(self, prompts: list) -> Batch:
        """Sample, score and evaluate one batch of prompts under the policy and the reference."""
        query_ids, query_mask = self.encode(prompts)
        start = time.perf_counter()
        response_ids, logits, values = self.sample(query_ids, query_mask)
        self.phase_seconds["generate"] = time.perf_counter() - start
        mask = response_mask(response_ids, self.tokenizer.eos_token_id)
        # generate pads finished replies, so skipping special tokens leaves just the reply text
        responses = [t.strip() for t in self.tokenizer.batch_decode(response_ids, skip_special_tokens=True)]
        start = time.perf_counter()
        scores = torch.tensor(self.score_fn(prompts, responses), dtype=torch.float32)
        self.phase_seconds["score"] = time.perf_counter() - start
        logp = logprobs_of(logits, response_ids, self.config.temperature)
        entropy = entropy_of(logits, self.config.temperature)
        ref_logp = self.reference_logprobs(query_ids, query_mask, response_ids, mask)
        return Batch(query_ids, query_mask, response_ids, mask, scores, logp, ref_logp, values, entropy, responses)

    # -- update ----------------------------------------------------------------------------------
    def step(self, prompts: list) -> dict:
        """One PPO step on a batch of prompts; returns (and logs) the step's statistics."""
        start = time.perf_counter()
        cfg = self.config
        batch = self.rollout(prompts)
        beta = self.kl_ctl.value
        rewards, kl = token_rewards(batch.scores, batch.logp, batch.ref_logp, batch.mask, beta)
        if cfg.whiten_rewards:
            rewards = masked_whiten(rewards, batch.mask, shift_mean=False)
        advantages, returns = gae(rewards, batch.values, batch.mask, cfg.gamma, cfg.lam)
        advantages = masked_whiten(advantages, batch.mask)
        losses = self.update(batch, advantages, returns)
        seq_kl = kl.sum(-1).mean().item()
        self.kl_ctl.update(seq_kl, len(prompts))
        stats = {
            "reward": batch.scores.mean().item(),
            "kl": seq_kl,
            "kl_per_token": masked_mean(kl, batch.mask).item(),  # TRL's unit, for lesson 4's common plot
            "non_score_reward": -beta * seq_kl,
            "beta": beta,
            "entropy": masked_mean(batch.entropy, batch.mask).item(),
            "length": batch.mask.sum(-1).mean().item(),
            "tokens": batch.mask.sum().item(),  # generated this step (the budget lesson 4 compares methods on)
            **losses,
            "seconds": time.perf_counter() - start,
            "seconds_generate": self.phase_seconds["generate"],
            "seconds_score": self.phase_seconds["score"],
        }
        stats["step"] = len(self.history) + 1
        self.history.append(stats)
        return stats

    def update(self, batch: Batch, advantages, returns) -> dict:
        """``ppo_epochs`` passes of shuffled minibatch updates on one batch of rollouts."""
        cfg = self.config
        self.policy.eval()  # no dropout: the ratio must compare the same function
        n = len(batch.scores)
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "clip_fraction": 0.0, "approx_kl_old": 0.0}
        updates = 0
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(n, generator=self.generator)
            for start in range(0, n, cfg.mini_batch_size):
                idx = order[start:start + cfg.mini_batch_size]
                logits, values = self.forward_reply(self.policy, batch.query_ids[idx], batch.query_mask[idx],
                                                    batch.response_ids[idx], batch.mask[idx])
                logp = logprobs_of(logits, batch.response_ids[idx], cfg.temperature)
                mask = batch.mask[idx]
                pg_loss, clip_fraction = policy_loss(logp, batch.logp[idx], advantages[idx], mask, cfg.clip_range)
                vf_loss = value_loss(values, batch.values[idx], returns[idx], mask, cfg.clip_range_value)
                loss = pg_loss + cfg.value_coef * vf_loss
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_([p for p in self.policy.parameters() if p.requires_grad], cfg.max_grad_norm)
                self.optimizer.step()
                sums["policy_loss"] += pg_loss.item()
                sums["value_loss"] += vf_loss.item()
                sums["clip_fraction"] += clip_fraction.item()
                sums["approx_kl_old"] += masked_mean(batch.logp[idx] - logp.detach(), mask).item()
                updates += 1
        return {k: v / updates for k, v in sums.items()}

    def train(self, prompts: list, steps: int, log_every: int = 0, run_name: str | None = None,
              max_generated_tokens: float | None = None) -> list[dict]:
        """Run ``steps`` PPO steps, cycling through ``prompts`` in a seeded shuffled order; each
        step's statistics also go to the notebook's tracker (``helpers.core.tracking``), if any.

        With ``max_generated_tokens``, stop early at the end of the step whose generated reply tokens
        (summed over this call's steps) reach it, as ``helpers.online_rl.TokenBudget`` does for TRL."""

        order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(self.config.seed)).tolist()
        position = 0
        run = tracking.start_run(run_name or f"ppo-beta{self.config.beta:g}", asdict(self.config))
        generated = 0.0
        for _ in range(steps):
            if max_generated_tokens is not None and generated >= max_generated_tokens:
                break
            chunk = []
            while len(chunk) < self.config.batch_size:
                chunk.append(prompts[order[position % len(order)]])
                position += 1
            stats = self.step(chunk)
            generated += stats["tokens"]
            if run:
                run.log(stats, stats["step"])
            if log_every and stats["step"] % log_every == 0:
                print(format_stats(stats))
        if run:
            run.finish()
        return self.history

    def summary(self) -> dict:
        """The run's settings and its first and last logged statistics."""
        return {"config": asdict(self.config), "first": self.history[0], "last": self.history[-1]}


def format_stats(stats: dict) -> str:
    """One log line: step, reward, KL, beta, entropy, length, clip fraction, value loss."""
    return (f"step {stats['step']:3d}  reward {stats['reward']:+.3f}  kl {stats['kl']:6.2f}  "
            f"beta {stats['beta']:.3f}  entropy {stats['entropy']:.2f}  length {stats['length']:5.1f}  "
            f"clip {stats['clip_fraction']:.2f}  value loss {stats['value_loss']:.3f}")


def standardised(score_fn, mean: float, std: float):
    """``score_fn`` rescaled so the starting policy's rewards have mean 0 and standard deviation 1.

    A reward model's raw scale is arbitrary (a Bradley–Terry model only fixes differences); on this
    scale ``beta`` has a fixed meaning: one nat of KL costs ``beta`` standard deviations of reward.
    """
    def score(prompts, replies):
        return [(s - mean) / std for s in score_fn(prompts, replies)]

    return score
