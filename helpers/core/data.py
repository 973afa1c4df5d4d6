"""Loading the workbook's JSONL data sets with row-by-row validation.

Every loader reports bad input by file, line and field, e.g.::

    DataError: data/formal_emails/train.jsonl, line 12, field 'messages[1].content': must be a non-empty string
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

from helpers.core.paths import DATA_DIR

Check = Callable[[object], str | None]  # returns an error message, or None when the value is fine


class DataError(ValueError):
    """A row of a data file is malformed. Names the file, the line and the field."""

    def __init__(self, path, line: int, field: str | None, message: str):
        self.path, self.line, self.field = str(path), line, field
        where = f"{path}, line {line}" + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")


def text(value) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    return None


def one_of(*allowed) -> Check:
    def check(value):
        return None if value in allowed else f"must be one of {list(allowed)}, got {value!r}"
    return check


def int_between(low: int, high: int) -> Check:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be an integer from {low} to {high}, got {value!r}"
        return None
    return check


def number(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"must be a finite number, got {value!r}"
    return None


def string_list(value) -> str | None:
    if not isinstance(value, list) or not value or any(text(v) for v in value):
        return "must be a non-empty list of non-empty strings"
    return None


ROLES = ("system", "user", "assistant")


def _check_messages(value) -> tuple[str, str] | None:
    """(subfield, message) for the first problem in a ``messages`` list, else None."""
    if not isinstance(value, list) or not value:
        return "", "must be a non-empty list of {role, content} objects"
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            return f"[{i}]", "must be an object with 'role' and 'content'"
        if message.get("role") not in ROLES:
            return f"[{i}].role", f"must be one of {list(ROLES)}, got {message.get('role')!r}"
        if text(message.get("content")):
            return f"[{i}].content", "must be a non-empty string"
    if value[-1]["role"] != "assistant":
        return f"[{len(value) - 1}].role", "the last message must be the assistant's reply"
    return None


def validate_row(row: dict, schema: dict[str, Check], optional: dict[str, Check] | None = None):
    """(field, message) for the first invalid field of a row, or None when the row is valid."""
    if not isinstance(row, dict):
        return None, "each line must be a JSON object"
    for name, check in schema.items():
        if name not in row:
            return name, "is missing"
        if name == "messages":
            problem = _check_messages(row[name])
            if problem:
                return name + problem[0], problem[1]
            continue
        message = check(row[name])
        if message:
            return name, message
    for name, check in (optional or {}).items():
        if name in row and row[name] is not None:
            message = check(row[name])
            if message:
                return name, message
    return None


def read_jsonl(path: str | Path, schema: dict[str, Check], optional: dict[str, Check] | None = None,
               hint: str = ""):
    """Yield ``(line number, row)`` for each row of a JSONL file, validating as it goes.

    The first malformed line raises DataError naming the file, the line and the field (``hint`` is
    added to the message). Blank lines are skipped.
    """
    path = Path(path)
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(path, line_no, None, f"not UTF-8 text (byte {raw[err.start]:#04x} at column "
                                                     f"{err.start + 1}); save the file as UTF-8{hint}") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(path, line_no, None, f"not valid JSON ({err.msg}){hint}") from None
            problem = validate_row(row, schema, optional)
            if problem:
                raise DataError(path, line_no, problem[0], problem[1] + hint)
            yield line_no, row


def load_jsonl(path: str | Path, schema: dict[str, Check], optional: dict[str, Check] | None = None,
               unique: str | tuple[str, ...] | None = None, row_check=None) -> list[dict]:
    """Read and validate a JSONL file; raise DataError naming file, line and field on bad input.

    ``unique`` names a field (or a tuple of fields) whose values must not repeat (e.g. an id);
    ``row_check(row)`` returns ``(field, message)`` for a row that is wrong as a whole, else None.
    An empty file is refused.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    fields = (unique,) if isinstance(unique, str) else unique or ()
    rows, seen = [], {}
    for line_no, row in read_jsonl(path, schema, optional):
        if row_check and (problem := row_check(row)):
            raise DataError(path, line_no, problem[0], problem[1])
        if fields:
            missing = next((f for f in fields if f not in row), None)
            if missing:
                raise DataError(path, line_no, missing, "is missing")
            key = tuple(row[f] for f in fields)
            if key in seen:
                shown = key[0] if len(key) == 1 else key
                raise DataError(path, line_no, "/".join(fields), f"duplicate value {shown!r} (first on line {seen[key]})")
            seen[key] = line_no
        rows.append(row)
    if not rows:
        raise DataError(path, 0, None, "the file has no rows")
    return rows


