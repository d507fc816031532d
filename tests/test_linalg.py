"""Exact determinants of float matrices: the integer (Bareiss) path against rational elimination."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from hiddenconvex._linalg import float_det_exact, fraction_det


def _reference(A) -> Fraction:
    return fraction_det([[Fraction(float(x)) for x in row] for row in A])


@pytest.mark.parametrize("seed", range(4))
def test_float_det_exact_equals_rational_elimination(seed):
    """Random sizes 1..6, magnitudes 1e-30..1e30 per row, exactly singular matrices (a row a
    power-of-two multiple of another, a zero row), integer matrices, a zero leading pivot."""
    rng = np.random.default_rng(seed)
    for t in range(300):
        n = int(rng.integers(1, 7))
        A = rng.standard_normal((n, n)) * 10.0 ** rng.integers(-30, 30, size=(n, 1))
        if t % 3 == 0 and n > 1:
            A[-1] = A[0] * 2.0 ** int(rng.integers(-3, 4))
        if t % 5 == 0:
            A[int(rng.integers(n))] = 0.0
        if t % 7 == 0:
            A = np.round(A)
        if t % 11 == 0:
            A[0, 0] = 0.0
        assert float_det_exact(A) == _reference(A)


def test_float_det_exact_small_cases():
    assert float_det_exact(np.zeros((0, 0))) == 1
    assert float_det_exact([[0.5]]) == Fraction(1, 2)
    assert float_det_exact([[0.0, 1.0], [1.0, 0.0]]) == -1
    assert float_det_exact([[0.1, 0.2], [0.2, 0.4]]) == 0  # exactly singular in binary too
    # 1/3 in binary: the determinant of the floats, not of the decimals
    third = 1.0 / 3.0
    assert float_det_exact([[third, 1.0], [1.0, 3.0]]) == Fraction(third) * 3 - 1
