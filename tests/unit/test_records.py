import math

import nbformat
import pytest

from helpers.workbook import records


def captured(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    return shown


def test_record_roundtrip(tmp_path, monkeypatch):
    shown = captured(monkeypatch)
    records.record("formality_base", 0.25)
    records.record("n_pairs", 12)
    records.record("formality_base", 0.5)  # the last value wins
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data=payload) for payload in shown]
    nb.cells.append(cell)
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, str(path))
    assert records.read_records(path) == {"formality_base": 0.5, "n_pairs": 12}


def test_numpy_scalars_become_plain(monkeypatch):
    import numpy as np

    shown = captured(monkeypatch)
    records.record("x", np.float32(0.5))
    assert shown[0][records.RECORD_MIME]["value"] == 0.5
    assert "x = 0.5000" in shown[0]["text/plain"]


def test_non_finite_rejected(monkeypatch):
    captured(monkeypatch)
    with pytest.raises(ValueError):
        records.record("x", math.nan)


def test_subsample_is_seeded_ordered_and_bounded():
    import pytest

    from helpers import subsample

    items = list(range(50))
    a, b = subsample(items, 10, seed=3), subsample(items, 10, seed=3)
    assert a == b and len(a) == 10 and a == sorted(a) and set(a) <= set(items)
    assert subsample(items, 10, seed=4) != a
    assert subsample(items, None, seed=0) == items and subsample(items, 80, seed=0) == items
    with pytest.raises(ValueError, match="at least 1"):
        subsample(items, 0, seed=0)


def test_inline_figures_counts_png_outputs(tmp_path):
    from helpers.workbook.runner import inline_figures

    nb = nbformat.v4.new_notebook()
    plot = nbformat.v4.new_code_cell("plt.show()")
    plot.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"}),
                    nbformat.v4.new_output("stream", text="saved plot.png")]
    text = nbformat.v4.new_code_cell("print(1)")
    text.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1)]
    nb.cells += [plot, text, nbformat.v4.new_markdown_cell("![figure](plot.png)")]
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, str(path))
    assert inline_figures(path) == 1
