"""What a later lesson needs from an earlier one: load it, or build a quick stand-in.

Lessons 4–6 start from lesson 1's SFT model and lesson 3's reward model and judge. When those are
missing (a notebook run on its own), the functions here train them through the same helpers the
upstream notebooks use, save them where the upstream notebook would, and leave a ``BUILT_BY.txt``
note in the folder. Nothing is overwritten: running the upstream notebook later keeps the
stand-in aside as ``<name>.previous-<n>``.
"""
from __future__ import annotations

import json
from pathlib import Path

from helpers import preferences, rewards
from helpers.core import data, models
from helpers.core.checkpoints import save_model
from helpers.core.profiles import Profile
from helpers.metrics import probes
from helpers.sft import train_sft

SFT_DIR = ("01_sft_formal_emails", "sft_model")
RM_DIR = ("03_reward_model", "reward_model")
JUDGE_DIR = ("03_reward_model", "judge")


def _note(folder: Path, built_by: str, upstream: str) -> None:
    (folder / "BUILT_BY.txt").write_text(
        f"A quick stand-in built by {built_by} because {upstream} had not been run.\n"
        f"Run notebooks/{upstream}.ipynb to replace it (this copy is then kept aside).\n")


def sft_model_path(artifacts_dir, profile: Profile, seed: int, built_by: str) -> Path:
    """Lesson 1's fine-tuned model; trained here (same recipe, same data) if it is missing."""

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


def reward_model_rows(artifacts_dir) -> tuple[list[dict], list[dict]]:
    """Lesson 3's final recipe's training rows: the preference pairs (lesson 2's export, or the
    shipped pairs; Likert-derived pairs left out) and the reward-hacking counter-examples."""

    train = [{k: r[k] for k in ("prompt", "chosen", "rejected")}
             for r in preferences.load_preferences_for_training(artifacts_dir, "train") if r.get("source") != "likert"]
    return train, probes.counter_examples(train, per_probe=20)


def reward_model_paths(artifacts_dir, profile: Profile, seed: int, built_by: str) -> tuple[Path, Path]:
    """Lesson 3's reward model and held-out judge; trained here (lesson 3's final recipe) if missing."""

    base = Path(artifacts_dir)
    rm_path, judge_path = base.joinpath(*RM_DIR), base.joinpath(*JUDGE_DIR)
    if (rm_path / "config.json").exists() and (judge_path / "config.json").exists():
        return rm_path, judge_path
    print(f"{rm_path.parent} is incomplete: training lesson 3's reward model and judge here "
          "(run notebooks/03_reward_model.ipynb for the full lesson)")
    train, extra = reward_model_rows(artifacts_dir)
    for path, rows, run_seed in ((rm_path, train, seed), (judge_path, judge_rows(train, seed), seed + 1000)):
        if not (path / "config.json").exists():
            model, _ = rewards.train_reward_model(rows + extra, profile, path.parent / f"{path.name}_run", run_seed)
            model.save(path)
            _note(path, built_by, "03_reward_model")
    return rm_path, judge_path


SHAPE = ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")


def check_built_for(path, profile: Profile) -> None:
    """Stop with a clear error when ``path`` holds a full model of another shape than the profile's
    base model: e.g. a `tiny` run's lesson 1 model found by a `small` run in the same artifacts
    folder, which would otherwise be aligned in its place without a word. (A LoRA adapter on the
    wrong base already fails to load, with PEFT's size-mismatch error.)"""
    path = Path(path)
    if not (path / "config.json").exists():
        return
    from transformers import AutoConfig

    found = json.loads((path / "config.json").read_text())
    expected = AutoConfig.from_pretrained(models.base_model_path(profile)).to_dict()
    differ = [f"{k} {found.get(k)} (the {profile.name} profile's base model: {expected.get(k)})"
              for k in SHAPE if found.get(k) != expected.get(k)]
    if differ:
        raise ValueError(f"{path / 'config.json'} is a model of another profile: " + ", ".join(differ) +
                         f". Run lesson 1 on {profile.name} with its own artifacts folder (tasks.py workbook "
                         "--out, or the notebook's artifacts_dir), or move that folder away; nothing was changed.")


def load_sft_policy(path, profile: Profile):
    """(model, tokenizer) of the SFT model, ready to be aligned further.

    A LoRA SFT adapter is merged into its base first, so that a new adapter trained on top has the
    SFT model (not the raw base) as its reference when disabled.
    """

    path = Path(path)
    check_built_for(path, profile)
    tokenizer = models.load_tokenizer(path)
    if (path / "adapter_config.json").exists():
        from peft import PeftModel

        base = models.load_causal_lm(models.base_model_path(profile), profile)
        model = PeftModel.from_pretrained(base, str(path)).merge_and_unload()
    else:
        model = models.load_causal_lm(path, profile)
    return model, tokenizer


