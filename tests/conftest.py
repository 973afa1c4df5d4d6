"""Shared by every test: the offline, quiet, thread-pinned environment (before torch is imported),
and the notebook runs the notebook tests assert on.

Layout: ``tests/unit/`` tests one helpers module each (seconds); ``tests/notebooks/`` executes the
notebooks with papermill and asserts on their records (minutes). ``serving_support.py`` holds what
the router and service tests share; ``expected_records.py`` the records each notebook's tests read.
"""
from helpers.core import runtime

runtime.apply()  # offline, quiet, pinned threads: before torch is imported

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from helpers.workbook import runner  # noqa: E402

from expected_records import EXPECTED_RECORDS  # noqa: E402  (tests/ is on the path: this folder's conftest)


class Records(dict):
    """A notebook's records; a missing one fails with its name and the notebook's."""

    def __init__(self, notebook: str, values: dict):
        super().__init__(values)
        self.notebook = notebook

    def __missing__(self, name):
        raise KeyError(f"notebook {self.notebook} recorded no {name!r} (it recorded {len(self)} others)")


@dataclass
class NotebookRun:
    records: Records
    artifacts: Path   # the run's artifacts_dir; the notebook's own folder is artifacts / <notebook>
    executed: Path    # folder of the executed copy


class NotebookRuns:
    """Executes each notebook once per session, per profile, chain and parameters.

    Runs that name the same ``chain`` share one artifacts folder, so a later lesson reads what an
    earlier one built (lesson 5 reads lesson 4's policy; on ``small`` lessons 4-6 start from
    lesson 1's SFT model). Without a chain a notebook runs standalone in a folder of its own and
    builds the stand-ins it needs (``helpers.workbook.upstream``).
    """

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self._chains: dict[str, Path] = {}
        self._runs: dict[tuple, NotebookRun] = {}

    def __call__(self, notebook: str, profile: str = "tiny", chain: str | None = None, **parameters) -> NotebookRun:
        key = (notebook, profile, chain, tuple(sorted(parameters.items())))
        if key not in self._runs:
            if chain is None:
                root = self._tmp.mktemp(f"nb{notebook}-{profile}")
            else:
                root = self._chains.setdefault(chain, self._tmp.mktemp(f"chain-{chain}"))
            executed = root / f"run{notebook}-{len(self._runs)}"
            values = runner.run_for_records(notebook, executed, root / "artifacts", profile=profile, **parameters)
            missing = [name for name in EXPECTED_RECORDS.get(notebook[:2], []) if name not in values]
            if profile == "tiny" and missing:  # the table lists what the tiny runs record
                raise AssertionError(f"notebook {notebook} on {profile} did not record {missing} "
                                     f"(tests/expected_records.py lists what its tests read)")
            self._runs[key] = NotebookRun(Records(notebook, values), root / "artifacts", executed)
        return self._runs[key]


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory) -> NotebookRuns:
    """``notebook_runs("04", chain="04-05", budget_seeds=1).records``: see :class:`NotebookRuns`."""
    return NotebookRuns(tmp_path_factory)


@pytest.fixture(scope="module", params=["tiny", pytest.param("small", marks=[pytest.mark.small, pytest.mark.long])])
def tiny_or_small(request) -> str:
    """For a lesson that does not read the profile's policy: ``tiny`` in every run, ``small``
    (which repeats it) only with ``-m small`` (``tasks.py test --profile small``)."""
    return request.param
