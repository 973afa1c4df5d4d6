"""Fluency under the fixed real LM (SmolLM2-135M-Instruct): helpers.metrics.style.fluency_perplexity."""
import random

import numpy as np
import pytest

from helpers.core import data
from helpers.metrics import style

LOOPS = ["Dear,\nDear,\nDear,\nDear,", "Dear,\n" * 12, "Dear Customer,\nDear Customer,\nDear Customer,",
         "Kind regards,\nJohn\nJohn\nJohn\nJohn\nJohn"]


@pytest.fixture(scope="module")
def references():
    return [r["messages"][1]["content"] for r in data.load_formal_emails("test")][::4]  # 10 replies


def word_salad(text: str, seed: int) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


@pytest.fixture(scope="module")
def fluent(references):
    return style.fluency_perplexity(references)


def test_references_are_more_fluent_than_word_salad(references, fluent):
    salad = style.fluency_perplexity([word_salad(t, i) for i, t in enumerate(references)])
    assert all(f < s for f, s in zip(fluent, salad)), (fluent, salad)
    assert np.median(salad) > 3 * np.median(fluent)


def test_repetition_loops_are_not_fluent(fluent):
    loops = style.fluency_perplexity(LOOPS)
    assert min(loops) > max(fluent), (loops, fluent)


def test_fluency_is_per_token_and_repetition_free(references, fluent):
    one = fluent[0]
    twice, = style.fluency_perplexity([references[0] + "\n" + references[0]])
    assert twice == pytest.approx(one, rel=1e-3)  # repeating a text neither helps nor hurts
    assert style.fluency_perplexity([""]) == [float("inf")]


def test_style_triad_reports_fixed_fluency_on_request(references, fluent):
    triad = style.style_triad(references[:2], references[:2], [0.5, 0.7], fixed_fluency=True)
    assert triad["fluency_ppl"] == pytest.approx(float(np.median(fluent[:2])), rel=1e-4)
    assert "perplexity" not in triad
