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

A family wrapper built with ``AmpOptimWrapper``'s own arguments
(:data:`AMP_ARGUMENTS`: ``loss_scale``, ``dtype``, ``use_fsdp``) builds its
twin instead (:func:`amp_class`, called from
:meth:`SharpnessAwareOptimWrapper.__new__`), with a warning: an fp16
model-zoo config switched by two keys (``optim_wrapper =
dict(type='ARSAMOptimWrapper', rho=0.05)`` over ``AmpOptimWrapper`` with
``loss_scale='dynamic'``) merges into the family type with a
``loss_scale``, and its user wants the Amp twin.
"""
import contextlib
import inspect
import logging
from typing import Any, Dict, Iterator, Optional, Tuple, Type

import torch
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast
from torch import nn

from ...family import amp_twins
from .efficient_sam_optim_wrappers import (AESAMOptimWrapper, GSAMOptimWrapper,
                                           LateSAMOptimWrapper,
                                           LookSAMOptimWrapper,
                                           RandomSAMOptimWrapper)
from .sam_optim_wrapper import ARSAMOptimWrapper, SAMOptimWrapper
from .sharpness_aware_optim_wrapper import SharpnessAwareOptimWrapper

__all__ = [
    'AmpSecondPass', 'amp_twin', 'amp_class', 'AMP_TWINS', 'AMP_ARGUMENTS'
]

#: Wrapper type name -> its automatic-mixed-precision twin's name: mmengine's
#: own, every wrapper of the family table (:func:`arsam_mm.family.amp_twins`)
#: and any other that :func:`amp_twin` builds.
AMP_TWINS: Dict[str, str] = {'OptimWrapper': 'AmpOptimWrapper', **amp_twins()}

#: The arguments ``AmpOptimWrapper`` adds to ``OptimWrapper``'s.
AMP_ARGUMENTS: Tuple[str, ...] = tuple(
    name for name in inspect.signature(AmpOptimWrapper.__init__).parameters
    if name not in inspect.signature(OptimWrapper.__init__).parameters
    and name != 'kwargs')

#: Family wrapper class -> its twin class (filled by :func:`amp_twin`).
_TWIN_CLASSES: Dict[type, type] = {}


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
    _TWIN_CLASSES[cls] = twin
    return twin


def amp_class(cls: type, kwargs: Dict[str, Any]) -> type:
    """The class to build for ``cls(**kwargs)``: ``cls``, or its AMP twin
    when ``kwargs`` holds an argument of :data:`AMP_ARGUMENTS` (logged as a
    warning that names both types and the arguments).

    Args:
        cls (type): The family wrapper being built.
        kwargs (dict): Its keyword arguments.

    Returns:
        type: ``cls`` or its twin.

    Raises:
        TypeError: When ``kwargs`` holds an AMP argument and ``cls`` has no
            twin (a subclass outside the family), naming the argument.
    """
    given = [name for name in AMP_ARGUMENTS if name in kwargs]
    if not given or issubclass(cls, AmpOptimWrapper):
        return cls
    names = ', '.join(repr(name) for name in given)
    twin = _TWIN_CLASSES.get(cls)
    if twin is None:
        raise TypeError(
            f'{cls.__name__} got AmpOptimWrapper\'s argument {names} but has '
            'no AMP twin; make one with arsam_mm.engine.optim_wrappers.'
            f'amp_twin({cls.__name__}) and use its type')
    print_log(
        f'{cls.__name__} got AmpOptimWrapper\'s argument {names} (an fp16 '
        f'config switched by its type?): building its AMP twin '
        f'{twin.__name__} instead',
        logger='current',
        level=logging.WARNING)
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
