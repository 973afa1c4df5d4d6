import json

import numpy as np
import pytest

from helpers import multi_style
from helpers.core.data import DataError
from helpers.multi_style import GENERIC, STYLES

SHEET = {"id": "x-1", "topic": "t", "facts": ["A opened.", "It was Monday."], "news_brief": "n",
         "feature_story": "f", "social_ad": "s", "generic": "g"}


def write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def train():
    return multi_style.load_style_sheets("train")


@pytest.fixture(scope="module")
def test_sheets():
    return multi_style.load_style_sheets("test")


# --- loading ----------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, field", [
    ({"facts": []}, "facts"),
    ({"facts": ["ok", 3]}, "facts"),
    ({"facts": "A opened."}, "facts"),
    ({"generic": " "}, "generic"),
    ({"social_ad": None}, "social_ad"),
])
def test_bad_sheet_names_file_line_and_field(tmp_path, bad, field):
    path = write(tmp_path / "s.jsonl", [SHEET, {**SHEET, "id": "x-2", **bad}])
    with pytest.raises(DataError, match=rf"line 2, field '{field}'") as err:
        multi_style.load_style_sheets(path=path)
    assert str(path) in str(err.value) and err.value.line == 2 and err.value.field == field


def test_missing_style_text_and_duplicate_id(tmp_path):
    row = {k: v for k, v in SHEET.items() if k != "feature_story"}
    with pytest.raises(DataError, match=r"line 1, field 'feature_story': is missing"):
        multi_style.load_style_sheets(path=write(tmp_path / "a.jsonl", [row]))
    with pytest.raises(DataError, match=r"line 2, field 'id': duplicate"):
        multi_style.load_style_sheets(path=write(tmp_path / "b.jsonl", [SHEET, SHEET]))


def test_shipped_sheets(train, test_sheets):
    assert len(train) == 54 and len(test_sheets) == 10
    assert not {s["id"] for s in train} & {s["id"] for s in test_sheets}, "held-out sheets must be new"


# --- prompts and TRL rows ---------------------------------------------------------------------

def test_prompt_is_the_same_for_every_style_and_names_none(train):
    for sheet in train:
        prompts = {row["messages"][0]["content"] for style in STYLES + (GENERIC,)
                   for row in multi_style.sft_rows([sheet], style)}
        prompts |= {row["prompt"][0]["content"] for style in STYLES for row in multi_style.preference_rows([sheet], style)}
        assert prompts == {multi_style.style_prompt(sheet)}
        prompt = prompts.pop()
        assert prompt.startswith(f"- {sheet['facts'][0]}\n") and prompt.endswith("\n" + multi_style.INSTRUCTION)
    assert not any(word in multi_style.INSTRUCTION.lower() for word in ("news", "feature", "social", "ad", "style"))


def test_prompt_facts_budget():
    sheet = {"facts": ["a" * 50, "b" * 50, "c" * 50]}
    assert multi_style.prompt_facts(sheet, max_chars=101) == ["a" * 50, "b" * 50]
    assert multi_style.prompt_facts(sheet, max_chars=10) == ["a" * 50]  # always the first fact
    assert len(multi_style.prompt_facts(sheet, max_chars=None)) == 3


def test_prompts_fit_the_tiny_models_window(train, test_sheets):
    from helpers import get_profile
    from helpers.core.models import base_model_path, load_tokenizer

    tokenizer = load_tokenizer(base_model_path(get_profile("tiny")))
    lengths = []
    for sheet in train + test_sheets:
        chat = tokenizer.apply_chat_template(multi_style.user_turn(multi_style.style_prompt(sheet)), tokenize=False,
                                             add_generation_prompt=True)
        lengths.append(len(tokenizer(chat, add_special_tokens=False)["input_ids"]))
    assert max(lengths) <= get_profile("tiny").style.max_prompt_tokens, max(lengths)
    assert np.mean(lengths) >= 35, "the prompt should still carry a few facts"


def test_sft_rows(train):
    rows = multi_style.sft_rows(train, "feature_story")
    assert len(rows) == len(train)
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    assert rows[0]["messages"][1]["content"] == train[0]["feature_story"]
    with pytest.raises(ValueError, match="unknown style"):
        multi_style.sft_rows(train, "poem")


@pytest.mark.parametrize("style", STYLES)
def test_preference_rows(train, style):
    rows = multi_style.preference_rows(train, style, with_metadata=True)
    assert len(rows) == 3 * len(train) >= 150
    by_id = {s["id"]: s for s in train}
    for row in rows:
        assert row["prompt"][0]["role"] == "user"
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        assert chosen != rejected
        assert chosen == by_id[row["id"]][style] and rejected == by_id[row["id"]][row["rejected_style"]]
    covered = {}
    for row in rows:
        covered.setdefault(row["id"], set()).add(row["rejected_style"])
    expected = set(STYLES) - {style} | {GENERIC}
    assert all(c == expected for c in covered.values()) and len(covered) == len(train)
    assert set(multi_style.preference_rows(train[:1], style)[0]) == {"prompt", "chosen", "rejected"}


def test_preference_rows_are_conversational_for_trl(train):
    from trl.data_utils import is_conversational

    row = multi_style.preference_rows(train, "social_ad")[0]
    # TRL checks whichever of prompt/chosen/rejected it meets first, so all three must be chat lists
    assert all(is_conversational({key: row[key]}) for key in ("prompt", "chosen", "rejected"))


# --- the classifier ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def classifier():
    return multi_style.style_classifier()


def test_classifier_held_out_accuracy(classifier, test_sheets):
    requested = [style for _ in test_sheets for style in STYLES]
    texts = [sheet[style] for sheet in test_sheets for style in STYLES]
    predicted = classifier.predict(texts)
    accuracy = multi_style.style_accuracy(requested, predicted)
    assert accuracy >= 0.8, multi_style.confusion(requested, predicted)


def test_classifier_proba(classifier, test_sheets):
    texts = [test_sheets[0][s] for s in STYLES]
    proba = classifier.proba(texts)
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert classifier.classes == STYLES
    assert [STYLES[i] for i in proba.argmax(axis=1)] == classifier.predict(texts)
    assert multi_style.style_probabilities(texts, "social_ad") == pytest.approx(proba[:, 2].tolist())
    assert classifier.proba([]).shape == (0, 3)


def test_classifier_save_load_and_cache(tmp_path, monkeypatch):
    texts = ["BREAKING: the council voted 5-2 on Monday, officials said.",
             "She paused at the door, remembering the old mill.",
             "Don't miss out! 🎉 Grab yours today #deal",
             "The minister announced the budget on Tuesday, a spokesperson said.",
             "The rain had not stopped for days when Anna opened the shop.",
             "Tag a friend who needs this! 😍 Link in bio"]
    labels = list(STYLES) * 2
    monkeypatch.setenv("STYLE_WORKBOOK_CACHE", str(tmp_path))
    first = multi_style.cached_classifier(texts, labels, name="demo")
    assert len(list((tmp_path / "scorers").glob("demo-*.npz"))) == 1
    second = multi_style.cached_classifier(texts, labels, name="demo")
    assert np.allclose(first.proba(texts), second.proba(texts))
    first.save(tmp_path / "c.npz")
    loaded = multi_style.StyleClassifier.load(tmp_path / "c.npz")
    assert loaded.classes == STYLES and np.allclose(loaded.proba(texts), first.proba(texts))
    with pytest.raises(ValueError, match="not styles"):
        multi_style.StyleClassifier.fit(texts, labels[:-1] + ["generic"])


# --- confusion and accuracy -------------------------------------------------------------------

def test_confusion_and_accuracy():
    requested = ["news_brief", "news_brief", "social_ad", "generic"]
    predicted = ["news_brief", "social_ad", "social_ad", "news_brief"]
    table = multi_style.confusion(requested, predicted)
    assert list(table.columns) == list(STYLES)  # feature_story is a column though never predicted
    assert list(table.index) == ["news_brief", "social_ad", "generic"]
    assert table.loc["news_brief", "social_ad"] == 1 and table.loc["generic", "news_brief"] == 1
    assert table.loc["news_brief", "feature_story"] == 0 and table.to_numpy().sum() == 4
    assert multi_style.style_accuracy(requested, predicted) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        multi_style.style_accuracy(["news_brief"], [])
