"""Training from the command line, for one process or many (``accelerate launch``): the same
training helpers lessons 1, 3 and 5 use.

    python -m helpers.workbook.train sft --profile tiny --out runs/sft --max-steps 10
    accelerate launch --multi_gpu --num_processes 2 -m helpers.workbook.train sft --profile tiny --out runs/sft2

Under ``accelerate launch`` TRL's trainers run data-parallel (gloo on CPU, NCCL on GPUs; DeepSpeed
or FSDP through an accelerate config file). On a machine without GPUs ``--multi_gpu`` starts the
processes with torchrun and they train on the CPU over gloo (``--cpu`` would start a single
process unless MPI is set up). Each process trains on its own shard of every batch; the gradients
are averaged. The main process saves the model to ``OUT/model`` and every
process writes ``OUT/process-<rank>.json`` (world size, its batches and steps, final loss), so a
run can be checked afterwards.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from helpers import get_profile, preferences
from helpers.core import data, models
from helpers.core.checkpoints import save_model
from helpers.dpo import train_dpo
from helpers.rewards import train_reward_model
from helpers.sft import train_sft
from helpers.workbook.quiet import quiet_libraries

TASKS = ("sft", "dpo", "reward")


def train(task: str, profile_name: str, out: str | Path, seed: int = 0, max_steps: int | None = None,
          model: str | None = None):
    """Train ``task`` on the workbook's data; returns the trainer."""

    profile, out = get_profile(profile_name), Path(out)
    steps = {"max_steps": max_steps} if max_steps else {}
    if task == "sft":
        trainer = train_sft(data.load_formal_emails("train"), profile, out / "run", seed, base_path=model, **steps)
    elif task == "dpo":
        path = model or models.base_model_path(profile)
        rows = list(preferences.load_preferences_for_training(out / "no-artifacts"))
        trainer = train_dpo(models.load_causal_lm(path, profile), models.load_tokenizer(path), rows, profile,
                            out / "run", seed, beta=profile.dpo.beta,
                            peft_config=models.lora_config(profile) if profile.use_lora else None, **steps)
    elif task == "reward":
        _, trainer = train_reward_model(data.load_empathy_pairs("train"), profile, out / "run", seed,
                                        backbone=model, **steps)
    else:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    import torch.distributed as dist

    accelerator = trainer.accelerator
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    report = {"task": task, "world_size": accelerator.num_processes, "rank": accelerator.process_index,
              "backend": dist.get_backend() if dist.is_available() and dist.is_initialized() else None,
              "batches_per_epoch": len(trainer.get_train_dataloader()), "steps": trainer.state.global_step,
              "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"process-{accelerator.process_index}.json").write_text(json.dumps(report, indent=1))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_model(trainer.model, trainer.processing_class, out / "model")
    return trainer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.workbook.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--out", required=True, help="folder for the model and the per-process reports")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    parser.add_argument("--model", help="start from this model folder (default: the profile's base model)")
    args = parser.parse_args(argv)

    quiet_libraries()
    train(args.task, args.profile, args.out, args.seed, args.max_steps, args.model)


if __name__ == "__main__":
    main()
