"""Curate the contributors' graded formality drafts into ``data/formality/graded.jsonl``.

    python scripts/curate_formality_graded.py [--report]

Steps (deterministic): validate every draft row (text, formality 1-7 in half points, genre);
normalise whitespace; drop exact and near duplicates (same words ignoring case and punctuation,
or MiniLM cosine >= 0.95 to an earlier row); drop rows that also appear in the old binary set or
in the general-English test fixture (which must stay unseen); drop the rows that review found
mis-rated (:data:`MIS_RATED`, each with the reason). ``--report`` also prints the rows whose
rating is far from a cross-validated scorer's prediction: the list the review started from.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from helpers.core.data import DataError, load_formality_sentences, read_jsonl  # noqa: E402

DRAFTS = [REPO / "data" / "_drafts" / f"formality_graded_{x}.jsonl" for x in "ABC"]
TARGET = REPO / "data" / "formality" / "graded.jsonl"
FIXTURE = REPO / "tests" / "unit" / "fixtures" / "formality_general.jsonl"
DRAFT_SCHEMA = {"text": lambda v: None if isinstance(v, str) and v.strip() else "must be a non-empty string",
                "formality": lambda v: None if isinstance(v, (int, float)) and not isinstance(v, bool)
                and 1 <= v <= 7 and float(v * 2).is_integer() else f"must be 1-7 in half points, got {v!r}",
                "genre": lambda v: None if isinstance(v, str) and v.strip() else "must be a non-empty string"}
NEAR_DUPLICATE = 0.95

# Rows whose rating review judged clearly wrong, by their text's first words -> reason.
MIS_RATED: dict[str, str] = {}


def normalised(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def draft_rows() -> list[dict]:
    rows = []
    for path in DRAFTS:
        for line, row in read_jsonl(path, DRAFT_SCHEMA):
            rows.append({"text": " ".join(row["text"].split()), "formality": float(row["formality"]),
                         "genre": row["genre"].strip(), "_where": f"{path.name}:{line}"})
    return rows


def curate(rows: list[dict]) -> tuple[list[dict], list[str]]:
    """(kept rows, one line per dropped row saying why)."""
    from helpers.metrics.style import cached_embed

    excluded = {normalised(r["text"]) for r in load_formality_sentences()}
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            pair = json.loads(line)
            excluded |= {normalised(pair["formal"]), normalised(pair["informal"])}
    kept, dropped, seen = [], [], set()
    vectors = cached_embed([r["text"] for r in rows])
    kept_vectors = []
    for row, vector in zip(rows, vectors):
        key = normalised(row["text"])
        reason = None
        if key in seen:
            reason = "duplicate"
        elif key in excluded:
            reason = "also in sentences.jsonl or the test fixture"
        elif kept_vectors and max(float(v @ vector) for v in kept_vectors) >= NEAR_DUPLICATE:
            reason = "near duplicate (MiniLM cosine >= 0.95)"
        else:
            reason = next((why for start, why in MIS_RATED.items() if row["text"].startswith(start)), None)
        if reason:
            dropped.append(f"{row['_where']}: {reason}: {row['text'][:70]!r}")
            continue
        seen.add(key)
        kept.append(row)
        kept_vectors.append(vector)
    return kept, dropped


def report(rows: list[dict]) -> None:
    """Print rows whose rating is 1.5+ points from a 10-fold cross-validated prediction."""
    import numpy as np

    from helpers.metrics import style

    texts = [r["text"] for r in rows]
    ratings = np.array([r["formality"] for r in rows])
    vectors = style.cached_embed(texts)
    predicted = np.zeros(len(rows))
    for fold in range(10):
        test = np.arange(len(rows)) % 10 == fold
        scorer = style.GradedScorer.fit([t for t, m in zip(texts, test) if not m], ratings[~test], 1, 7,
                                        "surface", embeddings=vectors[~test])
        predicted[test] = scorer.predict([t for t, m in zip(texts, test) if m], vectors[test])
    for i in np.argsort(-np.abs(predicted - ratings)):
        if abs(predicted[i] - ratings[i]) < 1.5:
            break
        print(f"{rows[i]['_where']}: rated {ratings[i]}, predicted {predicted[i]:.1f} ({rows[i]['genre']}): {texts[i]}")


def main() -> None:
    try:
        rows = draft_rows()
    except DataError as err:
        sys.exit(f"bad draft: {err}")
    kept, dropped = curate(rows)
    print("\n".join(dropped))
    if "--report" in sys.argv:
        report(kept)
    with TARGET.open("w", encoding="utf-8") as out:
        for row in kept:
            out.write(json.dumps({k: row[k] for k in ("text", "formality", "genre")}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} draft rows -> {len(kept)} curated rows in {TARGET.relative_to(REPO)}")


if __name__ == "__main__":
    main()
