"""data/politeness/stack_exchange.jsonl, data/formality/graded.jsonl and their loaders."""
import json
from collections import Counter

import pytest

from helpers.core import data
from helpers.core.data import DataError

GOOD = {"id": "x-1", "community": "Cooking", "text": "Could you share the recipe?", "ratings": [13, 15, 20, 9, 17],
        "raters": ["A1", "A2", "A3", "A4", "A5"], "normalized_score": 0.3}


def write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_stack_exchange_set_is_complete():
    rows = data.load_politeness()
    assert len(rows) == 6603 and len({r["id"] for r in rows}) == 6603
    communities = Counter(r["community"] for r in rows)
    assert len(communities) == 25 and communities["Stack Overflow"] == 4003
    assert all(len(set(r["raters"])) == 5 for r in rows)


@pytest.mark.parametrize("field, value, message", [
    ("ratings", [13, 15, 20, 9], "list of 5"),
    ("ratings", [13, 15, 20, 9, 26], "item 4 must be an integer from 1 to 25"),
    ("raters", ["A1", "A2", "A3", "A4", ""], "item 4 must be a non-empty string"),
    ("normalized_score", "high", "must be a finite number"),
])
def test_bad_politeness_rows_name_file_line_and_field(tmp_path, field, value, message):
    path = write(tmp_path / "p.jsonl", [GOOD, {**GOOD, "id": "x-2", field: value}])
    with pytest.raises(DataError, match=rf"p.jsonl, line 2, field '{field}': .*{message}"):
        data.load_politeness(path)


def test_duplicate_politeness_id(tmp_path):
    with pytest.raises(DataError, match=r"line 2, field 'id': duplicate"):
        data.load_politeness(write(tmp_path / "p.jsonl", [GOOD, GOOD]))


def test_graded_formality_set():
    rows = data.load_graded_formality()
    assert len(rows) >= 850
    genres = Counter(r["genre"] for r in rows)
    assert len(genres) == 18 and min(genres.values()) >= 45
    assert all((2 * r["formality"]).is_integer() for r in rows)


def test_bad_graded_formality_row(tmp_path):
    path = write(tmp_path / "g.jsonl", [{"text": "Hello.", "formality": 4, "genre": "chat"},
                                        {"text": "Hi.", "formality": 8, "genre": "chat"}])
    with pytest.raises(DataError, match=r"g.jsonl, line 2, field 'formality': must be a number from 1 to 7"):
        data.load_graded_formality(path)
