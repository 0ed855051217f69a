"""Context managers that make pass 2 see what pass 1 saw, torch only.

Used by :func:`.closure_step.closure_step` (plain loops) and by the
mmengine optimizer wrappers alike.
"""
import contextlib
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['frozen_batchnorm', 'rng_state', 'replay_rng']


@contextlib.contextmanager
def frozen_batchnorm(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers normalise with batch statistics as usual but leave
    their running statistics and ``num_batches_tracked`` as they were.

    The statistics are saved and written back, not frozen with
    ``momentum = 0``: an inf activation in the block would otherwise make
    them NaN for good (``0 * inf``). They are small (two vectors per
    layer), so the copy costs nothing next to a forward pass. Works for any
    depth of BatchNorm layers, SyncBN included, and for ``momentum=None``
    (cumulative averages).

    Args:
        module (nn.Module): The model.
    """
    saved: List[Tuple[_BatchNorm, List[Optional[Tensor]]]] = []
    for m in module.modules():
        if isinstance(m, _BatchNorm) and m.training and \
                m.track_running_stats:
            stats = [m.running_mean, m.running_var, m.num_batches_tracked]
            saved.append(
                (m, [None if t is None else t.clone() for t in stats]))
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (mean, var, count) in saved:
                for live, kept in ((m.running_mean, mean),
                                   (m.running_var, var),
                                   (m.num_batches_tracked, count)):
                    if live is not None and kept is not None:
                        live.copy_(kept)


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
