"""Device values brought to the host without stalling the device, torch
only.

:meth:`HostQueue.put` starts a non-blocking copy of a small device tensor
into pinned host memory and records a CUDA event after it; :meth:`drain`
waits on each event (long passed by then, typically) and returns the values.
A CPU tensor is copied at once.
"""
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

__all__ = ['HostQueue']


class HostQueue:
    """Copies of 1-d device tensors on their way to the host."""

    def __init__(self) -> None:
        self._pending: List[Tuple[Tensor, Optional[Any]]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, values: Tensor) -> None:
        """Start copying ``values`` (1-d) to the host; no host sync."""
        values = values.detach()
        if values.is_cuda:
            host = torch.empty(values.shape, dtype=values.dtype,
                               pin_memory=True)
            host.copy_(values, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._pending.append((host, event))
        else:
            self._pending.append((values.to('cpu'), None))

    def drain(self) -> List[List[float]]:
        """The queued values in order, as floats (waits for each copy's
        event); the queue is left empty."""
        out = []
        for host, event in self._pending:
            if event is not None:
                event.synchronize()
            out.append([float(x) for x in host.tolist()])
        self._pending.clear()
        return out

    def clear(self) -> None:
        """Drop the queued values unread."""
        self._pending.clear()
