"""Which kernel path runs, torch only.

Every kernel of :mod:`.kernels` and :mod:`.reductions` comes in two
implementations beside each other, as in ``torch/optim/sgd.py``: a
single-tensor loop and a ``torch._foreach_*`` path that launches one kernel
per (device, dtype) group. ``foreach=None`` picks the foreach path when every
tensor lives on CUDA (where it is faster) and the loop otherwise
(:func:`default_foreach`); both give bit-identical results because they
apply the same elementwise operations in the same order.

Older torch releases lack some foreach overloads the kernels would use:
``_foreach_norm(..., dtype=)`` appeared in torch 2.4, ``_foreach_copy_`` in
2.1, and ``_foreach_mul_`` with a 0-d tensor factor in 2.1. Each is probed
once on import (:data:`FOREACH_SUPPORT`); where one is missing, that
operation alone falls back to the single-tensor loop, which gives the same
bits.

The environment variable ``ARSAM_MM_FOREACH`` (``1`` or ``0``), read on
import, overrides the default choice: ``1`` makes a CPU run take the kernels
CUDA selects, which is how the tests exercise them without a GPU.
"""
import os
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor

__all__ = ['FOREACH_SUPPORT', 'TensorList', 'default_foreach', 'resolve']

TensorList = Sequence[Tensor]


def _probe(op) -> bool:
    """Whether a foreach overload exists in this torch (on a CPU tensor)."""
    try:
        op()
    except (AttributeError, TypeError, RuntimeError, NotImplementedError):
        return False
    return True


#: Which foreach overloads this torch has (probed once, on import).
FOREACH_SUPPORT: Dict[str, bool] = {
    'norm_dtype': _probe(lambda: torch._foreach_norm(
        [torch.ones(1)], 2, dtype=torch.float32)),
    'copy': _probe(lambda: torch._foreach_copy_(
        [torch.ones(1)], [torch.ones(1)])),
    'mul_tensor': _probe(lambda: torch._foreach_mul_(
        [torch.ones(1)], torch.ones(()))),
}


def _forced_foreach() -> Optional[bool]:
    value = os.environ.get('ARSAM_MM_FOREACH', '')
    if value not in ('', '0', '1'):
        raise ValueError(
            f'ARSAM_MM_FOREACH must be 0, 1 or unset, got {value!r}')
    return None if value == '' else value == '1'


_FORCED_FOREACH = _forced_foreach()


def default_foreach(*tensor_lists: TensorList) -> bool:
    """Whether the foreach path is the better default for these tensors.

    Args:
        *tensor_lists: The tensor lists a kernel is about to process.

    Returns:
        bool: True when every tensor is on a CUDA device (or as
        ``ARSAM_MM_FOREACH`` says, when it is set).
    """
    if _FORCED_FOREACH is not None:
        return _FORCED_FOREACH
    return all(t.is_cuda for tensors in tensor_lists for t in tensors) and \
        any(len(tensors) > 0 for tensors in tensor_lists)


def resolve(foreach: Optional[bool], *tensor_lists: TensorList) -> bool:
    """``foreach``, or :func:`default_foreach` when it is None."""
    return default_foreach(*tensor_lists) if foreach is None else foreach
