"""One place that turns a profile into TRL configs.

On CPU TRL 1.x needs ``use_cpu=True, bf16=False``; tiny models need far higher learning rates
than TRL's defaults; headless runs should be quiet and save nothing they do not need.
"""
from __future__ import annotations

from pathlib import Path

from helpers.core import tracking
from helpers.core.profiles import Profile


def trl_config(config_class, profile: Profile, output_dir, seed: int, **overrides):
    """Build any TRL config (SFTConfig, RewardConfig, DPOConfig, RLOOConfig, ...) for a profile.

    Keyword overrides win over the profile's choices.
    """
    settings = dict(
        output_dir=str(output_dir),
        seed=seed,
        data_seed=seed,
        use_cpu=profile.use_cpu,
        bf16=profile.precision == "bf16",
        fp16=profile.precision == "fp16",
        per_device_train_batch_size=profile.batch_size,
        per_device_eval_batch_size=profile.batch_size,
        gradient_accumulation_steps=profile.grad_accum,
        activation_checkpointing=not profile.use_cpu,
        **tracking.trainer_settings(run_name=Path(str(output_dir)).name),  # "none" unless a notebook chose a tracker
        save_strategy="no",
        disable_tqdm=True,
        logging_steps=1,
        dataloader_num_workers=0,
    )
    settings.update(overrides)
    score_only_labelled_tokens()
    return config_class(**settings)


def score_only_labelled_tokens() -> None:
    """Make TRL's fused LM head project only the positions that carry a label, on CPU too.

    TRL 1.16's SFT, DPO and RLOO trainers compute log-probabilities through a fused LM head that
    skips prompt and padding positions only on Triton devices (``trl.trainer.utils._use_triton``);
    elsewhere it projects every position onto the 49k-token vocabulary and masks the result to
    zero. The skipped positions' values are discarded either way, so the numbers are the same; on
    lesson 5's DPO batches the step takes about a third less time. Idempotent.
    """
    import trl.trainer.utils as trl_utils

    # a private TRL function: where a release renames it, training keeps TRL's own behaviour
    if not hasattr(trl_utils, "_use_triton") or getattr(trl_utils._use_triton, "scores_labelled_tokens_only", False):
        return
    on_triton = trl_utils._use_triton

    def compact(device) -> bool:
        return device.type == "cpu" or on_triton(device)

    compact.scores_labelled_tokens_only = True
    trl_utils._use_triton = compact


def quiet_trainer(trainer):
    """Drop the callback that prints every log line (the loss curves are plotted instead)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer
