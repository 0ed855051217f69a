"""SAM and ARSAM on top of mmengine's :class:`AmpOptimWrapper`.

What changes with a loss scaler (``GradScaler``):

* The gradients of both passes carry the loss scale ``S`` (it only changes
  in ``step``). Norms, the perturbation and the stored PSF are computed with
  a manual ``1 / S`` from the scaler's scale tensor, never with
  ``unscale_`` (which may run once per step, in ``step``); the PSF is kept
  unscaled and multiplied by the current scale when it is mixed in.
* A step whose pass-1 gradients are not finite skips the perturbation and
  pass 2: the gradients stay non-finite, so the scaler skips the step and
  lowers the scale as usual; the stored PSF is cleared. (The finiteness test
  reads one flag on the host, on SAM steps only; the scaler's own ``step``
  reads one on every step.)
* Pass 2 runs under the same ``autocast`` as pass 1. bf16 works the same;
  its scaler is whatever ``AmpOptimWrapper`` builds.
"""
import contextlib
from typing import Any, Iterator, Optional

import torch
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast
from torch import nn

from ... import kernels as K
from .sam_optim_wrapper import ARSAMOptimWrapper, SAMOptimWrapper

__all__ = ['AmpSAMOptimWrapper', 'AmpARSAMOptimWrapper']


class _AmpHooks:
    """Loss-scaler hooks of the second pass; goes first in the bases, before
    the plain wrapper and :class:`AmpOptimWrapper`."""

    sa: Any
    optimizer: torch.optim.Optimizer
    loss_scaler: Any
    cast_dtype: Optional[torch.dtype]

    def _grad_scale(self) -> Optional[torch.Tensor]:
        scaler = self.loss_scaler
        if not scaler.is_enabled():
            return None
        return getattr(scaler, '_scale', None)

    def _sam_ready(self) -> bool:
        grads = [
            p.grad for group in self.optimizer.param_groups
            for p in group['params'] if p.grad is not None
        ]
        if not grads or bool(torch.isfinite(K.global_norm(grads))):
            return True
        self.sa.clear_psf()
        return False

    @contextlib.contextmanager
    def _pass2_context(self, module: nn.Module, state: Any) -> Iterator[None]:
        with super()._pass2_context(  # type: ignore[misc]
                module, state), \
                autocast(dtype=self.cast_dtype):
            yield

    def _backward_pass2(self, loss: torch.Tensor) -> None:
        self.loss_scaler.scale(loss).backward()


@OPTIM_WRAPPERS.register_module()
class AmpSAMOptimWrapper(_AmpHooks, SAMOptimWrapper, AmpOptimWrapper):
    """:class:`SAMOptimWrapper` with automatic mixed precision.

    Args:
        rho, adaptive, interval, replay_random: As :class:`SAMOptimWrapper`.
        **kwargs: For :class:`mmengine.optim.AmpOptimWrapper`
            (``loss_scale``, ``dtype``, ``optimizer``, ...).
    """


@OPTIM_WRAPPERS.register_module()
class AmpARSAMOptimWrapper(_AmpHooks, ARSAMOptimWrapper, AmpOptimWrapper):
    """:class:`ARSAMOptimWrapper` with automatic mixed precision.

    Args:
        rho, warmup_iters, window, ...: As :class:`ARSAMOptimWrapper`.
        **kwargs: For :class:`mmengine.optim.AmpOptimWrapper`.
    """
