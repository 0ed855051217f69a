"""Global norms and inner products over lists of tensors, torch only.

"Global" means over all the tensors taken together; with ``reduce`` (FSDP,
each process holding a shard of every tensor) over the shards as well: the
local sum is reduced once and the result derived from the total. Results
are 0-d tensors on the device (no host sync), float32 at least (float64 for
float64 inputs). Both kernel paths of :mod:`.foreach` give the same bits.
"""
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .foreach import FOREACH_SUPPORT, TensorList, resolve

__all__ = ['ReduceSum', 'global_norm', 'global_dot', 'projection_coefficient']

#: Sums a 0-d tensor in place over a process group (e.g. FSDP's shards).
ReduceSum = Callable[[Tensor], None]


def _norm_dtype(tensors: TensorList) -> torch.dtype:
    """float32 at least, float64 when the tensors are float64."""
    if any(t.dtype == torch.float64 for t in tensors):
        return torch.float64
    return torch.float32


def global_norm(tensors: TensorList,
                weights: Optional[TensorList] = None,
                foreach: Optional[bool] = None,
                reduce: Optional[ReduceSum] = None) -> Tensor:
    """L2 norm of all tensors taken together.

    Args:
        tensors (Sequence[Tensor]): Gradients.
        weights (Sequence[Tensor], optional): If given, the norm of the
            element-wise products ``|w| * g`` (ASAM's normalisation).
        foreach (bool, optional): Use the foreach path. Defaults to None
            (see :func:`default_foreach`).
        reduce (Callable, optional): Sums a 0-d tensor in place over the
            processes that each hold a shard of the tensors (FSDP): the
            local sum of squares is reduced once, then its square root
            taken. Defaults to None: the tensors are whole.

    Returns:
        Tensor: A 0-d tensor on the device of the first tensor, in float32
        (float64 for float64 inputs). Zero for an empty list.
    """
    if len(tensors) == 0:
        if reduce is not None:
            raise ValueError('global_norm with reduce needs at least one '
                             'tensor (its dtype and device), got none')
        return torch.zeros(())
    dtype = _norm_dtype(tensors)
    device = tensors[0].device
    if weights is not None:
        tensors = [w * g for w, g in zip(weights, tensors)]
    if resolve(foreach, tensors):
        # Per-tensor norms back in the tensors' order, so that the final
        # reduction adds them exactly as the loop does.
        positions: Dict[Tuple, List[int]] = defaultdict(list)
        for i, t in enumerate(tensors):
            positions[(t.device, t.dtype)].append(i)
        norms = [None] * len(tensors)
        for (_, group_dtype), where in positions.items():
            group = [tensors[i] for i in where]
            if FOREACH_SUPPORT['norm_dtype']:
                parts = torch._foreach_norm(group, 2, dtype=dtype)
            elif group_dtype == dtype:
                parts = torch._foreach_norm(group, 2)
            else:
                parts = [
                    torch.linalg.vector_norm(t, 2, dtype=dtype)
                    for t in group
                ]
            for i, part in zip(where, parts):
                norms[i] = part
    else:
        norms = [torch.linalg.vector_norm(t, 2, dtype=dtype) for t in tensors]
    norms = torch.stack([n.to(device) for n in norms])
    if reduce is None:
        return torch.linalg.vector_norm(norms, 2)
    total = norms.square().sum()
    reduce(total)
    return total.sqrt()


def global_dot(a: TensorList, b: TensorList,
               foreach: Optional[bool] = None,
               reduce: Optional[ReduceSum] = None) -> Tensor:
    """Inner product of two aligned tensor lists taken together.

    Args:
        a (Sequence[Tensor]): First list.
        b (Sequence[Tensor]): Second list, same shapes.
        foreach (bool, optional): Unused (kept for a uniform signature);
            one fused multiply-sum per tensor.
        reduce (Callable, optional): Sums the local inner product in place
            over the processes holding shards of the lists (as in
            :func:`global_norm`). Defaults to None.

    Returns:
        Tensor: 0-d, float32 at least (float64 for float64 inputs), on the
        device of the first tensor; zero for empty lists.
    """
    if len(a) == 0:
        if reduce is not None:
            raise ValueError('global_dot with reduce needs at least one '
                             'tensor (its dtype and device), got none')
        return torch.zeros(())
    dtype = _norm_dtype(a)
    device = a[0].device
    parts = [(x.to(dtype) * y.to(dtype)).sum().to(device)
             for x, y in zip(a, b)]
    total = torch.stack(parts).sum()
    if reduce is not None:
        reduce(total)
    return total


def projection_coefficient(dot: Tensor, sq_norm: Tensor,
                           eps: float) -> Tensor:
    """The coefficient of the projection of ``a`` on ``b``, ``<a, b> /
    (||b||^2 + eps)``, from ``dot = <a, b>`` and ``sq_norm = ||b||^2``; 0
    where ``b`` is zero (LookSAM's ``g_v`` and GSAM's ``g_perp``)."""
    return torch.where(sq_norm > 0, dot / (sq_norm + eps),
                       torch.zeros_like(dot))
