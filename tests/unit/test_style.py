import json
from pathlib import Path

import numpy as np
import pytest

from helpers.core import data
from helpers.metrics import style

FIXTURE = Path(__file__).parent / "fixtures" / "formality_general.jsonl"


def general_pairs():
    return [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]


def test_general_fixture_is_not_training_data():
    training = {t.lower() for t in style.formality_training_data()[0]}
    for pair in general_pairs():
        assert pair["formal"].lower() not in training and pair["informal"].lower() not in training


def test_formality_training_data_is_graded_on_the_1_to_7_scale():
    texts, ratings = style.formality_training_data()
    assert len(texts) == len(ratings) and min(ratings) >= 1 and max(ratings) <= 7
    assert len(set(ratings)) >= 10  # graded, not two classes


@pytest.mark.parametrize("scores", [style.formality_scores, style.politeness_scores, style.empathy_scores])
def test_scores_in_unit_interval(scores):
    values = scores(["Dear Sir, I am writing to confirm.", "lol ok", "", "WHY IS THIS STILL BROKEN???"])
    assert len(values) == 4 and all(0.0 <= s <= 1.0 for s in values)
    assert scores([]) == []


def test_scores_are_deterministic():
    texts = ["Could you please confirm the delivery date?", "send it now"]
    assert style.formality_scores(texts) == style.formality_scores(texts)
    assert style.politeness_scores(texts) == style.politeness_scores(texts)


def test_formality_ranks_formal_above_informal_in_general_english():
    pairs = general_pairs()
    formal = style.formality_scores([p["formal"] for p in pairs])
    informal = style.formality_scores([p["informal"] for p in pairs])
    wins = sum(f > i for f, i in zip(formal, informal))
    assert wins >= 19, f"formal ranked above informal in only {wins}/20 pairs"
    # a graded scorer keeps both sides off the ends of the scale; 0.3 is about two rating points
    assert np.mean(formal) - np.mean(informal) > 0.3


def test_formality_reads_register_signals_people_use():
    pairs = [  # (more formal, less formal) with the same words
        ("The committee will meet on Thursday to review the budget.", "the committee will meet on thursday to review the budget"),
        ("Please let me know if the invoice is correct.", "PLEASE LET ME KNOW IF THE INVOICE IS CORRECT!!!"),
        ("I have received your message and will reply tomorrow.", "i have recieved ur mesage and will reply tmrw"),
    ]
    for formal, informal in pairs:
        a, b = style.formality_scores([formal, informal])
        assert a > b + 0.05, (formal, a, b)


def test_a_salutation_alone_is_not_highly_formal():
    """Two words of a letter are not a formal text: fragments sit at or below the middle of the scale
    and well below the formal replies they are cut from."""
    fragments = style.formality_scores(["Dear Customer", "Dear Customer,", "Kind regards", "Dear Sir,"])
    replies = style.formality_scores([r["messages"][1]["content"] for r in data.load_formal_emails("test")])
    assert max(fragments) < 0.65 and np.mean(fragments) < np.mean(replies) - 0.15


def test_graded_scorer_is_cached_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLE_WORKBOOK_CACHE", str(tmp_path))
    texts, ratings = ["Dear Madam, thank you.", "yo thx", "We acknowledge receipt.", "lol k"], [6.0, 1.5, 6.5, 1.0]
    first = style.cached_graded_scorer("demo", texts, ratings, 1, 7, "surface", 1.0, 0.2)
    assert len(list((tmp_path / "scorers").glob("demo-*.npz"))) == 1
    second = style.cached_graded_scorer("demo", texts, ratings, 1, 7, "surface", 1.0, 0.2)
    assert first.scores(["Kind regards."]) == pytest.approx(second.scores(["Kind regards."]))
    style.cached_graded_scorer("demo", texts, [6.0, 1.5, 6.5, 2.0], 1, 7, "surface", 1.0, 0.2)
    assert len(list((tmp_path / "scorers").glob("demo-*.npz"))) == 2  # other data, other key
    assert first.scores(["We acknowledge your letter."])[0] > first.scores(["lol ok"])[0]


def test_binary_trait_scorer_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLE_WORKBOOK_CACHE", str(tmp_path))
    texts, labels = ["Dear Madam, thank you.", "yo thx", "We acknowledge receipt.", "lol k"], [1, 0, 1, 0]
    first = style.cached_scorer("demo", texts, labels)
    assert len(list((tmp_path / "scorers").glob("demo-*.npz"))) == 1
    second = style.cached_scorer("demo", texts, labels)
    assert first.scores(["Kind regards."]) == pytest.approx(second.scores(["Kind regards."]))


def test_cached_embed_matches_embed(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLE_WORKBOOK_CACHE", str(tmp_path))
    texts = ["One sentence.", "Another one."]
    assert np.allclose(style.cached_embed(texts), style.embed(texts), atol=1e-5)
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 1
    assert np.allclose(style.cached_embed(texts), style.embed(texts), atol=1e-5)


def test_content_similarity():
    sims = style.content_similarity(["The refund was issued.", "I like cats."],
                                    ["The refund was issued.", "Your refund has been processed."])
    assert sims[0] == pytest.approx(1.0, abs=1e-5) and sims[1] < 0.5
    with pytest.raises(ValueError):
        style.content_similarity(["a"], ["a", "b"])


def test_distinct_n():
    assert style.distinct_n(["a b a b a b"], 2) == pytest.approx(2 / 5)
    assert style.distinct_n(["one two three"], 2) == 1.0
    assert style.distinct_n([""], 2) == 0.0


def test_nearest_reference_match():
    refs = ["Your refund of $20 is on its way.", "Your parcel is delayed by two days."]
    outs = ["We have issued your refund.", "We have issued your refund."]
    assert style.nearest_reference_match(outs, refs, ["refund", "delay"]) == [True, False]


def test_style_triad_keys():
    triad = style.style_triad(["Thank you."], ["Thank you."], [0.9])
    assert triad["style"] == 0.9 and triad["content_sim"] == pytest.approx(1.0, abs=1e-5)
    assert "perplexity" not in triad and "fluency_ppl" not in triad


def test_helpers_style_is_the_metrics_module_itself():
    import helpers.style
    from helpers.metrics import style as metrics_style

    assert helpers.style is metrics_style and helpers.style.formality_scores is metrics_style.formality_scores
