"""`python -m helpers.workbook.train` in one process and under `accelerate launch` with two (CPU, gloo)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.core.paths import REPO_ROOT

ACCELERATE = Path(sys.executable).with_name("accelerate")


def reports(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("process-*.json"))]


def run(cmd, **kw):
    env = {**os.environ, "STYLE_WORKBOOK_THREADS": "1"}  # two processes share the cores
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, **kw)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_processes_share_the_batches_and_save_a_model_that_loads(tmp_path):
    run([sys.executable, "-m", "helpers.workbook.train", "sft", "--profile", "tiny", "--out", str(tmp_path / "one"),
         "--max-steps", "3"])
    run([str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "helpers.workbook.train", "sft", "--profile", "tiny", "--out", str(tmp_path / "two"), "--max-steps", "3"])
    (single,), pair = reports(tmp_path / "one"), reports(tmp_path / "two")
    assert single["world_size"] == 1 and single["backend"] is None
    assert [(r["rank"], r["world_size"], r["backend"]) for r in pair] == [(0, 2, "gloo"), (1, 2, "gloo")]
    assert all(r["batches_per_epoch"] * 2 == single["batches_per_epoch"] for r in pair)  # each its own half
    assert all(r["steps"] == 3 and r["last_loss"] < r["first_loss"] for r in pair)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "two" / "model")
    assert sum(p.numel() for p in model.parameters()) > 1e6


@pytest.mark.parametrize("task", ["dpo", "reward"])
def test_the_other_tasks_train_and_save(tmp_path, task):
    run([sys.executable, "-m", "helpers.workbook.train", task, "--profile", "tiny", "--out", str(tmp_path), "--max-steps", "2"])
    (report,) = reports(tmp_path)
    assert report["steps"] == 2 and report["first_loss"] is not None
    assert (tmp_path / "model" / "config.json").exists()
