"""How many examples a property test runs, from the Hypothesis profile tests/conftest.py loads.

`dev` (the default) runs few examples so the suite stays quick; `ci` (CI=true, or
HYPOTHESIS_PROFILE=ci) runs the full count. A property whose input space is larger than
most asks for a multiple of the profile's count instead of a fixed number.
"""

from __future__ import annotations

from hypothesis import settings


def examples(factor: int = 1) -> int:
    """The loaded profile's max_examples, times `factor`."""
    return settings.default.max_examples * factor
