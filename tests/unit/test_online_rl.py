"""helpers.online_rl: the token budget, lesson 4's comparison of methods on it, and
judge_eval.two_level_mean, on small fixtures; GRPO and RLOO run end to end on the tiny base."""
from types import SimpleNamespace

import numpy as np
import pytest

from helpers import online_rl
from helpers.metrics import judge_eval
from helpers import dpo


def test_the_token_budget_stops_training_once_reached():
    budget = online_rl.TokenBudget(max_tokens=100, replies_per_step=4)
    control = SimpleNamespace(should_training_stop=False)
    for length in (10.0, 10.0):                       # 40 tokens a step
        budget.on_log(None, None, control, logs={"completions/mean_length": length})
        assert not control.should_training_stop
    budget.on_log(None, None, control, logs={"loss": 0.1})   # a row without lengths is not a step
    budget.on_log(None, None, control, logs={"completions/mean_length": 7.5})
    assert control.should_training_stop and budget.tokens == 110 and budget.steps == 3
    assert budget.per_step == [40, 40, 30]


def test_no_budget_never_stops_training():
    budget = online_rl.TokenBudget(max_tokens=None, replies_per_step=8)
    control = SimpleNamespace(should_training_stop=False)
    budget.on_log(None, None, control, logs={"completions/mean_length": 1e6})
    assert not control.should_training_stop


def test_unknown_methods_are_refused():
    with pytest.raises(ValueError, match="rloo"):
        online_rl.train_online("ppo", None, None, None, [], None, "/tmp/x", 0, steps=1, beta=0.1, learning_rate=1e-3)


@pytest.mark.parametrize("num_generations", [1, 3])
def test_groups_that_do_not_fill_a_step_are_refused(num_generations):
    with pytest.raises(ValueError, match="divide batch_size"):
        online_rl.train_online("rloo", None, None, None, [], None, "/tmp/x", 0, steps=1, beta=0.1, learning_rate=1e-3,
                               batch_size=8, num_generations=num_generations)


def test_two_level_mean_counts_seed_to_seed_spread():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(1, 30))
    alike = np.repeat(items, 3, axis=0)                  # three seeds that agree
    apart = alike + np.array([[-1.0], [0.0], [1.0]])     # three seeds that do not, same mean
    one, same, spread = (judge_eval.two_level_mean(m, seed=1) for m in (items, alike, apart))
    assert one.value == pytest.approx(items.mean()) and spread.value == pytest.approx(items.mean())
    assert one.low < one.value < one.high
    assert (spread.high - spread.low) > 2 * (same.high - same.low)
    assert judge_eval.two_level_mean(items, seed=1) == one  # deterministic


def test_two_level_mean_rejects_a_vector():
    with pytest.raises(ValueError, match="runs, items"):
        judge_eval.two_level_mean(np.ones(5))


def run(method, seed, gain, tokens, rng):
    return online_rl.BudgetRun(method, seed, tokens=tokens, seconds=10.0, steps=5,
                               reward_gain=gain + 0.3 * rng.normal(size=24), judge_gain=rng.normal(size=24),
                               kl=2.0, hack_rate=0.0)


def test_the_comparison_names_a_leader_only_when_its_intervals_allow():
    rng = np.random.default_rng(0)
    clear = [run("PPO", s, 1.0, 1000, rng) for s in range(3)] + [run("RLOO", s, 0.2, 1000, rng) for s in range(3)]
    result = online_rl.compare_on_budget(clear, threads=2)
    assert result.leader == "PPO" and result.tied == ["PPO"]
    assert result.differences[("PPO", "RLOO")].low > 0
    per_ktok = result.estimates["PPO"]["reward_gain_per_ktok"].value
    assert per_ktok == pytest.approx(result.estimates["PPO"]["reward_gain"].value, rel=1e-9)  # 1,000 tokens
    assert result.estimates["PPO"]["reward_gain_per_cpu_s"].value == pytest.approx(
        result.estimates["PPO"]["reward_gain"].value / 20)
    assert set(result.table.index) == {"PPO", "RLOO"} and "reward_gain_per_ktok 95% CI" in result.table
    judge = result.judge_differences[("PPO", "RLOO")]  # of the judge's gains, not the reward's
    assert judge.low < judge.value < judge.high
    assert judge.value == pytest.approx(result.estimates["PPO"]["judge_gain"].value
                                        - result.estimates["RLOO"]["judge_gain"].value)
    assert judge.value == pytest.approx(-result.judge_differences[("RLOO", "PPO")].value)


