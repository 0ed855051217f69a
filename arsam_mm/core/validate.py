"""Argument checks shared by the package (no torch needed).

Each raises ``TypeError`` for a value of the wrong type and ``ValueError``
for one out of range, naming the argument and the value.
"""
import math
import numbers
from typing import Any

__all__ = ['check_int', 'check_float', 'check_ratio', 'check_nonnegative']


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (a Python or numpy int, not a bool), as a
    Python int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f'{name} must be an int, got {value!r}')
    if value < minimum:
        raise ValueError(f'{name} must be >= {minimum}, got {value!r}')
    return int(value)


def check_float(name: str, value: Any) -> float:
    """A finite number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f'{name} must be a number, got {value!r}')
    if not math.isfinite(value):
        raise ValueError(f'{name} must be finite, got {value!r}')
    return float(value)


def check_ratio(name: str, value: Any) -> float:
    """A finite number in [0, 1]."""
    value = check_float(name, value)
    if not 0 <= value <= 1:
        raise ValueError(f'{name} must be in [0, 1], got {value!r}')
    return value


def check_nonnegative(name: str, value: Any) -> float:
    """A finite number >= 0."""
    value = check_float(name, value)
    if value < 0:
        raise ValueError(f'{name} must be >= 0, got {value!r}')
    return value
