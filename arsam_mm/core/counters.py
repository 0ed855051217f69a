"""What the driver counts: iterations, gradient evaluations, SAM steps,
torch only."""
from typing import Any, Dict, Tuple, Union

from torch import Tensor

__all__ = ['StepCounters']


class StepCounters:
    """Iterations, forward-backward passes and SAM steps of a driver.

    Failed SAM steps (pass 2 not finite) are counted on the device, so that
    no step waits for the host; they are read when :attr:`sam_steps` is.
    """

    def __init__(self) -> None:
        #: Iterations begun.
        self.iters = 0
        #: Forward-backward passes over the iteration batch.
        self.passes = 0
        #: Second passes run.
        self.sam_runs = 0
        #: Second passes that failed: an int, or a 0-d device tensor until
        #: :attr:`sam_steps` reads it.
        self.sam_failed: Union[int, Tensor] = 0

    def begin(self) -> None:
        """An iteration and its first pass."""
        self.iters += 1
        self.passes += 1

    def second_pass(self) -> None:
        """A second pass, run."""
        self.passes += 1
        self.sam_runs += 1

    def failed_unless(self, ok: Tensor) -> None:
        """Count the second pass as failed unless ``ok`` (a 0-d device
        bool); builds a new tensor, reads nothing."""
        self.sam_failed = ~ok + self.sam_failed

    @property
    def sam_steps(self) -> int:
        """Second passes that succeeded; reads the failed count from the
        device (a host wait on CUDA) once per SAM step since the last
        read."""
        if isinstance(self.sam_failed, Tensor):
            self.sam_failed = int(self.sam_failed)
        return self.sam_runs - self.sam_failed

    def sam_step_counts(self) -> Tuple[int, Union[int, Tensor]]:
        """``(runs, failed)`` without a host read; ``failed`` may be a 0-d
        device tensor that later steps do not modify."""
        return self.sam_runs, self.sam_failed

    def state_dict(self) -> Dict[str, int]:
        """The counts (reads the failed count)."""
        return {
            'iters': self.iters,
            'passes': self.passes,
            'sam_runs': self.sam_runs,
            'sam_failed': self.sam_runs - self.sam_steps,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.iters = int(state['iters'])
        self.passes = int(state['passes'])
        self.sam_runs = int(state['sam_runs'])
        self.sam_failed = int(state['sam_failed'])
