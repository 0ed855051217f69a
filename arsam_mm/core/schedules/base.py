"""The interface of a SAM-step schedule: when an iteration takes the
two-pass SAM step, torch only.

The *when* of an efficient-SAM method (the *what* of one-pass steps is
:mod:`..corrections`, the SAM step's direction :mod:`..directions`).
``plan()`` is called once at the start of every optimizer step and returns
True (SAM step), False (one-pass step) or, for a schedule that decides
after pass 1 (``late``), None, followed by ``decide(grad_sq_norm)``;
``observe()`` sees each SAM step (a schedule that keeps statistics of them
takes them there); ``set_run_length()`` tells the schedule how many
optimizer steps the run has (before the first plan) where the rule or a
budget needs it. A schedule that draws random numbers holds its
:attr:`~StepSchedule.seed`, which every process of a distributed run must
share: a trainer gives all of them rank 0's through ``reseed()`` before the
first plan.
"""
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ..pass_view import PassView

__all__ = ['StepPlan', 'StepSchedule']


@dataclass(frozen=True)
class StepPlan:
    """What one iteration does.

    Attributes:
        sam (bool, optional): Take the two-pass SAM step; None until a
            schedule that decides after pass 1 has decided.
        mix_weight (float): On a one-pass step, the weight ``lam`` of the
            stored PSF added to the gradient (0: plain base step).
    """
    sam: Optional[bool]
    mix_weight: float = 0.0


class StepSchedule:
    """Interface of a SAM-step schedule (see the module doc)."""

    #: Whether the decision needs the first-pass gradient (``decide``).
    late: bool = False
    #: Seed of the schedule's own generator, None when it draws nothing.
    seed: Optional[int] = None

    def plan(self) -> Optional[bool]:
        """Decide the coming step and advance the schedule.

        Returns:
            bool, optional: SAM step or not; None when :attr:`late`.
        """
        raise NotImplementedError

    def decide(self, grad_sq_norm: float) -> bool:
        """For a :attr:`late` schedule: decide from ``||g||^2`` (unscaled,
        all ranks alike), after pass 1."""
        raise NotImplementedError(
            f'{type(self).__name__} decides before pass 1')

    def set_run_length(self, steps: int) -> None:
        """The run's optimizer steps, before the first plan (a Runner gives
        them); raises when a setting cannot be met in that many steps."""

    def reseed(self, seed: int) -> None:
        """Restart the draws from ``seed`` (before the first plan), for a
        schedule whose :attr:`seed` is not None."""
        raise NotImplementedError(
            f'{type(self).__name__} draws no random numbers')

    def observe(self, step: PassView) -> None:
        """See one stage of a SAM step (``'pass1'``, ``'pass2'``,
        ``'end'``; :class:`~arsam_mm.core.pass_view.PassView`), for a rule
        that keeps statistics of SAM steps. A no-op by default."""

    def log_scalars(self) -> Dict[str, float]:
        """Figures worth logging every iteration (host values only)."""
        return {}

    def state_dict(self) -> Dict[str, Any]:
        """Everything that changes future decisions."""
        raise NotImplementedError

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        raise NotImplementedError
