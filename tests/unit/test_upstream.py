"""Held-out replies one lesson saves and another rescores, and the check that a lesson 1 model fits
the profile (helpers.workbook.upstream)."""
import json
from pathlib import Path

import pytest

from helpers.workbook import upstream

PROMPTS = ["My parcel is late.", "The kettle leaks."]
POLICIES = {"SFT": {"replies": ["Sorry.", "We will look."], "reward": [0.1, -0.2]},
            "DPO": {"replies": ["I am sorry it is late.", "I am sorry, a new kettle is on its way."], "reward": [1, 2]}}


def test_saved_replies_load_back(tmp_path):
    (tmp_path / "05_dpo").mkdir()
    path = upstream.save_policy_replies(tmp_path / "05_dpo", PROMPTS, POLICIES, baseline="SFT", treatment="DPO")
    found = upstream.load_policy_replies(tmp_path, "05_dpo")
    assert path.name == upstream.REPLIES_FILE
    assert found["prompts"] == PROMPTS and found["baseline"] == "SFT" and found["treatment"] == "DPO"
    assert found["policies"]["DPO"]["reward"] == [1.0, 2.0]
    assert found["policies"]["SFT"]["replies"] == POLICIES["SFT"]["replies"]


def test_a_lesson_not_run_gives_none(tmp_path):
    assert upstream.load_policy_replies(tmp_path, "05_dpo") is None


def test_mismatched_lengths_and_roles_are_refused(tmp_path):
    with pytest.raises(ValueError, match="'reward': 1 values for 2 prompts"):
        upstream.save_policy_replies(tmp_path, PROMPTS, {"SFT": {"replies": ["a", "b"], "reward": [1]}},
                                     baseline="SFT", treatment="SFT")
    with pytest.raises(ValueError, match="'PPO' is not one of the policies"):
        upstream.save_policy_replies(tmp_path, PROMPTS, POLICIES, baseline="SFT", treatment="PPO")


@pytest.mark.parametrize("content, message", [
    ("{not json", "line 1: not valid JSON"),
    (json.dumps({"prompts": PROMPTS, "policies": {}}), "non-empty 'policies'"),
    (json.dumps({"prompts": PROMPTS, "baseline": "SFT", "treatment": "DPO",
                 "policies": {"SFT": {"replies": ["a"]}, "DPO": {"replies": ["a", "b"]}}}), "policy 'SFT': 'replies'"),
    (json.dumps({"prompts": PROMPTS, "baseline": "SFT", "treatment": "RLHF",
                 "policies": {"SFT": {"replies": ["a", "b"]}}}), "field 'treatment'"),
])
def test_a_damaged_file_names_itself_and_the_field(tmp_path, content, message):
    (tmp_path / "05_dpo").mkdir()
    (tmp_path / "05_dpo" / upstream.REPLIES_FILE).write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        upstream.load_policy_replies(tmp_path, "05_dpo")
    assert "heldout_replies.json" in str(err.value)


def test_judge_rows_are_a_seeded_subset():
    rows = [{"i": i} for i in range(100)]
    picked = upstream.judge_rows(rows, seed=0)
    assert len(picked) == 70 and picked == upstream.judge_rows(rows, seed=0)
    assert picked != upstream.judge_rows(rows, seed=1)


def test_a_model_of_another_profile_is_refused_by_name(tmp_path):
    from helpers import get_profile
    from helpers.core import models

    P = get_profile("tiny")
    own = tmp_path / "own"
    own.mkdir()
    (own / "config.json").write_text((Path(models.base_model_path(P)) / "config.json").read_text())
    upstream.check_built_for(own, P)                       # the profile's own shape passes
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((own / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "hidden_size": 576, "num_hidden_layers": 30}))
    with pytest.raises(ValueError, match=r"other/config.json .*hidden_size 576 .*num_hidden_layers 30"):
        upstream.check_built_for(other, P)
    upstream.check_built_for(tmp_path / "adapter_only", P)  # no config.json: PEFT checks an adapter's base