# --- schemas of the shipped data sets -------------------------------------------------------

SFT_SCHEMA = {"messages": None}
FORMAL_EMAIL_SCHEMA = {"id": text, "category": text, "messages": None, "casual_reply": text}
FORMALITY_SCHEMA = {"text": text, "label": int_between(0, 1), "register": text}
PREFERENCE_SCHEMA = {"prompt": text, "chosen": text, "rejected": text}
PREFERENCE_OPTIONAL = {"trait": text, "failure_mode": text, "reason": text, "rater": text, "margin": number, "id": text}


def load_formal_emails(split: str = "train", path: str | Path | None = None) -> list[dict]:
    """Customer message -> formal support reply pairs (``messages``), plus a casual reply.

    ``path`` reads your own file with the same schema instead of ``data/formal_emails/<split>.jsonl``
    (as every loader here does).
    """
    return load_jsonl(path or DATA_DIR / "formal_emails" / f"{split}.jsonl", FORMAL_EMAIL_SCHEMA, unique="id")


def load_formality_sentences(path: str | Path | None = None) -> list[dict]:
    """Sentences labelled formal (1) or informal (0), from many registers."""
    return load_jsonl(path or DATA_DIR / "formality" / "sentences.jsonl", FORMALITY_SCHEMA, unique="text")


def differing(first: str, second: str):
    """A row check: the field ``second`` must not repeat the text of ``first`` (the error names ``second``)."""
    def check(row: dict):
        if row[first].strip() == row[second].strip():
            return second, f"is the same text as '{first}'"
        return None
    return check


# a preference pair whose two replies are the same text teaches nothing (and biases nothing)
distinct_sides = differing("chosen", "rejected")


def load_preferences(path: str | Path) -> list[dict]:
    """Pairwise preferences in TRL's ``prompt``/``chosen``/``rejected`` format."""
    return load_jsonl(path, PREFERENCE_SCHEMA, PREFERENCE_OPTIONAL, row_check=distinct_sides)


LIKERT_ITEM_SCHEMA = {"item_id": text, "prompt": text, "response": text}
LIKERT_RATING_SCHEMA = {"item_id": text, "rater": text, "trait": text, "score": int_between(1, 5)}


EMPATHY_PAIR_SCHEMA = {**PREFERENCE_SCHEMA, "id": text}


def load_empathy_pairs(split: str = "train", path: str | Path | None = None) -> list[dict]:
    """Hand-written empathy comparisons; the rejected side shows one failure mode (``failure_mode``)."""
    return load_jsonl(path or DATA_DIR / "empathy_pairs" / f"{split}.jsonl", EMPATHY_PAIR_SCHEMA,
                      PREFERENCE_OPTIONAL, unique="id", row_check=distinct_sides)


def load_likert(items_path: str | Path | None = None, ratings_path: str | Path | None = None
                ) -> tuple[list[dict], list[dict]]:
    """(items, ratings): complaint/response items and one row per (item, rater, trait, score).

    A rating that names an unknown item, or repeats a (item, rater, trait) already rated, is
    reported with its file and line; an empty file is refused.
    """
    items_path = Path(items_path or DATA_DIR / "likert" / "items.jsonl")
    ratings_path = Path(ratings_path or DATA_DIR / "likert" / "ratings.jsonl")
    items = load_jsonl(items_path, LIKERT_ITEM_SCHEMA, unique="item_id")
    known = {item["item_id"] for item in items}

    def known_item(rating):
        if rating["item_id"] not in known:
            return "item_id", f"no item {rating['item_id']!r} in {items_path.name}"
        return None

    ratings = load_jsonl(ratings_path, LIKERT_RATING_SCHEMA, unique=("item_id", "rater", "trait"), row_check=known_item)
    return items, ratings


STYLE_SHEET_SCHEMA = {"id": text, "topic": text, "facts": string_list,
                      "news_brief": text, "feature_story": text, "social_ad": text, "generic": text}


