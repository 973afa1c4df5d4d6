"""The simulated audience of lesson 6 is independent of the style classifier that evaluates the
adapters: it shares no parameters with it and no training rows.

If the audience read the classifier (or its embeddings, or the style sheets it is trained on),
the A/B test would only restate the classifier's score. These tests make every such route
fail loudly and check that the audience gives the very same numbers anyway."""
import ast
import builtins
import io
import pathlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.metrics import abtest

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "MILLBROOK — Hollow Oak Bakery will open at 12 Mill Lane on Saturday 14 March, owner Priya Castellan said.",
    'Before sunrise the windows were fogged. "Now it\'s my name on the door," she said.',
    "Fresh bread is coming to Millbrook! 🥖 The first 50 of you get a free loaf! #HollowOak",
    "I'm sorry for the new new new new new new new new $1.",
]


def _run_audience():
    """Everything the notebook's A/B section asks of the audience, as plain numbers."""
    out = []
    for k, channel in enumerate(abtest.CHANNELS):
        out.append(abtest.expected_ctr(TEXTS, channel))
        control = abtest.simulate_audience(TEXTS[:2], channel, rng=k, impressions_per_text=300)
        treatment = abtest.simulate_audience(TEXTS[2:], channel, rng=k + 10, impressions_per_text=300)
        out += [control["click"], treatment["time_spent"]]
        r = abtest.cluster_lift(control, treatment)
        out.append(np.array([r.absolute, r.ci_low, r.ci_high, r.design_effect]))
    return out


def _refuse(*_, **__):
    raise AssertionError("the audience must not use the style classifier, an embedder or the style sheets")


def test_audience_gives_the_same_numbers_with_classifier_embedder_and_style_sheets_unavailable(monkeypatch):
    abtest._signal_values.cache_clear()
    expected = _run_audience()
    from helpers import multi_style
    from helpers.metrics import style

    for name in ("style_classifier", "cached_classifier", "load_style_sheets", "style_training_data"):
        monkeypatch.setattr(multi_style, name, _refuse)
    for name in ("proba", "predict", "fit", "load"):
        monkeypatch.setattr(multi_style.StyleClassifier, name, _refuse)
    for name in ("encoder", "embed", "cached_embed", "content_similarity"):
        monkeypatch.setattr(style, name, _refuse)
    styles_dir = (ROOT / "data" / "styles").resolve()
    real_open, real_path_open = builtins.open, pathlib.Path.open

    def guarded_open(file, *args, **kwargs):  # no file under data/styles may be read
        if isinstance(file, (str, Path)) and styles_dir in Path(file).resolve().parents:
            _refuse()
        return real_open(file, *args, **kwargs)

    def guarded_path_open(self, *args, **kwargs):
        if styles_dir in self.resolve().parents:
            _refuse()
        return real_path_open(self, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(pathlib.Path, "open", guarded_path_open)
    with pytest.raises(AssertionError, match="must not use"):  # the guards are live
        multi_style.style_classifier()
    with pytest.raises(AssertionError, match="must not use"):
        open(styles_dir / "train.jsonl")
    abtest._signal_values.cache_clear()  # recompute every signal under the guards
    got = _run_audience()
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))


def test_the_audience_module_imports_nothing_that_could_reach_the_classifier():
    tree = ast.parse((ROOT / "helpers" / "metrics" / "abtest.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    relative = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert not relative, relative  # no `from . import styles` and the like
    assert imported <= {"__future__", "math", "re", "dataclasses", "functools", "numpy", "scipy", "statsmodels"}, imported


def test_running_the_audience_loads_no_classifier_embedder_or_model():
    code = ("import sys; from helpers.metrics import abtest; "
            "d = abtest.simulate_audience(['A text!', 'MILLBROOK — a brief.'], 'social_ad', 0, 50); "
            "c = abtest.simulate_audience(['A text.', 'Another one.'], 'social_ad', 1, 50); "
            "abtest.cluster_lift(c, d); abtest.cluster_lift(c, d, method='bootstrap'); "
            "bad = [m for m in ('helpers.multi_style', 'helpers.metrics.style', 'sentence_transformers', 'torch', 'sklearn', "
            "'transformers') if m in sys.modules]; print(bad); assert not bad")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_audience_parameters_are_a_few_hand_set_numbers_not_a_fitted_model():
    from helpers.multi_style import STYLES

    assert set(abtest.CHANNELS) == set(STYLES)
    for channel in abtest.CHANNELS.values():
        assert set(channel.weights) <= set(abtest.SIGNALS)
        assert all(isinstance(w, float) for w in channel.weights.values())
        assert len(channel.weights) <= len(abtest.SIGNALS)  # at most 11 weights; the classifier has 3 x 384
        assert 0 < channel.base_ctr < 0.2 and channel.appeal_sd > 0


def test_a_text_is_judged_alone_not_against_a_batch():
    # a fitted audience (standardising features over a batch, ranking texts) would change its
    # verdict on a text when other texts come along; this one reads each text on its own
    alone = [abtest.expected_ctr([t], "news_brief")[0] for t in TEXTS]
    together = abtest.expected_ctr(TEXTS, "news_brief")
    assert np.allclose(alone, together)
    assert np.allclose(abtest.expected_ctr(TEXTS[::-1], "news_brief"), together[::-1])
