"""Quiet notebooks: no progress bars or weight-loading reports in executed notebooks."""
from __future__ import annotations


def quiet_libraries() -> None:
    """Silence progress bars and weight-loading reports so executed notebooks stay readable."""
    import logging
    import warnings

    import datasets
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.utils.logging.set_verbosity_error()
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*kernels.*")
