import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from helpers import data
from helpers.agreement import cohens_kappa, krippendorff_alpha
from helpers.preferences import reliability_matrix


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_matches_krippendorff_package_on_random_data(level):
    rng = np.random.default_rng(7)
    for _ in range(5):
        m = rng.integers(1, 6, size=(4, 30)).astype(float)
        m[rng.random(m.shape) < 0.15] = np.nan
        assert krippendorff_alpha(m, level) == pytest.approx(
            krippendorff.alpha(reliability_data=m, level_of_measurement=level), abs=1e-6)


@pytest.mark.parametrize("trait", ["empathy", "professionalism"])
def test_alpha_matches_on_shipped_likert_data(trait):
    _, ratings = data.load_likert()
    m, raters, items = reliability_matrix(ratings, trait)
    assert len(raters) >= 3 and len(items) >= 60
    assert krippendorff_alpha(m, "ordinal") == pytest.approx(
        krippendorff.alpha(reliability_data=m, level_of_measurement="ordinal"), abs=1e-6)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_matches_sklearn(weights):
    rng = np.random.default_rng(3)
    a = rng.integers(1, 6, 80)
    b = np.clip(a + rng.integers(-1, 2, 80), 1, 5)
    assert cohens_kappa(list(a), list(b), weights) == pytest.approx(cohen_kappa_score(a, b, weights=weights), abs=1e-9)


def test_kappa_matches_sklearn_on_shipped_raters():
    _, ratings = data.load_likert()
    m, raters, _ = reliability_matrix(ratings, "empathy")
    both = ~np.isnan(m[0]) & ~np.isnan(m[1])
    a, b = m[0][both].astype(int), m[1][both].astype(int)
    assert cohens_kappa(list(a), list(b), "quadratic") == pytest.approx(
        cohen_kappa_score(a, b, weights="quadratic"), abs=1e-6)


def test_perfect_and_chance_agreement():
    assert cohens_kappa([1, 2, 3], [1, 2, 3]) == 1.0
    perfect = np.array([[1, 2, 3, 4], [1, 2, 3, 4]], dtype=float)
    assert krippendorff_alpha(perfect) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        cohens_kappa([1], [1, 2])
