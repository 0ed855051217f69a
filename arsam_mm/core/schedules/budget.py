"""Budgets of SAM steps, torch only.

:func:`budget_steps` turns a share of the run into its count of SAM steps,
for every schedule with a ``target_ratio`` (ARSAM, AE-SAM, late-phase SAM).

:class:`WindowBudget` spreads ARSAM's budget over its windows. The
remaining budget is spread over the remaining windows in proportion to
``n`` extrapolated with its mean growth per window over the last
:data:`GROWTH_WINDOWS` windows (a course that levelled off is forecast
flat), kept within ``[1, max_n]`` as the rule keeps ``n`` (an extrapolation
past the cap would starve the current windows and pile the budget into the
last ones). The fractional parts carry over, a window never takes more than
its budget leaves, and takes at least what the later windows could not hold
(``min(length, max_n)`` each).
"""
import math
from collections import deque
from fractions import Fraction
from typing import Any, Deque, Dict

__all__ = ['GROWTH_WINDOWS', 'WindowBudget', 'budget_steps']

#: Windows over which the forecast measures ``n``'s growth.
GROWTH_WINDOWS = 5


def budget_steps(ratio: float, steps: int) -> int:
    """The SAM steps a share ``ratio`` of ``steps`` steps asks for:
    ``ratio * steps`` rounded half up (``floor(x + 1/2)``; 2.5 -> 3).

    The product is exact, taken on the ratio's shortest decimal form
    (``repr``), so that one meant as ``k + 1/2`` rounds up even where the
    float product falls a rounding below it (``0.009 * 1500`` is
    ``13.499999999999998`` in floats; the budget is 14).

    Args:
        ratio (float): The share, in [0, 1].
        steps (int): The run's optimizer steps.

    Returns:
        int: The count, in ``[0, steps]``.
    """
    return math.floor(Fraction(repr(float(ratio))) * steps + Fraction(1, 2))


class WindowBudget:
    """The per-window SAM-step counts of a budgeted ARSAM run.

    Args:
        window (int): Window length K.
        max_n (int): The most SAM steps a window takes.
    """

    def __init__(self, window: int, max_n: int) -> None:
        self.window = window
        self.max_n = max_n
        #: The fractional part of the counts so far.
        self.carry = 0.0
        #: ``n`` at the start of the last few windows.
        self.n_recent: Deque[float] = deque(maxlen=GROWTH_WINDOWS + 1)

    def capacity(self, steps: int) -> int:
        """The most SAM steps ``steps`` steps of windows can hold (whole
        windows, the last possibly partial)."""
        full, part = divmod(steps, self.window)
        return full * self.max_n + min(part, self.max_n)

    def count(self, n: float, left: int, budget: int) -> int:
        """SAM steps of the window that starts now.

        Args:
            n (float): The rule's ``n`` (module doc of
                :mod:`.arsam`) at the window's start.
            left (int): Steps left in the run, this window's included.
            budget (int): SAM steps left of the run's budget.

        Returns:
            int: In ``[0, min(window, left, max_n, budget)]``.
        """
        length = min(self.window, left)
        if length <= 0 or budget <= 0:
            return 0
        # Extrapolate n with its recent mean growth per window.
        self.n_recent.append(n)
        steps = len(self.n_recent) - 1
        growth = (self.n_recent[-1] / self.n_recent[0])**(1 / steps) \
            if steps else 1.0
        total = 0.0
        weight, rest = n, left
        while rest > 0:
            total += weight * min(self.window, rest) / self.window
            rest -= self.window
            weight = min(float(self.max_n), max(1.0, weight * growth))
        share = n * length / self.window
        want = budget * share / total + self.carry
        count = math.floor(want)
        self.carry = want - count
        cap = min(length, self.max_n)
        count = max(count, budget - self.capacity(left - length))
        return max(0, min(count, cap, budget))

    def state_dict(self) -> Dict[str, Any]:
        """``carry`` and ``n_recent``."""
        return {'carry': self.carry, 'n_recent': list(self.n_recent)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (missing keys: a fresh forecast)."""
        self.carry = float(state['carry'])
        self.n_recent.clear()
        self.n_recent.extend(float(x) for x in state['n_recent'])
