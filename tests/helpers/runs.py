"""Comparing two fits of the same data laid out differently (other partitions, blocks or
backends). Their sums are added in another order, so they agree to rounding, not to the bit:
the objective after every pass must agree, and the number of passes too unless the stopping
rule's test fell within rounding of its threshold, which the maths cannot rule out."""

from __future__ import annotations

import pytest


def same_passes(a, b, tol: float = 1e-6, rtol: float = 1e-10) -> bool:
    """Assert ``a`` and ``b`` (runs with a ``history``) had the same objective after every
    pass they share, and the same number of passes unless the shorter stopped on a relative
    change within rounding of ``tol`` (the relative rule's threshold). True when they made
    the same passes, so their final parameters can be compared."""
    first = [h.objective for h in a.history]
    second = [h.objective for h in b.history]
    shared = min(len(first), len(second))
    assert first[:shared] == pytest.approx(second[:shared], rel=rtol)
    if len(first) == len(second):
        return True
    longer = first if len(first) > len(second) else second
    assert abs(len(first) - len(second)) == 1, (len(first), len(second))
    change = (longer[shared - 1] - longer[shared - 2]) / abs(longer[shared - 1])
    assert change == pytest.approx(tol, rel=1e-3), "the runs stopped apart without cause"
    return False
