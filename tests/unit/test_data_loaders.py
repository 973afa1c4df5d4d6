"""Every loader takes a path and answers malformed input with one DataError naming file, line
and field: encodings, missing ids, empty files, duplicates, NaN margins, identical sides; and a
property test that random bytes never raise anything else."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.core import data
from helpers.core.data import DataError

PAIR = {"id": "e1", "prompt": "My order is late.", "chosen": "I'm sorry, it ships today.", "rejected": "Wait."}


def write(path, rows):
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def test_every_loader_reads_your_own_file(tmp_path):
    shipped = {"formal": data.load_formal_emails("test")[:2], "sentences": data.load_formality_sentences()[:2],
               "pairs": data.load_empathy_pairs("test")[:2], "sheets": data.load_style_sheets("test")[:2],
               "graded": data.load_graded_formality()[:2], "politeness": data.load_politeness()[:2]}
    loaders = {"formal": lambda p: data.load_formal_emails(path=p), "sentences": data.load_formality_sentences,
               "pairs": lambda p: data.load_empathy_pairs(path=p), "sheets": lambda p: data.load_style_sheets(path=p),
               "graded": data.load_graded_formality, "politeness": data.load_politeness}
    for name, rows in shipped.items():
        assert loaders[name](write(tmp_path / f"{name}.jsonl", rows)) == rows
    items, ratings = data.load_likert()
    own = data.load_likert(write(tmp_path / "items.jsonl", items[:3]),
                           write(tmp_path / "ratings.jsonl", [r for r in ratings if r["item_id"] == items[0]["item_id"]]))
    assert len(own[0]) == 3 and {r["item_id"] for r in own[1]} == {items[0]["item_id"]}


def test_bytes_that_are_not_utf8_name_file_line_and_column(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(json.dumps(PAIR).encode() + b"\n" + b'{"id": "e2", "prompt": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"p.jsonl, line 2: not UTF-8 text \(byte 0xe9 at column 28\)"):
        data.load_empathy_pairs(path=path)


def test_an_empathy_pair_without_id_is_named_not_a_key_error(tmp_path):
    path = write(tmp_path / "p.jsonl", [PAIR, {k: v for k, v in PAIR.items() if k != "id"}])
    with pytest.raises(DataError, match=r"line 2, field 'id': is missing"):
        data.load_empathy_pairs(path=path)


@pytest.mark.parametrize("margin", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_margin_is_refused(tmp_path, margin):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(PAIR)[:-1] + f', "margin": {margin}}}\n')
    with pytest.raises(DataError, match=r"line 1, field 'margin': must be a finite number"):
        data.load_preferences(path)


def test_a_pair_with_the_same_text_on_both_sides_is_refused(tmp_path):
    path = write(tmp_path / "p.jsonl", [PAIR, {**PAIR, "id": "e2", "rejected": PAIR["chosen"] + " "}])
    with pytest.raises(DataError, match=r"line 2, field 'rejected': is the same text as 'chosen'"):
        data.load_empathy_pairs(path=path)


def test_an_empty_ratings_file_is_refused(tmp_path):
    items, _ = data.load_likert()
    (tmp_path / "ratings.jsonl").write_text("")
    with pytest.raises(DataError, match="ratings.jsonl, line 0: the file has no rows"):
        data.load_likert(write(tmp_path / "items.jsonl", items[:2]), tmp_path / "ratings.jsonl")


def test_a_repeated_rating_is_refused(tmp_path):
    items, ratings = data.load_likert()
    mine = [r for r in ratings if r["item_id"] == items[0]["item_id"]][:2]
    path = write(tmp_path / "ratings.jsonl", mine + [{**mine[0], "score": 1}])
    with pytest.raises(DataError, match=r"line 3, field 'item_id/rater/trait': duplicate value .* \(first on line 1\)"):
        data.load_likert(write(tmp_path / "items.jsonl", items[:1]), path)


LOADERS = [data.load_preferences, lambda p: data.load_empathy_pairs(path=p), data.load_politeness,
           data.load_graded_formality, data.load_formality_sentences, lambda p: data.load_formal_emails(path=p),
           lambda p: data.load_style_sheets(path=p)]
JSONISH = st.lists(st.one_of(st.binary(max_size=40),
                             st.dictionaries(st.sampled_from(["id", "prompt", "chosen", "rejected", "text", "margin",
                                                              "messages", "facts", "label", "ratings"]),
                                             st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                                       st.text(max_size=5), st.lists(st.integers(), max_size=6)),
                                             max_size=6).map(lambda d: json.dumps(d).encode())),
                   max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=JSONISH, loader=st.sampled_from(LOADERS))
def test_random_input_gets_a_data_error_or_loads(tmp_path_factory, lines, loader):
    path = tmp_path_factory.mktemp("fuzz") / "f.jsonl"
    path.write_bytes(b"\n".join(lines))
    try:
        rows = loader(path)
    except DataError as err:
        assert str(path) in str(err) and f"line {err.line}" in str(err)
    else:
        assert rows and all(isinstance(row, dict) for row in rows)
