import krippendorff
import numpy as np
import pytest

from helpers.core import data
from helpers.metrics.agreement import cohens_kappa, kappa_table, krippendorff_alpha, krippendorff_alpha_by_hand
from helpers.preferences import reliability_matrix


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_written_out_matches_the_package_on_random_data(level):
    rng = np.random.default_rng(7)
    for _ in range(5):
        m = rng.integers(1, 6, size=(4, 30)).astype(float)
        m[rng.random(m.shape) < 0.15] = np.nan
        assert krippendorff_alpha_by_hand(m, level) == pytest.approx(
            krippendorff.alpha(reliability_data=m, level_of_measurement=level), abs=1e-6)


@pytest.mark.parametrize("trait", ["empathy", "professionalism"])
def test_alpha_written_out_matches_on_shipped_likert_data(trait):
    _, ratings = data.load_likert()
    m, raters, items = reliability_matrix(ratings, trait)
    assert len(raters) >= 3 and len(items) >= 60
    assert krippendorff_alpha_by_hand(m, "ordinal") == pytest.approx(
        krippendorff.alpha(reliability_data=m, level_of_measurement="ordinal"), abs=1e-6)


def test_kappa_of_a_textbook_table():
    # 50 items: both say yes 20, both no 15, disagree 15 -> observed 0.70, chance 0.50, kappa 0.40
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohens_kappa(a, b) == pytest.approx(0.40)


def test_quadratic_weights_forgive_near_misses():
    a, near, far = [1, 2, 3, 4, 5] * 4, [2, 3, 4, 5, 4] * 4, [5, 4, 1, 2, 1] * 4
    assert cohens_kappa(a, near, "quadratic") > cohens_kappa(a, near) and cohens_kappa(a, far, "quadratic") < 0


def test_perfect_and_chance_agreement():
    assert cohens_kappa([1, 2, 3], [1, 2, 3]) == 1.0
    perfect = np.array([[1, 2, 3, 4], [1, 2, 3, 4]], dtype=float)
    assert krippendorff_alpha(perfect) == pytest.approx(1.0) == krippendorff_alpha(np.ones((2, 4)))
    with pytest.raises(ValueError):
        cohens_kappa([1], [1, 2])


def test_kappa_table_is_symmetric_uses_shared_items_only_and_has_ones_on_the_diagonal():
    nan = float("nan")
    matrix = np.array([[1, 2, 3, 4, 5, nan], [1, 2, 3, 4, 5, 1], [5, 4, 3, 2, 1, 3]], dtype=float)
    table = kappa_table(matrix, ["a", "b", "c"])
    assert list(table.index) == list(table.columns) == ["a", "b", "c"]
    assert np.allclose(np.diag(table.values), 1) and np.allclose(table.values, table.values.T)
    assert table.loc["a", "b"] == 1  # agree on every item both rated (b's last item is ignored)
    assert table.loc["a", "c"] == cohens_kappa([1, 2, 3, 4, 5], [5, 4, 3, 2, 1], weights="quadratic") < 0
