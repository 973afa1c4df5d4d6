"""Notebooks 04 (PPO) and 05 (DPO) executed headless on `tiny`, in one artifacts folder.

Notebook 04 runs standalone (it trains quick versions of lesson 1's SFT model and lesson 3's reward
model and judge through helpers.workbook.upstream); notebook 05 then runs on the same folder, so its
reward–KL frontier includes lesson 4's measured PPO points.
"""
import json

import pytest


pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def chain_04_05(notebook_runs):
    # one seed per method in the budget comparison (tiny's default is three, about 3 min more a seed in CI)
    return notebook_runs("04", chain="04-05", budget_seeds=1)


@pytest.fixture(scope="module")
def run_04(chain_04_05):
    return chain_04_05.records


@pytest.fixture(scope="module")
def artifacts(chain_04_05):
    return chain_04_05.artifacts


@pytest.fixture(scope="module")
def run_05(run_04, notebook_runs):
    return notebook_runs("05", chain="04-05").records


@pytest.fixture(scope="module")
def run_04_small(notebook_runs):
    # beta = 0 trains 48 steps: 12 (the lesson's budget) are too few for a real model to drift
    return notebook_runs("04", profile="small", chain="small", beta0_steps=48).records


@pytest.fixture(scope="module")
def run_05_small(run_04_small, notebook_runs):
    return notebook_runs("05", profile="small", chain="small").records


def test_figures_show_inline(run_04, run_05):
    assert run_04["inline_figures"] >= 1 and run_05["inline_figures"] >= 1


def test_ppo_raises_the_reward_with_the_kl_in_its_band(run_04):
    assert run_04["ppo_reward_gain"] > 0.3          # standardised units: SFT rewards have sd 1
    assert run_04["ppo_final_kl"] < 1.5 * run_04["ppo_target_kl"]


def test_beta_zero_over_optimises(run_04):
    # no penalty: the KL runs away (a large beta barely moves at all)
    assert run_04["beta0_final_kl"] > 3 * run_04["ppo_final_kl"]
    assert run_04["beta0_final_kl"] > 5 * run_04["ppo_large_final_kl"]
    # its replies fill with the RM's blind spot (money amounts), which the SFT model rarely writes
    # (not compared with the small-beta run: on `tiny` that run also writes loops the detectors
    # count, and which of the two loops more changed with the seed and the machine)
    assert run_04["beta0_hack_rate"] > run_04["sft_hack_rate"] + 0.2
    # the RM gains more than the held-out judge agrees with, and more so than with the penalty
    assert run_04["beta0_judge_minus_rm_gap"] < -0.1
    assert run_04["beta0_judge_minus_rm_gap"] < run_04["small_beta_judge_minus_rm_gap"]


def test_the_judge_minus_rm_gaps_carry_intervals(run_04):
    for key in ("beta0_judge_minus_rm_gap", "small_beta_judge_minus_rm_gap"):
        assert run_04[f"{key}_ci_low"] < run_04[key] < run_04[f"{key}_ci_high"], key


def test_the_independent_judge_confirms_less_of_beta_zeros_gain_than_the_second_reward_model(run_04):
    # lesson 3's second RM shares the RM's backbone and data, so it shares its blind spot; the
    # independent judge (Likert ratings, a frozen SmolLM2, ridge) does not
    assert run_04["beta0_independent_minus_rm_gap_ci_high"] < 0
    assert run_04["beta0_independent_minus_rm_gap"] < run_04["beta0_judge_minus_rm_gap"] - 0.3


def test_rloo_and_grpo_also_learn_from_the_same_reward(run_04):
    assert run_04["rloo_reward_gain"] > 0.3 and run_04["grpo_reward_gain"] > 0.3
    for method in ("rloo", "grpo"):
        assert run_04[f"eval_reward_{method}"] > run_04["eval_reward_sft"]


