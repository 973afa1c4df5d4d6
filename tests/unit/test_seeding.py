"""helpers.core.seeding: the same seed gives the same random numbers; subsample is seeded and ordered."""
import random

import numpy as np
import pytest
import torch

from helpers import set_seed, subsample
from helpers.core import runtime


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_the_same_seed_gives_the_same_draws_and_another_seed_others():
    set_seed(3)
    first = draws()
    set_seed(3)
    assert draws() == first
    set_seed(4)
    assert draws() != first


def test_seeding_pins_torch_to_the_workbook_thread_count(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv(runtime.THREADS_VAR, "1")
    try:
        set_seed(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_subsample_keeps_order_and_depends_on_the_seed():
    items = list(range(50))
    picked = subsample(items, 10, seed=1)
    assert len(picked) == 10 and picked == sorted(picked) and picked == subsample(items, 10, seed=1)
    assert picked != subsample(items, 10, seed=2)
    assert subsample(items, None, 0) == items and subsample(items, 80, 0) == items


def test_subsample_refuses_an_empty_sample():
    with pytest.raises(ValueError, match="at least 1"):
        subsample([1, 2, 3], 0, seed=0)
