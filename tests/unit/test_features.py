"""helpers.metrics.surface_features and politeness_features: the hand-made signals the trait scorers add
to MiniLM embeddings move the way a reader expects on texts whose register is plain to see."""
import numpy as np
import pytest

from helpers.metrics import politeness_features, surface_features

FORMAL = "Dear Ms Patel, Thank you for your message. I have arranged a replacement, which will arrive on Friday."
CASUAL = "hey lol ur parcel's fine, it's coming friday!!! dont worry :)"


def feature(text: str, name: str) -> float:
    return surface_features.surface_features([text])[0, surface_features.FEATURE_NAMES.index(name)]


def test_one_row_of_every_feature_per_text():
    rows = surface_features.surface_features([FORMAL, CASUAL, ""])
    assert rows.shape == (3, len(surface_features.FEATURE_NAMES)) and rows.dtype == np.float64
    assert np.isfinite(rows).all()
    assert surface_features.surface_features([]).shape == (0, len(surface_features.FEATURE_NAMES))


@pytest.mark.parametrize("name", ["exclamations", "punct_runs", "slang", "emoji", "contractions"])
def test_casual_signals_fire_on_the_casual_text_only(name):
    assert feature(CASUAL, name) > feature(FORMAL, name) == 0


@pytest.mark.parametrize("name", ["initial_capital", "ends_with_stop", "long_words", "commas"])
def test_formal_signals_are_stronger_in_the_formal_text(name):
    assert feature(FORMAL, name) > feature(CASUAL, name)


def test_figures_and_shouting():
    assert feature("Order WS-6158 for $42", "figures") == pytest.approx(2 / 4)
    assert feature("WHERE IS MY ORDER", "shouting") == 1 and feature(FORMAL, "shouting") == 0


def test_politeness_strategies_mark_their_phrases():
    markers = politeness_features.strategy_markers("Hi, could you please check my order? Thanks so much!")
    assert markers["greeting"] == markers["counterfactual_modal"] == markers["please"] == markers["gratitude"] == 1
    assert markers["question_mark"] == 1 and markers["apologizing"] == 0
    rude = politeness_features.strategy_markers("Why is this broken?? Fix it.")
    assert rude["direct_question"] == rude["negative_lexicon"] == rude["shouting_punct"] == 1
    assert rude["gratitude"] == rude["please"] == 0


def test_politeness_rows_follow_the_strategy_names():
    rows = politeness_features.politeness_features(["Sorry, please help.", ""])
    assert rows.shape == (2, len(politeness_features.STRATEGY_NAMES))
    assert rows[1].sum() == 0 and rows[0, politeness_features.STRATEGY_NAMES.index("apologizing")] == 1
