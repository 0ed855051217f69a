"""Late-phase SAM's schedule: plain steps, then SAM to the end, torch only.

Zhou et al., "Sharpness-Aware Minimization Efficiently Selects Flatter
Minima Late in Training" (ICLR 2025, arXiv 2410.10373; code
zzp1012/SAM-in-Late-Phase) report that SAM applied only over the last part
of training finds minima about as flat, and about as good, as SAM applied
throughout.

With ``T`` optimizer steps in the run (:meth:`LateSchedule.set_run_length`)
and ``target_ratio = r``, the last ``B = budget_steps(r, T)`` steps (``r *
T`` rounded half up, :func:`.budget.budget_steps`, as for ARSAM and AE-SAM)
are SAM steps and every step before them a plain base step: step ``t``
(from 0) is a SAM step iff ``t >= T - B``; ``r = 0.5`` over ``T = 5``
steps plans 3 SAM steps.
"""
from typing import Any, Dict, Optional

from ..validate import check_int, check_ratio
from .base import StepSchedule
from .budget import budget_steps

__all__ = ['LateSchedule']


class LateSchedule(StepSchedule):
    """SAM on the last ``budget_steps(target_ratio, T)`` of ``T`` steps.

    Args:
        target_ratio (float): The share of the run's optimizer steps, at its
            end, that are SAM steps, in [0, 1]. Defaults to 0.1.
    """

    def __init__(self, target_ratio: float = 0.1) -> None:
        self.target_ratio = check_ratio('target_ratio', target_ratio)
        self.run_length: Optional[int] = None
        #: Steps planned so far.
        self.iter = 0

    @property
    def budget(self) -> Optional[int]:
        """SAM steps of the whole run (None before the run length)."""
        if self.run_length is None:
            return None
        return budget_steps(self.target_ratio, self.run_length)

    @property
    def switch(self) -> Optional[int]:
        """The first SAM step ``T - budget`` (None before the run
        length)."""
        if self.run_length is None:
            return None
        return self.run_length - self.budget

    def set_run_length(self, steps: int) -> None:
        """Record ``T`` (a resume into a run of another length moves the
        switch with it)."""
        self.run_length = check_int('run length', steps, 1)

    def plan(self) -> bool:
        """Decide the coming step and advance the schedule.

        Returns:
            bool: Whether it is a SAM step (``iter >= switch``).

        Raises:
            RuntimeError: Before :meth:`set_run_length`.
        """
        if self.run_length is None:
            raise RuntimeError(
                'LateSchedule needs the run length: call set_run_length() '
                'before the first plan (the mmengine wrappers do it from '
                'the Runner; without one call initialize_count_status('
                'model, 0, max_iters))')
        sam = self.iter >= self.switch
        self.iter += 1
        return sam

    def state_dict(self) -> Dict[str, Any]:
        """The step count (the run length too, for a core loop that
        resumes without :meth:`set_run_length`)."""
        return {
            'iter': self.iter,
            'target_ratio': self.target_ratio,
            'run_length': self.run_length
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; a later :meth:`set_run_length` (the
        wrappers give it at their first step) takes precedence."""
        self.iter = int(state['iter'])
        length = state.get('run_length')
        if length is not None:
            self.run_length = int(length)
