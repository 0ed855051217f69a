"""One whole iteration of :class:`~.sharpness_aware.SharpnessAware` for
plain PyTorch loops, torch only."""
import contextlib
from typing import TYPE_CHECKING, Callable, Optional

import torch
from torch import Tensor, nn

from .pass_context import frozen_batchnorm, replay_rng, rng_state

if TYPE_CHECKING:
    from .sharpness_aware import SharpnessAware

__all__ = ['closure_step']


def closure_step(sa: 'SharpnessAware',
                 closure: Callable[[], Tensor],
                 module: Optional[nn.Module] = None,
                 replay_random: bool = True) -> Tensor:
    """Plan, pass 1, pass 2 on a SAM step, the base optimizer's step.

    Pass 2 behaves as in the mmengine wrappers: with ``module`` given,
    BatchNorm running statistics (and ``num_batches_tracked``) are left as
    pass 1 left them, and with ``replay_random`` the global RNG is replayed
    from the state before pass 1, so dropout draws the same masks;
    afterwards the RNG continues as if pass 2 had drawn nothing.

    Args:
        sa (SharpnessAware): The driver.
        closure (Callable): Computes the loss on the iteration's batch and
            calls ``backward()``; it must not zero the gradients. Called
            once, or twice on SAM steps (same batch).
        module (nn.Module, optional): The model, for BatchNorm.
        replay_random (bool): Replay the RNG in pass 2. Defaults to True.

    Returns:
        Tensor: The first-pass loss.
    """
    plan = sa.begin()
    sa.optimizer.zero_grad()
    state = rng_state() if plan.sam is not False and replay_random \
        else None
    with torch.enable_grad():
        loss = closure()
    plan = sa.decide()
    if plan.sam:
        sa.perturb()
        frozen = contextlib.nullcontext() if module is None else \
            frozen_batchnorm(module)
        try:
            with torch.enable_grad(), frozen, replay_rng(state):
                closure()
        finally:
            sa.restore()
    else:
        sa.mix(plan.mix_weight)
    if not sa.skip_update:
        sa.optimizer.step()
    return loss
