"""Shared helpers of the Style Alignment Workbook.

Notebooks stay narrative; the reusable logic lives here, documented and unit-tested.
"""
from . import runtime, tracking
from .profiles import PROFILES, Profile, get_profile
from .records import read_records, record
from .seeding import set_seed, subsample

__all__ = ["PROFILES", "Profile", "get_profile", "record", "read_records", "set_seed", "subsample"]
