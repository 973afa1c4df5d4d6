"""The independent empathy judge (helpers.likert_judge): its data, its features and its fit."""
import numpy as np
import pytest

from helpers import likert_judge
from helpers.core import data, tiny_model
from helpers.core.models import load_tokenizer


def test_the_judge_shares_no_complaint_and_no_reply_with_the_reward_models_pairs():
    prompts, replies, ratings = likert_judge.likert_training_data()
    pairs = data.load_empathy_pairs("train") + data.load_empathy_pairs("test")
    assert len(prompts) == len(replies) == len(ratings) >= 100
    assert likert_judge.shared_complaints(prompts, pairs) == set()
    assert not set(replies) & ({p["chosen"] for p in pairs} | {p["rejected"] for p in pairs})
    assert 1 <= ratings.min() < ratings.max() <= 5


def test_shared_complaints_finds_an_overlap():
    rows = [{"prompt": "a"}, {"prompt": "b"}]
    assert likert_judge.shared_complaints(["b", "c"], rows) == {"b"}


def test_ridge_recovers_a_linear_rating_and_cross_validation_prefers_the_small_penalty():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(120, 6))
    targets = 3 + features @ np.array([0.5, -0.3, 0.0, 0.2, 0.0, 0.1])
    fit = likert_judge.fit_ridge(features, targets, alpha=1e-6)
    assert np.allclose(likert_judge._predict(fit, features), targets, atol=1e-4)
    groups = [f"complaint {i // 2}" for i in range(120)]
    best, scores = likert_judge.choose_alpha(features, targets, groups, alphas=(1e-3, 1e4))
    assert best == 1e-3 and scores[1e-3] > 0.99


def test_a_large_penalty_shrinks_towards_the_mean_rating():
    rng = np.random.default_rng(1)
    features, targets = rng.normal(size=(50, 4)), rng.normal(3, 1, size=50)
    fit = likert_judge.fit_ridge(features, targets, alpha=1e9)
    assert np.allclose(likert_judge._predict(fit, features), targets.mean(), atol=1e-3)


@pytest.fixture(scope="module")
def tiny_lm():
    import torch
    from transformers import AutoModelForCausalLM

    path = tiny_model.build_tiny_base()
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    tokenizer = load_tokenizer(path)
    tokenizer.padding_side = "right"
    return model, tokenizer


def test_a_replys_features_do_not_depend_on_the_batch_it_is_padded_in(tiny_lm):
    short, long = "We are sorry.", "We are very sorry for the delay and have refunded the delivery fee today."
    alone = likert_judge.reply_features(*tiny_lm, [short])
    batched = likert_judge.reply_features(*tiny_lm, [short, long])
    assert alone.shape[1] == 2 * tiny_lm[0].config.hidden_size
    assert np.allclose(alone[0], batched[0], atol=1e-4)
    assert not np.allclose(batched[0], batched[1], atol=1e-2)


def test_the_judge_refuses_prompts_and_replies_of_different_lengths(tiny_lm):
    judge = likert_judge.LikertJudge(*tiny_lm, fit={}, alpha=1.0, cv_spearman={})
    with pytest.raises(ValueError, match="2 prompts for 1 replies"):
        judge.score(["a", "b"], ["x"])
    assert judge.score([], []) == []