def test_the_same_gain_over_more_tokens_is_worth_less_per_token():
    rng = np.random.default_rng(1)
    runs = [run("GRPO", s, 1.0, 1000, rng) for s in range(2)] + [run("RLOO", s, 1.0, 4000, rng) for s in range(2)]
    result = online_rl.compare_on_budget(runs, threads=1)
    assert result.leader == "GRPO"


def test_a_tie_is_reported_as_a_tie():
    rng = np.random.default_rng(2)
    runs = [run(m, s, 0.5, 1000, rng) for m in ("PPO", "RLOO", "GRPO") for s in range(2)]
    result = online_rl.compare_on_budget(runs, threads=2)
    assert result.leader is None and len(result.tied) >= 2


def test_methods_must_share_their_seeds():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="same seeds"):
        online_rl.compare_on_budget([run("PPO", 0, 1, 1000, rng), run("RLOO", 1, 1, 1000, rng)], threads=1)


@pytest.fixture(scope="module")
def tiny():
    from helpers import get_profile
    from helpers.core import models

    return models.load_base(get_profile("tiny"))


@pytest.mark.parametrize("method", online_rl.METHODS)
def test_trl_runs_stop_at_the_budget_and_log_curves(tiny, tmp_path, method):
    from helpers import get_profile

    model, tokenizer = tiny
    P = get_profile("tiny")
    timer = {}
    length = lambda prompts, replies: [len(r.split()) / 10 for r in replies]  # noqa: E731
    trainer = online_rl.train_online(method, model, tokenizer, length, ["A late parcel.", "A double charge."] * 4, P,
                                     tmp_path, 0, steps=20, beta=0.05, learning_rate=1e-4, batch_size=4,
                                     max_new_tokens=8, max_generated_tokens=40, timer=timer)
    budget = trainer.token_budget
    assert budget.tokens >= 40 and budget.tokens - budget.per_step[-1] < 40   # stopped at the step that reached it
    assert budget.steps == trainer.state.global_step < 20
    curve = online_rl.trl_curve(trainer)
    assert list(curve.columns) == ["step", "tokens", *online_rl.CURVE_KEYS]
    assert curve["tokens"].iloc[-1] == pytest.approx(budget.tokens) and curve["tokens"].is_monotonic_increasing
    assert timer["generate"] > 0 and timer["score"] >= 0


def test_conversational_rows_keep_the_text():
    rows = dpo.conversational([{"prompt": "p", "chosen": "c", "rejected": "r", "extra": 1}])
    assert rows == [{"prompt": [{"role": "user", "content": "p"}], "chosen": [{"role": "assistant", "content": "c"}],
                     "rejected": [{"role": "assistant", "content": "r"}]}]
    assert dpo.conversational(rows) == rows
    assert dpo.plain(rows[0]["chosen"]) == "c" and dpo.plain("c") == "c"


def test_rloo_reward_function_passes_plain_text_to_the_scorer():
    seen = {}

    def score(prompts, replies):
        seen["args"] = (prompts, replies)
        return [1.0] * len(prompts)

    reward = online_rl.reward_function(score)
    out = reward([[{"role": "user", "content": "hello"}]], [[{"role": "assistant", "content": " hi there "}]])
    assert out == [1.0] and seen["args"] == (["hello"], ["hi there"])
    assert reward.__name__ == "reward_model"
