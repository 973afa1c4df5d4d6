"""What a later lesson needs from an earlier one: load it, or build a quick stand-in.

Lessons 4–6 start from lesson 1's SFT model and lesson 3's reward model and judge. When those are
missing (a notebook run on its own), the functions here train them through the same helpers the
upstream notebooks use, save them where the upstream notebook would, and leave a ``BUILT_BY.txt``
note in the folder. Nothing is overwritten: running the upstream notebook later keeps the
stand-in aside as ``<name>.previous-<n>``.
"""
from __future__ import annotations

from pathlib import Path

from .profiles import Profile

SFT_DIR = ("01_sft_formal_emails", "sft_model")
RM_DIR = ("03_reward_model", "reward_model")
JUDGE_DIR = ("03_reward_model", "judge")


def _note(folder: Path, built_by: str, upstream: str) -> None:
    (folder / "BUILT_BY.txt").write_text(
        f"A quick stand-in built by {built_by} because {upstream} had not been run.\n"
        f"Run notebooks/{upstream}.ipynb to replace it (this copy is then kept aside).\n")


def sft_model_path(artifacts_dir, profile: Profile, seed: int, built_by: str) -> Path:
    """Lesson 1's fine-tuned model; trained here (same recipe, same data) if it is missing."""
    from . import data
    from .checkpoints import save_model
    from .sft import train_sft

    path = Path(artifacts_dir).joinpath(*SFT_DIR)
    if (path / "config.json").exists() or (path / "adapter_config.json").exists():
        return path
    print(f"{path} is missing: training lesson 1's SFT model here (run notebooks/01_sft_formal_emails.ipynb for the full lesson)")
    trainer = train_sft(data.load_formal_emails("train"), profile, path.parent / "sft_run", seed)
    save_model(trainer.model, trainer.processing_class, path)
    _note(path, built_by, "01_sft_formal_emails")
    return path


def judge_rows(rows: list[dict], seed: int, share: float = 0.7) -> list[dict]:
    """The held-out judge's training rows: a seeded random ``share`` of the RM's rows."""
    import numpy as np

    idx = np.random.default_rng(seed + 1000).permutation(len(rows))[: int(share * len(rows))]
    return [rows[i] for i in sorted(idx)]


def reward_model_paths(artifacts_dir, profile: Profile, seed: int, built_by: str) -> tuple[Path, Path]:
    """Lesson 3's reward model and held-out judge; trained here (lesson 3's final recipe) if missing."""
    from . import preferences, probes, rewards

    base = Path(artifacts_dir)
    rm_path, judge_path = base.joinpath(*RM_DIR), base.joinpath(*JUDGE_DIR)
    if (rm_path / "config.json").exists() and (judge_path / "config.json").exists():
        return rm_path, judge_path
    print(f"{rm_path.parent} is incomplete: training lesson 3's reward model and judge here "
          "(run notebooks/03_reward_model.ipynb for the full lesson)")
    train = [{k: r[k] for k in ("prompt", "chosen", "rejected")}
             for r in preferences.load_preferences_for_training(artifacts_dir, "train") if r.get("source") != "likert"]
    extra = probes.counter_examples(train, per_probe=20)
    for path, rows, run_seed in ((rm_path, train, seed), (judge_path, judge_rows(train, seed), seed + 1000)):
        if not (path / "config.json").exists():
            model, _ = rewards.train_reward_model(rows + extra, profile, path.parent / f"{path.name}_run", run_seed)
            model.save(path)
            _note(path, built_by, "03_reward_model")
    return rm_path, judge_path


def load_sft_policy(path, profile: Profile):
    """(model, tokenizer) of the SFT model, ready to be aligned further.

    A LoRA SFT adapter is merged into its base first, so that a new adapter trained on top has the
    SFT model (not the raw base) as its reference when disabled.
    """
    from . import models

    path = Path(path)
    tokenizer = models.load_tokenizer(path)
    if (path / "adapter_config.json").exists():
        from peft import PeftModel

        base = models.load_causal_lm(models.base_model_path(profile), profile)
        model = PeftModel.from_pretrained(base, str(path)).merge_and_unload()
    else:
        model = models.load_causal_lm(path, profile)
    return model, tokenizer
