"""Figures that stay on the device until someone reads the log.

A wrapper logs figures computed on the device (a SAM step's success, the
kept vector's norm) every iteration. Reading each on the host would make
every step wait for the device, while mmengine's LoggerHook reads the
MessageHub only every ``interval`` iterations (``LogProcessor`` takes the
``current()`` of each ``train/`` scalar, or a custom statistic, then).

:class:`DeferredHistoryBuffer` is mmengine's ``HistoryBuffer`` with a queue:
:func:`update_deferred` appends a value that depends on 0-d device tensors,
and the queue is read in one go (one ``tolist`` per device) the first time
anything reads the buffer: its statistics, ``data``, a copy or a pickle. So
every value of every iteration is what an immediate read would have given,
and the host waits only when a logger, a hook or a checkpoint reads.
Deep copies are plain ``HistoryBuffer`` objects, so checkpoints (which
hold ``MessageHub.state_dict()``) hold mmengine's own type. Without any
reader the queue is read every :attr:`DeferredHistoryBuffer.max_pending`
values, which bounds its memory.
"""
import copy
from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from mmengine.logging import HistoryBuffer, MessageHub
from torch import Tensor

__all__ = ['DeferredHistoryBuffer', 'update_deferred']

_Entry = Tuple[Callable[..., Any], Tuple[Any, ...], int]


class DeferredHistoryBuffer(HistoryBuffer):
    """A ``HistoryBuffer`` whose latest values may still be on the device.

    Args:
        log_history (Sequence): History logs. Defaults to [].
        count_history (Sequence): Counts of history logs. Defaults to [].
        max_length (int): The max length of history logs. Defaults to
            1000000.
    """

    #: Queued values after which the buffer reads them without a reader.
    max_pending = 1000

    def __init__(self,
                 log_history: Sequence = (),
                 count_history: Sequence = (),
                 max_length: int = 1000000) -> None:
        super().__init__(list(log_history), list(count_history), max_length)
        self._pending: List[_Entry] = []

    def defer(self,
              fn: Callable[..., Any],
              args: Sequence[Any],
              count: int = 1) -> None:
        """Queue the value ``fn(*args)``, tensors in ``args`` replaced by
        their host values when the buffer is read.

        Args:
            fn (Callable): Returns the int or float to log.
            args (Sequence): Host numbers and 0-d tensors; a tensor must not
                be modified in place afterwards.
            count (int): As in ``HistoryBuffer.update``. Defaults to 1.
        """
        self._pending.append((fn, tuple(args), count))
        if len(self._pending) >= self.max_pending:
            self.fold()

    def fold(self) -> None:
        """Read the queued tensors (one ``tolist`` per device) and append
        the queued values in order."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        by_device: Dict[torch.device, Dict[int, Tensor]] = {}
        for _, args, _ in pending:
            for arg in args:
                if isinstance(arg, Tensor):
                    by_device.setdefault(arg.device, {})[id(arg)] = arg
        values: Dict[int, float] = {}
        for tensors in by_device.values():
            stacked = torch.stack([
                t.detach().reshape(()).to(torch.float64)
                for t in tensors.values()
            ])
            values.update(zip(tensors, stacked.tolist()))
        for fn, args, count in pending:
            host = (values[id(a)] if isinstance(a, Tensor) else a
                    for a in args)
            self._append(fn(*host), count)

    def _append(self, log_val: Any, count: int) -> None:
        if len(self._log_history):
            super().update(log_val, count)
        else:  # as HistoryBuffer([log_val], [count]): ints stay ints
            super().__init__([log_val], [count], self.max_length)

    # --- every way in reads the queue first ---------------------------
    def update(self, log_val: Any, count: int = 1) -> None:
        if self._pending:  # keep the order
            self._pending.append((_identity, (log_val, ), count))
        else:
            self._append(log_val, count)

    @property
    def data(self) -> Tuple[Any, Any]:
        self.fold()
        return super().data

    def statistics(self, method_name: str, *args, **kwargs) -> Any:
        self.fold()
        return super().statistics(method_name, *args, **kwargs)

    def mean(self, window_size=None):
        self.fold()
        return super().mean(window_size)

    def max(self, window_size=None):
        self.fold()
        return super().max(window_size)

    def min(self, window_size=None):
        self.fold()
        return super().min(window_size)

    def current(self):
        self.fold()
        return super().current()

    def __getstate__(self) -> dict:
        self.fold()
        state = dict(super().__getstate__())
        state.pop('_pending', None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._pending = []

    def __deepcopy__(self, memo: dict) -> HistoryBuffer:
        """A plain ``HistoryBuffer`` (``MessageHub.state_dict`` copies its
        scalars, so checkpoints hold mmengine's own type)."""
        plain = HistoryBuffer.__new__(HistoryBuffer)
        plain.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return plain


def _identity(value: Any) -> Any:
    return value


def update_deferred(hub: MessageHub, key: str, fn: Callable[..., Any],
                    *args: Any) -> None:
    """Log ``fn(*args)`` under ``key``; read it on the host now only when
    no argument is a tensor.

    Args:
        hub (MessageHub): The hub to log to.
        key (str): The scalar's name, e.g. ``'train/sam_step'``.
        fn (Callable): Returns the int or float to log from host values.
        *args: Host numbers and 0-d tensors (not modified in place later).
    """
    if not any(isinstance(arg, Tensor) for arg in args):
        hub.update_scalar(key, fn(*args))
        return
    buffer = hub.log_scalars.get(key)
    if not isinstance(buffer, DeferredHistoryBuffer):
        if buffer is None:
            buffer = DeferredHistoryBuffer()
        else:  # a plain one: first use, or loaded from a checkpoint
            buffer = DeferredHistoryBuffer(*buffer.data, buffer.max_length)
        hub.log_scalars[key] = buffer
        hub._set_resumed_keys(key, True)  # as update_scalar does
    buffer.defer(fn, args)
