"""helpers.workbook.plotting: every shared plot returns its figure, draws what it is given, and saves it."""
import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers.workbook import plotting  # noqa: E402


def test_training_curves_draw_one_panel_per_logged_key(tmp_path):
    history = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5, "grad_norm": 3.0}, {"step": 3, "loss": 1.0}]
    fig = plotting.plot_training_curves(history, keys=("loss", "grad_norm", "never_logged"), save_to=tmp_path / "c.png")
    assert len(fig.axes) == 2  # a key no row has gets no panel
    assert list(fig.axes[0].lines[0].get_ydata()) == [2.0, 1.5, 1.0]
    assert (tmp_path / "c.png").stat().st_size > 0


def test_online_rl_curves_plot_each_run_against_generated_tokens():
    frame = pd.DataFrame({"tokens": [1000, 2000, 3000], "reward": [0.0, 0.3, 0.6], "kl_per_token": [0, 0.1, 0.2],
                          "entropy": [1.0, 0.9, 0.8], "length": [20, 22, 24]})
    fig = plotting.plot_online_rl_curves({"PPO": frame, "RLOO": frame.assign(reward=frame["reward"] * 2)}, title="t")
    assert len(fig.axes) == 4 and all(len(ax.lines) == 2 for ax in fig.axes)
    assert list(fig.axes[0].lines[0].get_xdata()) == [1.0, 2.0, 3.0]  # thousands of tokens
    assert fig.axes[0].lines[1].get_ydata()[-1] == pytest.approx((0.0 + 0.6 + 1.2) / 3)  # 3-step rolling mean


def test_before_after_bars_and_histograms(tmp_path):
    fig = plotting.plot_before_after({"formality": (0.4, 0.7), "recall": (0.2, 0.5)}, save_to=tmp_path / "b.png")
    heights = [round(p.get_height(), 3) for p in fig.axes[0].patches]
    assert heights == [0.4, 0.2, 0.7, 0.5]
    fig = plotting.plot_score_histograms({"base": [0.1, 0.2], "tuned": [0.8, 0.9, 0.95]})
    assert sum(p.get_height() for p in fig.axes[0].patches) == 5


def test_samples_are_written_as_quoted_markdown(tmp_path):
    path = plotting.write_samples(tmp_path / "s.md", "Lesson 1", [{"email": "Hi,\nwhere is it?", "reply": "Dear Ann"}])
    text = path.read_text()
    assert text.startswith("### Lesson 1") and "> Hi,\n> where is it?" in text and "*reply:*" in text
