"""Hooks that record what the benchmark reports, from inside a run."""
import numbers
import time
from typing import Any, Dict, List, Optional

import torch
from mmengine.hooks import Hook

__all__ = ['IterTimerStart', 'BenchmarkRecorder']


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _is_number(value: Any) -> bool:
    """Python and numpy real scalars (numpy 2 keeps float32 results as
    ``np.float32``, which is not a ``float``) and one-element tensors."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    return isinstance(value, torch.Tensor) and value.numel() == 1


class IterTimerStart(Hook):
    """Starts the step timer as the last hook before ``train_step``."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.start = 0.0

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Any = None) -> None:
        _sync()
        self.start = time.perf_counter()


class BenchmarkRecorder(Hook):
    """Stops the timer as the first hook after ``train_step`` and records,
    per iteration, seconds, gradient evaluations so far, whether it was a
    SAM step and ARSAM's count ``n``; after each validation, the metrics
    with the training time and gradient evaluations spent so far.

    Args:
        timer (IterTimerStart): The companion hook.
    """

    priority = 'HIGHEST'

    def __init__(self, timer: IterTimerStart) -> None:
        self.timer = timer
        self.seconds: List[float] = []
        self.grad_evals: List[int] = []
        self.sam: List[int] = []
        self.count: List[Optional[float]] = []
        self.evals: List[Dict[str, Any]] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        _sync()
        self.seconds.append(time.perf_counter() - self.timer.start)
        wrapper = runner.optim_wrapper
        sa = getattr(wrapper, 'sharpness', None)
        if sa is None:
            self.grad_evals.append(len(self.seconds))
            self.sam.append(0)
            self.count.append(None)
            return
        # True passes (micro-batches and second passes); a SAM step counts
        # as one only when its update used the SAM gradient.
        self.grad_evals.append(wrapper.passes)
        hub = runner.message_hub.log_scalars.get('train/sam_step')
        self.sam.append(int(hub.current()) if hub is not None else
                        int(sa.plan.sam))
        self.count.append(getattr(sa.schedule, 'n', None))

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        self.evals.append(
            dict(
                iter=len(self.seconds),
                train_seconds=sum(self.seconds),
                grad_evals=self.grad_evals[-1] if self.grad_evals else 0,
                metrics={k: float(v) for k, v in (metrics or {}).items()
                         if _is_number(v)}))

    def result(self) -> Dict[str, Any]:
        """Everything recorded, as plain JSON-able values."""
        return dict(seconds=self.seconds, grad_evals=self.grad_evals,
                    sam=self.sam, count=self.count, evals=self.evals)
