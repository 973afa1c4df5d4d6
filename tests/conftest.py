from helpers import runtime

runtime.apply()  # offline, quiet, pinned threads: before torch is imported

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def small_artifacts(tmp_path_factory):
    """One artifacts folder for the notebook tests on `small`: lesson 1's SFT model, trained by
    its test, is the model lessons 4 and 5 start from (they build it themselves when run alone)."""
    return tmp_path_factory.mktemp("small") / "artifacts"