def load_trainable_policy(sft_path, profile: Profile):
    """(model, tokenizer) of the SFT model with a fresh LoRA adapter on top where the profile trains
    adapters (its reference is then the adapter switched off); the full model elsewhere."""
    model, tokenizer = load_sft_policy(sft_path, profile)
    config = models.lora_config(profile)
    if config is not None:
        from peft import get_peft_model

        model = get_peft_model(model, config)
    return model, tokenizer


def load_ppo_policy(artifacts_dir, sft_path, profile: Profile):
    """Lesson 4's saved PPO policy, or ``None`` (with a message naming the notebook) where it was
    not run: a LoRA adapter on the merged SFT model, or a full checkpoint, as lesson 4 saved it."""
    path = Path(artifacts_dir) / "04_ppo_kl_penalty" / "ppo_policy"
    if (path / "adapter_config.json").exists():
        from peft import PeftModel

        return PeftModel.from_pretrained(load_sft_policy(sft_path, profile)[0], str(path))
    if (path / "config.json").exists():
        return load_sft_policy(path, profile)[0]
    print(f"{path} not found: run notebooks/04_ppo_kl_penalty.ipynb to compare with PPO")
    return None


FRONTIER_FILE = "frontier_points.json"


def save_frontier_points(folder, points: list[dict]) -> Path:
    """Write lesson 4's reward–KL points (one dict per run: method, beta, kl, judge, ...) for lesson 5."""
    path = Path(folder) / FRONTIER_FILE
    path.write_text(json.dumps(points, indent=1))
    return path


def load_frontier_points(artifacts_dir) -> list[dict]:
    """Lesson 4's reward–KL points, or ``[]`` (with a message naming the notebook) where it was not run."""
    path = Path(artifacts_dir) / "04_ppo_kl_penalty" / FRONTIER_FILE
    if not path.exists():
        print(f"{path} not found: run notebooks/04_ppo_kl_penalty.ipynb to add PPO's points")
        return []
    return json.loads(path.read_text())


# --- held-out replies, saved by one lesson and rescored by another (lesson 5 -> lesson 7) -----

REPLIES_FILE = "heldout_replies.json"


def save_policy_replies(folder, prompts: list[str], policies: dict[str, dict[str, list]],
                        baseline: str | None = None, treatment: str | None = None) -> Path:
    """Write each policy's replies to the same held-out ``prompts`` (and per-reply scores, e.g.
    ``{"SFT": {"replies": [...], "reward": [...]}}``) to ``folder/heldout_replies.json``, so a
    later lesson can rescore them without generating again; ``baseline`` and ``treatment``, where
    given, name the comparison the lesson drew (e.g. "SFT" and "DPO beta 0.1"). The file is an evaluation
    output: a re-run of the lesson replaces it."""
    for role in (baseline, treatment):
        if role is not None and role not in policies:
            raise ValueError(f"{role!r} is not one of the policies {list(policies)}")
    for name, columns in policies.items():
        for column, values in columns.items():
            if len(values) != len(prompts):
                raise ValueError(f"policy {name!r}, {column!r}: {len(values)} values for {len(prompts)} prompts")
    path = Path(folder) / REPLIES_FILE
    clean = {name: {column: [v if isinstance(v, str) else float(v) for v in values]
                    for column, values in columns.items()} for name, columns in policies.items()}
    path.write_text(json.dumps({"prompts": list(prompts), "baseline": baseline, "treatment": treatment,
                                "policies": clean}, indent=1, ensure_ascii=False) + "\n")
    return path


def load_policy_replies(artifacts_dir, lesson: str) -> dict | None:
    """What :func:`save_policy_replies` wrote under ``artifacts_dir/<lesson>``, or None if the lesson
    has not been run. A file that does not have that shape is refused with its path and the field."""
    path = Path(artifacts_dir) / lesson / REPLIES_FILE
    if not path.exists():
        return None
    try:
        found = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {err.lineno}: not valid JSON ({err.msg}); re-run notebooks/{lesson}.ipynb") from None
    prompts = found.get("prompts") if isinstance(found, dict) else None
    policies = found.get("policies") if isinstance(found, dict) else None
    if not isinstance(prompts, list) or not isinstance(policies, dict) or not policies:
        raise ValueError(f"{path}: needs a 'prompts' list and a non-empty 'policies' object")
    for role in ("baseline", "treatment"):
        if found.get(role) is not None and found[role] not in policies:
            raise ValueError(f"{path}: field {role!r} must name one of the policies {list(policies)}")
    for name, columns in policies.items():
        replies = columns.get("replies") if isinstance(columns, dict) else None
        if not isinstance(replies, list) or len(replies) != len(prompts):
            raise ValueError(f"{path}: policy {name!r}: 'replies' must be a list of {len(prompts)} texts")
        for column, values in columns.items():
            if not isinstance(values, list) or len(values) != len(prompts):
                raise ValueError(f"{path}: policy {name!r}, field {column!r}: needs {len(prompts)} values")
    return found
