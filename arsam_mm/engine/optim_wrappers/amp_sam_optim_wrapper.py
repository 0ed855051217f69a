"""Automatic mixed precision for every SAM-family wrapper, one way.

:func:`amp_twin` builds, for a wrapper ``XOptimWrapper``, the class
``AmpXOptimWrapper`` = (:class:`AmpSecondPass`, ``XOptimWrapper``,
:class:`mmengine.optim.AmpOptimWrapper`) and registers it; every member of
the family gets its twin from the same few lines (:data:`AMP_TWINS` maps
each name to its twin's, for ``tools/train.py --amp``).

What changes with a loss scaler (``GradScaler``):

* The gradients of both passes carry the loss scale ``S`` (it only changes
  in ``step``). Norms, the perturbation and the stored vector are computed
  with a manual ``1 / S`` from the scaler's scale tensor, never with
  ``unscale_`` (which may run once per step, in ``step``); the stored vector
  is kept unscaled and multiplied by the current scale when it is mixed in.
* A step whose pass-1 gradients are not finite skips the perturbation and
  pass 2: the gradients stay non-finite, so the scaler skips the step and
  lowers the scale as usual; the stored vector is cleared. The finiteness
  test reads one flag on the host, on SAM steps only, from pass 1's norm,
  which the perturbation then reuses (one norm per SAM step).
* A pass 2 that overflows leaves its gradients non-finite too (no fallback
  to ``g``): the scaler must see the overflow to lower the scale.
* Pass 2 runs under the same ``autocast`` as pass 1. bf16 works the same;
  its scaler is whatever ``AmpOptimWrapper`` builds.
"""
import contextlib
from typing import Any, Dict, Iterator, Optional, Type

import torch
from mmengine.optim import AmpOptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast
from torch import nn

from .efficient_sam_optim_wrappers import (AESAMOptimWrapper,
                                           GSAMOptimWrapper,
                                           LateSAMOptimWrapper,
                                           LookSAMOptimWrapper,
                                           RandomSAMOptimWrapper)
from .sam_optim_wrapper import ARSAMOptimWrapper, SAMOptimWrapper
from .sharpness_aware_optim_wrapper import SharpnessAwareOptimWrapper

__all__ = ['AmpSecondPass', 'amp_twin', 'AMP_TWINS']

#: Wrapper type name -> its automatic-mixed-precision twin's name.
AMP_TWINS: Dict[str, str] = {'OptimWrapper': 'AmpOptimWrapper'}


class AmpSecondPass:
    """Loss-scaler hooks of the second pass; first in a twin's bases,
    before the family wrapper and :class:`AmpOptimWrapper`."""

    sharpness: Any
    loss_scaler: Any
    cast_dtype: Optional[torch.dtype]

    def _grad_scale(self) -> Optional[torch.Tensor]:
        scaler = self.loss_scaler
        if not scaler.is_enabled():
            return None
        return getattr(scaler, '_scale', None)

    def _sam_ready(self) -> bool:
        norm = self.sharpness.first_norm(self._grad_scale())
        if bool(torch.isfinite(norm)):
            return True
        self.sharpness.clear_store()
        return False

    @contextlib.contextmanager
    def _pass2_context(self, module: nn.Module, state: Any) -> Iterator[None]:
        with super()._pass2_context(module, state), \
                autocast(dtype=self.cast_dtype):
            yield

    def _backward_pass2(self, loss: torch.Tensor) -> None:
        self.loss_scaler.scale(loss).backward()


def amp_twin(cls: Type[SharpnessAwareOptimWrapper]) -> type:
    """Build and register ``Amp<cls name>``: ``cls`` on
    :class:`AmpOptimWrapper` (``loss_scale``, ``dtype``)."""
    name = f'Amp{cls.__name__}'
    twin = type(
        name, (AmpSecondPass, cls, AmpOptimWrapper), {
            '__doc__':
            f':class:`{cls.__name__}` with automatic mixed precision '
            '(:mod:`arsam_mm.engine.optim_wrappers.amp_sam_optim_wrapper`)'
            '; arguments as both, plus ``loss_scale`` and ``dtype``.',
            '__module__': __name__,
        })
    OPTIM_WRAPPERS.register_module(module=twin)
    AMP_TWINS[cls.__name__] = name
    return twin


AmpSAMOptimWrapper = amp_twin(SAMOptimWrapper)
AmpARSAMOptimWrapper = amp_twin(ARSAMOptimWrapper)
AmpLookSAMOptimWrapper = amp_twin(LookSAMOptimWrapper)
AmpRandomSAMOptimWrapper = amp_twin(RandomSAMOptimWrapper)
AmpGSAMOptimWrapper = amp_twin(GSAMOptimWrapper)
AmpAESAMOptimWrapper = amp_twin(AESAMOptimWrapper)
AmpLateSAMOptimWrapper = amp_twin(LateSAMOptimWrapper)
__all__ += [
    'AmpSAMOptimWrapper', 'AmpARSAMOptimWrapper', 'AmpLookSAMOptimWrapper',
    'AmpRandomSAMOptimWrapper', 'AmpGSAMOptimWrapper', 'AmpAESAMOptimWrapper',
    'AmpLateSAMOptimWrapper'
]