def test_the_three_methods_get_one_budget_of_generated_tokens(run_04):
    budget, step = run_04["token_budget"], 16 * 48   # at most one step of 16 replies of 48 tokens over
    for method in ("rloo", "grpo"):
        assert budget <= run_04[f"{method}_budget_tokens"] <= budget + step, method
    assert 0.5 * budget < run_04["ppo_budget_tokens"] <= budget + step   # may stop short at its step cap


def test_the_most_efficient_method_is_named_only_from_its_intervals(run_04):
    assert run_04["budget_seeds"] == 1
    for method in ("ppo", "rloo", "grpo"):
        for measure in ("gain_per_ktok", "judge_gain_sd", "heldout_reward_gain_sd", "gain_per_cpu_s"):
            key = f"{method}_{measure}"
            assert run_04[f"{key}_ci_low"] < run_04[key] < run_04[f"{key}_ci_high"], key
    pairs = {("rloo", "ppo"), ("grpo", "ppo"), ("grpo", "rloo")}

    def separated(a, b):  # a's gain per 1,000 tokens above b's, interval excluding 0
        key = f"{a}_minus_{b}_gain_per_ktok" if (a, b) in pairs else f"{b}_minus_{a}_gain_per_ktok"
        sign = 1 if (a, b) in pairs else -1
        return (run_04[f"{key}_ci_low"] > 0) if sign > 0 else (run_04[f"{key}_ci_high"] < 0)

    best = max(("ppo", "rloo", "grpo"), key=lambda m: run_04[f"{m}_gain_per_ktok"])
    clear = all(separated(best, other) for other in ("ppo", "rloo", "grpo") if other != best)
    assert run_04["budget_leader"] == (best.upper() if clear else "tie")


def test_ppo_and_rloo_are_compared_with_intervals(run_04):
    for key in ("ppo_judge_gain_sd", "rloo_judge_gain_sd", "rloo_minus_ppo_judge_gain_sd"):
        assert run_04[f"{key}_ci_low"] <= run_04[key] <= run_04[f"{key}_ci_high"], key
        assert run_04[f"{key}_ci_high"] - run_04[f"{key}_ci_low"] > 0, key
    # the difference is the gap between the two paired gains (same complaints, same SFT replies)
    assert run_04["rloo_minus_ppo_judge_gain_sd"] == pytest.approx(
        run_04["rloo_judge_gain_sd"] - run_04["ppo_judge_gain_sd"], abs=1e-6)


def test_lesson_4_saves_its_policy_and_frontier(run_04, artifacts):
    out = artifacts / "04_ppo_kl_penalty"
    assert (out / "ppo_policy" / "config.json").exists()
    points = json.loads((out / "frontier_points.json").read_text())
    assert {p["method"] for p in points} == {"SFT", "PPO", "RLOO", "GRPO"}
    # lesson 4 ran standalone: the upstream stand-ins say where they came from
    assert "notebook 04" in (artifacts / "01_sft_formal_emails" / "sft_model" / "BUILT_BY.txt").read_text()


def test_dpo_learns_the_held_out_preferences(run_05):
    assert run_05["dpo_pref_accuracy"] >= 0.7


def test_the_judge_prefers_dpo_over_sft(run_05):
    assert run_05["dpo_judge_gain"] > 0
    assert run_05["dpo_win_rate"] > 0.5
    assert run_05["dpo_kl"] > 0


def test_every_gain_and_win_rate_compared_carries_an_interval(run_05):
    for key in ("dpo_judge_gain", "dpo_win_rate", "ppo_judge_gain", "ppo_win_rate", "dpo_minus_ppo_judge_gain"):
        value = run_05[key if key != "ppo_judge_gain" else "ppo_judge_gain_here"]
        assert run_05[f"{key}_ci_low"] <= value <= run_05[f"{key}_ci_high"], key
        assert run_05[f"{key}_ci_high"] - run_05[f"{key}_ci_low"] > 0, key  # a real interval, not a point


