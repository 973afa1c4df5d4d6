"""Tracking: a short PPO run and a short TRL SFT run logged to trackio in a temporary folder
(no network), then read back from its store."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from helpers.core import tracking
from helpers.core.paths import REPO_ROOT

SCRIPT = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, "tests/unit")
    from helpers import get_profile, sft
    from helpers.core import data, tracking
    from test_ppo import bandit
    tracking.use("trackio", project="tracking-test")
    bandit(beta=0.1, steps=3)
    sft.train_sft(data.load_formal_emails("train")[:8], get_profile("tiny"), sys.argv[1], 0, max_steps=2)
    from trackio.sqlite_storage import SQLiteStorage
    runs = SQLiteStorage.get_runs("tracking-test")
    print(json.dumps({run: SQLiteStorage.get_logs("tracking-test", run) for run in runs}, default=str))
''')


def test_ppo_and_trl_runs_are_logged_to_trackio_and_read_back(tmp_path):
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "sft")], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    logs = json.loads(done.stdout.strip().splitlines()[-1])
    ppo_run = logs.pop("ppo-beta0.1")
    assert [row["step"] for row in ppo_run] == [1, 2, 3]
    for key in ("reward", "kl", "beta", "entropy", "length", "clip_fraction", "value_loss", "policy_loss"):
        assert all(key in row for row in ppo_run), key
    (sft_run,) = logs.values()  # TRL's run, named after its output folder
    assert any("loss" in row or "train/loss" in row for row in sft_run)
    assert (tmp_path / "trackio" / "tracking-test.db").exists()


def test_tracking_is_off_unless_asked():
    assert tracking.kind() == "none" and tracking.trainer_settings("r") == {"report_to": "none"}
    assert tracking.start_run("r", {}) is None
    with pytest.raises(ValueError, match="choose one of none, trackio, wandb"):
        tracking.use("tensorboard")
