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


def test_lesson_2_plots_draw_each_rater(tmp_path):
    ratings = pd.DataFrame({"rater": ["a", "a", "b", "b"], "trait": ["empathy"] * 4, "score": [1, 5, 4, 5]})
    fig = plotting.plot_rating_distributions(ratings, ["empathy"], save_to=tmp_path / "r.png")
    assert sorted(p.get_height() for p in fig.axes[0].patches if p.get_height()) == [1, 1, 1, 1]
    offsets = {"a": pd.Series([0.5] * 10, index=range(10)[::-1]), "b": pd.Series([-0.5] * 10, index=range(10))}
    fig = plotting.plot_rater_drift(offsets, "empathy", window=4)
    assert len(fig.axes[0].lines) == 3 and fig.axes[0].lines[0].get_ydata()[-1] == 0.5  # two raters and the zero line
    kappa = pd.DataFrame([[1.0, 0.4], [0.4, 1.0]], index=["a", "b"], columns=["a", "b"])
    fig = plotting.plot_agreement_matrix(kappa, "kappa")
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0.40", "0.40", "1.00", "1.00"]
    fig = plotting.plot_position_bias({"careful": 0.5, "left_clicker": 0.9})
    assert [p.get_height() for p in fig.axes[0].patches] == [0.5, 0.9]


def test_ppo_runs_mark_the_kl_target():
    history = pd.DataFrame({"step": [1, 2, 3], "reward": [0, 1, 2], "kl": [0, 2, 4], "entropy": [1, 1, 1],
                            "length": [9, 8, 7]})
    fig = plotting.plot_ppo_runs({"beta 0.05": history}, "PPO", target_kl=6.0)
    assert len(fig.axes) == 4 and list(fig.axes[1].lines[-1].get_ydata()) == [6.0, 6.0]
    assert len(plotting.plot_ppo_runs({"beta 0.05": history}, "PPO").axes[1].lines) == 1


def test_lesson_6_plots(tmp_path):
    class Run:
        sft_log = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.5}]
        dpo_log = [{"step": 1, "loss": 0.69, "rewards/margins": 0.1}]

    class NoDPO(Run):
        dpo_log = []

    fig = plotting.plot_style_adapter_training({"news_brief": Run(), "social_ad": NoDPO()})
    assert [len(ax.lines) for ax in fig.axes] == [2, 1, 1]
    tables = {"adapters": pd.DataFrame([[3, 1], [0, 4]], index=["x", "y"], columns=["x", "y"])}
    fig = plotting.plot_confusions(tables, n_texts=4, save_to=tmp_path / "c.png")
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0", "1", "3", "4"]

    class Lift:
        def __init__(self, relative, low, high):
            self.relative, self.relative_ci_low, self.relative_ci_high = relative, low, high

    fig = plotting.plot_lift_intervals({"news_brief": Lift(0.2, 0.1, 0.3)}, {"news_brief": Lift(0.2, 0.15, 0.25)},
                                       {"news_brief": "news"}, planned_lift=0.25)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["news"]
    plan = pd.DataFrame({"control CTR (expected)": [0.05], "ICC (planned)": [0.02], "per text (used)": [500],
                         "power with 10 texts": [0.3]}, index=["news_brief"])
    fig = plotting.plot_ab_power(plan, 10, 0.25)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4  # clustered, independent, the plan, the 0.9 line
    clustered = fig.axes[0].lines[0].get_ydata()
    assert all(b >= a - 1e-9 for a, b in zip(clustered, clustered[1:]))  # power grows with the impressions


def test_peeking_plot_shows_the_cumulative_false_alarms():
    class Peek:
        looks = [100, 200, 300]
        cumulative_fpr = [0.05, 0.09, 0.12]
        fpr_single_look, alpha = 0.05, 0.05

    fig = plotting.plot_peeking(Peek())
    assert list(fig.axes[0].lines[0].get_ydata()) == [0.05, 0.09, 0.12]
