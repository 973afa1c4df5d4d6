import json
from pathlib import Path

import pytest

from helpers import data, style

FIXTURE = Path(__file__).parent / "fixtures" / "formality_general.jsonl"


def general_pairs():
    return [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]


def test_general_fixture_is_not_training_data():
    training = {t.lower() for t in style.formality_training_data()[0]}
    for pair in general_pairs():
        assert pair["formal"].lower() not in training and pair["informal"].lower() not in training


def test_formality_scores_in_unit_interval():
    scores = style.formality_scores(["Dear Sir, I am writing to confirm.", "lol ok", ""])
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
    assert style.formality_scores([]) == []


def test_formality_ranks_formal_above_informal_in_general_english():
    pairs = general_pairs()
    formal = style.formality_scores([p["formal"] for p in pairs])
    informal = style.formality_scores([p["informal"] for p in pairs])
    wins = sum(f > i for f, i in zip(formal, informal))
    assert wins >= 19, f"formal ranked above informal in only {wins}/20 pairs"
    assert sum(formal) / 20 - sum(informal) / 20 > 0.5


def test_formality_held_out_accuracy_across_registers():
    rows = data.load_formality_sentences()
    held_out = rows[::5]
    train = [r for i, r in enumerate(rows) if i % 5]
    scorer = style.TraitScorer.fit([r["text"] for r in train], [r["label"] for r in train])
    predictions = [s > 0.5 for s in scorer.scores([r["text"] for r in held_out])]
    accuracy = sum(p == bool(r["label"]) for p, r in zip(predictions, held_out)) / len(held_out)
    assert accuracy >= 0.85, accuracy


def test_scorer_is_cached_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLE_WORKBOOK_CACHE", str(tmp_path))
    texts, labels = ["Dear Madam, thank you.", "yo thx", "We acknowledge receipt.", "lol k"], [1, 0, 1, 0]
    first = style.cached_scorer("demo", texts, labels)
    assert len(list((tmp_path / "scorers").glob("demo-*.npz"))) == 1
    second = style.cached_scorer("demo", texts, labels)
    assert first.scores(["Kind regards."]) == pytest.approx(second.scores(["Kind regards."]))


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
