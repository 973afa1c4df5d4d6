"""Bring the Stack Exchange part of the Stanford Politeness Corpus into ``data/politeness/``.

    python scripts/import_stanford_politeness.py [path/to/stack-exchange.annotated.csv]

One JSON object per request: ``id`` (community slug + Stack Exchange post id; post ids repeat
across communities), ``community`` (the community's name without the "092011 " dump prefix),
``text``, ``ratings`` (the five annotators' 1-25 slider values, in the corpus's order), ``raters``
(their pseudonymous TurkIds, same order) and ``normalized_score`` (the corpus's own per-annotator
z-scored mean). The rows keep the corpus's order; nothing is dropped or edited.
"""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = Path("/work/shared/data/stanford_politeness/stack-exchange.annotated.csv")
TARGET = REPO / "data" / "politeness" / "stack_exchange.jsonl"


def slug(community: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", community.lower()).strip("_")


def convert(row: dict) -> dict:
    community = re.sub(r"^\d{6}\s+", "", row["Community"]).strip()
    return {
        "id": f"{slug(community)}-{row['Id']}",
        "community": community,
        "text": row["Request"],
        "ratings": [int(row[f"Score{i}"]) for i in range(1, 6)],
        "raters": [row[f"TurkId{i}"] for i in range(1, 6)],
        "normalized_score": float(row["Normalized Score"]),
    }


def main(source: Path = SOURCE) -> None:
    with source.open(encoding="utf-8", newline="") as handle:
        rows = [convert(r) for r in csv.DictReader(handle)]
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with TARGET.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} requests from {len({r['community'] for r in rows})} communities -> {TARGET}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
