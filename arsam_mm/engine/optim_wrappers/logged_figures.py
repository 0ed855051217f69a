"""The figures a family wrapper writes to the MessageHub every iteration,
which carries them to the text log and every visualization backend.

``train/sam_step`` (1 or 0), ``train/sam_fraction`` (share of the updates
so far that used the SAM gradient), ``train/grad_evals`` (forward-backward
passes so far, micro-batches and second passes counted one by one),
``train/rho``, the schedule's figures (ARSAM's ``train/sam_count``) and the
norm of the correction's kept vector (ARSAM's ``train/psf_norm``,
LookSAM's ``train/gv_norm``).

Nothing is read from the device here: the figures that depend on device
values (a SAM step's success, the norm) wait in the MessageHub and are read
when a logger, a hook or a checkpoint reads them (:mod:`.deferred_scalars`),
so an fp32 step that does not log never waits for the device.
"""
from typing import Any, Tuple

from mmengine.logging import MessageHub

from ...core.sharpness_aware import SharpnessAware
from .deferred_scalars import update_deferred

__all__ = ['SAMFigures']


def _sam_step(runs: int, runs_before: int, failed: float,
              failed_before: float) -> int:
    """1 when the update used the SAM gradient, else 0."""
    return int(runs - runs_before - (failed - failed_before))


def _sam_fraction(runs: int, failed: float, iters: int) -> float:
    """Share of the updates so far that used the SAM gradient."""
    return (runs - failed) / iters if iters else 0.0


class SAMFigures:
    """Writes the figures of one wrapper (see the module doc).

    Args:
        sharpness (SharpnessAware): The wrapper's core.
    """

    def __init__(self, sharpness: SharpnessAware) -> None:
        self.sharpness = sharpness
        #: ``sharpness.sam_step_counts()`` at the last update.
        self.logged: Tuple[int, Any] = (0, 0)

    def resume(self) -> None:
        """After the core loaded a checkpoint: count from its counters."""
        self.logged = self.sharpness.sam_step_counts()

    def log(self, updated: bool, grad_evals: int, rho: float) -> None:
        """Write this iteration's figures.

        Args:
            updated (bool): Whether the iteration ended a cycle (stepped).
            grad_evals (int): The wrapper's forward-backward passes so far.
            rho (float): The current perturbation radius.
        """
        hub = MessageHub.get_current_instance()
        sa = self.sharpness
        runs, failed = sa.sam_step_counts()
        if not updated:
            hub.update_scalar('train/sam_step', int(bool(sa.plan.sam)))
        else:
            (runs_before, failed_before), self.logged = \
                self.logged, (runs, failed)
            if runs == runs_before:  # no second pass: nothing to read
                hub.update_scalar('train/sam_step', 0)
            else:
                update_deferred(hub, 'train/sam_step', _sam_step, runs,
                                runs_before, failed, failed_before)
        update_deferred(hub, 'train/sam_fraction', _sam_fraction, runs,
                        failed, sa.iters)
        hub.update_scalar('train/grad_evals', grad_evals)
        hub.update_scalar('train/rho', rho)
        for key, value in sa.schedule.log_scalars().items():
            hub.update_scalar(f'train/{key}', value)
        if sa.store_norm is not None:
            update_deferred(hub, f'train/{sa.correction.log_name}', float,
                            sa.store_norm)
