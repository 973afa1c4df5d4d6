"""Print the validation figures of the trait scorers (quoted in data/README.md).

    python scripts/validate_scorers.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.metrics import style_validation  # noqa: E402


def rounded(value):
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 3) if isinstance(value, float) else value


if __name__ == "__main__":
    for name in ("formality", "politeness", "empathy", "rubric", "fluency"):
        print(name, json.dumps(rounded(getattr(style_validation, f"{name}_report")()), indent=1), flush=True)