def load_style_sheets(split: str = "train", path: str | Path | None = None) -> list[dict]:
    """Fact sheets for lesson 6: ``facts`` plus the same facts written in each style and plainly.

    ``path`` reads another file with the same schema instead of ``data/styles/<split>.jsonl``.
    """
    return load_jsonl(path or DATA_DIR / "styles" / f"{split}.jsonl", STYLE_SHEET_SCHEMA, unique="id")


# --- graded formality and human politeness ratings ------------------------------------------

def number_between(low: float, high: float) -> Check:
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            return f"must be a number from {low} to {high}, got {value!r}"
        return None
    return check


def list_of(length: int, item: Check, what: str) -> Check:
    """A list of exactly ``length`` items, each passing ``item`` (``what`` names the items)."""
    def check(value):
        if not isinstance(value, list) or len(value) != length:
            return f"must be a list of {length} {what}, got {value!r}"
        for i, v in enumerate(value):
            message = item(v)
            if message:
                return f"item {i} {message}"
        return None
    return check


GRADED_FORMALITY_SCHEMA = {"text": text, "formality": number_between(1, 7), "genre": text}
POLITENESS_SCHEMA = {"id": text, "community": text, "text": text,
                     "ratings": list_of(5, int_between(1, 25), "integer ratings from 1 to 25"),
                     "raters": list_of(5, text, "rater ids"), "normalized_score": number}


def load_graded_formality(path: str | Path | None = None) -> list[dict]:
    """Sentences rated for formality on a 1-7 scale (half points allowed), with their ``genre``."""
    return load_jsonl(path or DATA_DIR / "formality" / "graded.jsonl", GRADED_FORMALITY_SCHEMA, unique="text")


def load_politeness(path: str | Path | None = None) -> list[dict]:
    """Stack Exchange requests with five human politeness ratings each (Stanford Politeness Corpus)."""
    return load_jsonl(path or DATA_DIR / "politeness" / "stack_exchange.jsonl", POLITENESS_SCHEMA, unique="id")


def boolean(value) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


REFUSAL_REQUEST_SCHEMA = {"id": text, "request": text, "reasonable": boolean, "policy": text,
                          "split": one_of("train", "test")}
REFUSAL_PAIR_SCHEMA = {**PREFERENCE_SCHEMA, "id": text, "kind": one_of("helpful_answer", "firm_refusal"),
                       "split": one_of("train", "test")}


def _split(rows: list[dict], split: str | None) -> list[dict]:
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be 'train', 'test' or None (both), got {split!r}")
    return [r for r in rows if split is None or r["split"] == split]


def load_refusal_requests(split: str | None = None, path: str | Path | None = None) -> list[dict]:
    """Lesson 8's refusal probes: customer requests labelled ``reasonable`` (help) or not (refuse)
    under the store policy in the datasheet; ``split`` "train", "test" or None for both."""
    rows = load_jsonl(path or DATA_DIR / "refusals" / "requests.jsonl", REFUSAL_REQUEST_SCHEMA, unique="id")
    return _split(rows, split)


def load_refusal_counterexamples(split: str | None = None, path: str | Path | None = None) -> list[dict]:
    """Lesson 8's fix for the refusal trap: preference pairs whose chosen side is a helpful answer
    to a reasonable request (``kind`` "helpful_answer") or a polite but firm refusal of an
    unreasonable one ("firm_refusal")."""
    rows = load_jsonl(path or DATA_DIR / "refusals" / "counterexamples.jsonl", REFUSAL_PAIR_SCHEMA, unique="id",
                      row_check=distinct_sides)
    return _split(rows, split)


CONSTITUTION_SCHEMA = {"id": text, "name": text, "principle": text, "critique_request": text,
                       "revision_request": text, "violation": text, "revision": text}


def load_constitution(path: str | Path | None = None) -> list[dict]:
    """Lesson 9's style constitution: one principle a row, with the critique and revision requests
    a model is given and a worked example (a reply that breaks the principle, and its revision)."""
    # a worked example whose revision is its violation teaches no principle
    return load_jsonl(path or DATA_DIR / "constitution" / "principles.jsonl", CONSTITUTION_SCHEMA,
                      unique="id", row_check=differing("violation", "revision"))
