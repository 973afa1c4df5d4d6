"""Shared helpers of the Style Alignment Workbook.

Notebooks stay narrative; the reusable logic lives here, documented and unit-tested. The package
has four layers and the lesson modules; ``ls helpers/*/`` shows which layer a module is in:

* ``core/``: what every lesson stands on: profiles, paths, seeding, the process environment, data
  loading, the policy model (tiny and small), chat templates, generation, log-probabilities and
  the reference policy, TRL configs, checkpoints, experiment tracking;
* ``metrics/``: measuring text and people: the style scorers and triad (``helpers.style``), their
  validation, fact recall, rater agreement, A/B statistics, judge statistics, policy evaluation,
  reward-hacking probes and detectors;
* ``serving/``: the style router, its HTTP and OpenAI-compatible service, mixed-adapter batching;
* ``workbook/``: running the notebooks: records, the runner, the report, plots, the version check,
  quiet logging, upstream artifacts between lessons, the training CLI;
* the lesson modules, at the top, each named after what it teaches: ``sft`` (1), ``labeling`` and
  ``preferences`` (2), ``rewards`` and ``likert_judge`` (3), ``ppo`` and ``online_rl`` (4), ``dpo`` (5),
  ``multi_style`` (6), ``judge`` and ``drift`` (7), ``multi_objective`` and ``refusals`` (8),
  ``constitution`` and ``active_labels`` (9).

Imports point downwards: core imports nothing else of the package; metrics, serving and workbook
import core (metrics' plots use ``workbook.plotting``); the lesson modules import any layer.
"""
from .core import runtime, tracking
from .core.profiles import PROFILES, Profile, get_profile
from .core.seeding import set_seed, subsample
from .workbook.records import read_records, record
from .workbook.start import start

__all__ = ["PROFILES", "Profile", "get_profile", "record", "read_records", "set_seed", "start", "subsample"]
