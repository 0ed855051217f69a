"""Context managers that make pass 2 see what pass 1 saw."""
import contextlib
from typing import Any, Dict, Iterator, List, Optional

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['frozen_batchnorm', 'rng_state', 'replay_rng']


@contextlib.contextmanager
def frozen_batchnorm(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers normalise with batch statistics as usual but leave
    their running statistics and ``num_batches_tracked`` untouched.

    Args:
        module (nn.Module): The model (any depth of BatchNorm layers, SyncBN
            included).
    """
    saved: List[tuple] = []
    for m in module.modules():
        if isinstance(m, _BatchNorm) and m.training and \
                m.track_running_stats:
            count = None
            if m.num_batches_tracked is not None:
                count = m.num_batches_tracked.clone()
            saved.append((m, m.momentum, count))
            m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum, count in saved:
            m.momentum = momentum
            if count is not None:
                m.num_batches_tracked.copy_(count)


def rng_state() -> Dict[str, Any]:
    """The CPU and current-CUDA-device generator states."""
    state: Dict[str, Any] = {'cpu': torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        device = torch.cuda.current_device()
        state['cuda'] = (device, torch.cuda.get_rng_state(device))
    return state


@contextlib.contextmanager
def replay_rng(state: Optional[Dict[str, Any]]) -> Iterator[None]:
    """Run the block from ``state``, then continue the global RNG streams as
    if the block had not drawn anything. ``None`` does nothing.

    Args:
        state (dict, optional): From :func:`rng_state`.
    """
    if state is None:
        yield
        return
    devices = [state['cuda'][0]] if 'cuda' in state else []
    with torch.random.fork_rng(devices=devices):
        torch.set_rng_state(state['cpu'])
        if 'cuda' in state:
            torch.cuda.set_rng_state(state['cuda'][1], state['cuda'][0])
        yield
