"""Helpers shared by the test modules."""

from __future__ import annotations

from typing import Any

import numpy as np


def assert_identical(a: Any, b: Any) -> None:
    """Assert two outputs are identical: same types, arrays equal with same dtype, floats bit-equal."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_identical(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_identical(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        assert np.array_equal(a, b)
    elif isinstance(a, float):
        assert a.hex() == b.hex()
    else:
        assert a == b
