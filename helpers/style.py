"""``helpers.style``: the public name of the style scorers, kept for notebooks and checks written
against it. The module lives in :mod:`helpers.metrics.style`; importing this name gives that
module itself (not a copy), so ``helpers.style.formality_scores`` is ``helpers.metrics.style.formality_scores``."""
import sys

from .metrics import style as _style

sys.modules[__name__] = _style