def test_the_frontiers_best_point_is_examined_before_it_is_called_best(run_05):
    # on `tiny` the highest judge score usually belongs to the runaway beta = 0 PPO policy (tens of
    # nats from SFT), whose replies are surface hacks: the notebook must then say so. Which point
    # scores highest varies between runs of the same code (one run here: best point at 21.5 nats,
    # DPO at 23.9), so the check applies where the best point is the far one
    if run_05["frontier_best_kl"] > 2 * run_05["dpo_kl"]:
        assert run_05["frontier_best_is_hacked"]
    assert run_05["frontier_best_kl"] >= 0


def test_lesson_5_saves_its_held_out_replies_for_lesson_7(run_05, artifacts):
    from helpers.workbook import upstream

    saved = upstream.load_policy_replies(artifacts, "05_dpo")
    assert saved["baseline"] == "SFT" and saved["treatment"].startswith("DPO beta")
    for columns in saved["policies"].values():
        assert set(columns) == {"replies", "reward", "judge"}
    assert saved["policies"]["SFT"]["replies"] != saved["policies"][saved["treatment"]]["replies"]


def test_the_frontier_has_measured_points_of_both_methods(run_05):
    assert run_05["frontier_dpo_points"] >= 3
    assert run_05["frontier_ppo_points"] >= 5   # beta 0, small, large, RLOO, GRPO


# On `small` (marker `long` too: about 20 and 9 minutes, so only `tasks.py test --profile small`)

def on_small(test):
    return pytest.mark.small(pytest.mark.long(test))


@on_small
def test_small_ppo_rloo_and_grpo_raise_the_reward_on_unseen_complaints(run_04_small):
    r = run_04_small
    assert r["ppo_reward_gain"] > 0.2, r                           # standardised: SFT rewards have sd 1
    assert 0.5 < r["ppo_final_kl"] < 1.5 * r["ppo_target_kl"], r   # moved, and inside the band
    assert r["ppo_large_final_kl"] < 0.5 * r["ppo_final_kl"], r    # a large beta holds the policy close
    assert r["eval_reward_ppo"] > r["eval_reward_sft"] and r["eval_judge_ppo"] > r["eval_judge_sft"], r
    for method in ("rloo", "grpo"):   # groups of 4 replies per complaint (with 2, GRPO's reward fell)
        assert r[f"eval_reward_{method}"] > r["eval_reward_sft"] and r[f"eval_judge_{method}"] > r["eval_judge_sft"], r
        assert r[f"{method}_heldout_reward_gain_sd_ci_low"] > 0 and r[f"{method}_judge_gain_sd_ci_low"] > 0, r
        assert 0.5 < r[f"{method}_final_kl"] < 1.5 * r["ppo_target_kl"], r   # per reply, inside the same band
    assert r["budget_leader"] in ("PPO", "RLOO", "GRPO", "tie"), r
    assert r["small_beta_hack_rate"] <= 0.1, r
    assert r["inline_figures"] >= 1


@on_small
def test_small_dpo_moves_the_policy_and_the_judge_prefers_it(run_05_small):
    r = run_05_small
    assert r["dpo_kl"] > 1.0, r  # it moved (at lr 1e-4 the same 11 steps moved 0.14 nats per reply)
    assert r["dpo_win_rate"] >= 0.6 and r["dpo_judge_gain"] > 0, r
    assert r["dpo_pref_accuracy"] >= 0.8 and r["dpo_probe_pass_rate"] >= 0.85, r
    assert r["dpo_hack_rate"] <= 0.1, r
    assert r["inline_figures"] >= 1


@on_small
def test_small_beta_zero_runs_away_given_steps(run_04_small):
    # measured (seed 0): training KL 44.9 nats per reply (adaptive 3.5), 79% of the replies to the unseen
    # complaints flagged as surface hacks (adaptive 0%); a run before the LoRA fold changed the samples' rounding: 29%
    r = run_04_small
    assert r["beta0_steps"] == 48
    assert r["beta0_final_kl"] > 3 * r["ppo_final_kl"], r
    assert r["beta0_hack_rate"] >= r["sft_hack_rate"] + 0.15, r
