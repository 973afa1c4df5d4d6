"""The entry script hands the right command line to pytest and the scripts (no environment is built)."""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import tasks  # noqa: E402


@pytest.fixture
def launched(monkeypatch):
    calls = []
    monkeypatch.setattr(tasks, "ensure_env", lambda: Path("/venv/bin/python"))
    monkeypatch.setattr(tasks, "ensure_browser", lambda: None)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    return calls


@pytest.mark.parametrize("argv, expected", [
    (["test"], ["-m", "pytest"]),
    (["test", "--profile", "small"], ["-m", "pytest", "-m", "small"]),
    (["test", "-m", "not notebook", "-q"], ["-m", "pytest", "-m", "not notebook", "-q"]),
    (["test", "tests/notebooks/test_browser.py", "-x"], ["-m", "pytest", "tests/notebooks/test_browser.py", "-x"]),
])
def test_test_command_passes_the_profile_as_a_marker_and_the_rest_to_pytest(launched, argv, expected):
    assert tasks.main(argv) == 0
    assert launched[-1][1:] == expected


def test_workbook_defaults_to_small_and_takes_a_profile(launched):
    tasks.main(["workbook"])
    tasks.main(["workbook", "--profile", "tiny", "--out", "reports/tiny"])
    assert launched[0][1:] == ["scripts/run_workbook.py", "--profile", "small", "--out", "reports/latest"]
    assert launched[1][1:] == ["scripts/run_workbook.py", "--profile", "tiny", "--out", "reports/tiny"]
