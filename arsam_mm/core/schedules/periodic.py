"""Periodic SAM: SAM on every ``interval``-th step (``1``: SAM), torch
only."""
from typing import Any, Dict

from ..validate import check_int
from .base import StepSchedule

__all__ = ['PeriodicSchedule']


class PeriodicSchedule(StepSchedule):
    """SAM on every ``interval``-th iteration, plain steps between.

    ``interval=1`` is SAM. The first iteration is a SAM step (LookSAM's and
    periodic SAM's rule).

    Args:
        interval (int): Period of SAM steps, >= 1. Defaults to 1.
    """

    def __init__(self, interval: int = 1) -> None:
        self.interval = check_int('interval', interval, 1)
        self.iter = 0

    def plan(self) -> bool:
        sam = self.iter % self.interval == 0
        self.iter += 1
        return sam

    def state_dict(self) -> Dict[str, Any]:
        return {'iter': self.iter, 'interval': self.interval}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.iter = int(state['iter'])
