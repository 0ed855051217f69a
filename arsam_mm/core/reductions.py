"""Global norms and inner products over lists of tensors, torch only.

"Global" means over all the tensors taken together; with ``reduce`` (FSDP,
each process holding a shard of every tensor) over the shards as well: the
local sum is reduced once and the result derived from the total. Results
are 0-d tensors on the device (no host sync), float32 at least (float64 for
float64 inputs). Both kernel paths of :mod:`.foreach` give the same bits.

:class:`PassSums` gathers the sums one pass of a SAM step needs, so that
a sharded step reduces them with one ``reduce`` call.
"""
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .foreach import FOREACH_SUPPORT, TensorList, resolve

__all__ = [
    'ReduceSum', 'PassSums', 'global_norm', 'global_dot',
    'projection_coefficient'
]

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
    norms = _tensor_norms(tensors, weights, foreach)
    if reduce is None:
        return torch.linalg.vector_norm(norms, 2)
    total = norms.square().sum()
    reduce(total)
    return total.sqrt()


def _tensor_norms(tensors: TensorList, weights: Optional[TensorList],
                  foreach: Optional[bool]) -> Tensor:
    """The L2 norm of each tensor (of ``|w| * g`` with weights), stacked
    on the first tensor's device; ``tensors`` is not empty."""
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
    return torch.stack([n.to(device) for n in norms])


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
    total = _local_dot(a, b)
    if reduce is not None:
        reduce(total)
    return total


def _local_dot(a: TensorList, b: TensorList) -> Tensor:
    """``<a, b>`` over these tensors; ``a`` is not empty."""
    dtype = _norm_dtype(a)
    device = a[0].device
    parts = [(x.to(dtype) * y.to(dtype)).sum().to(device)
             for x, y in zip(a, b)]
    return torch.stack(parts).sum()


def projection_coefficient(dot: Tensor, sq_norm: Tensor,
                           eps: float) -> Tensor:
    """The coefficient of the projection of ``a`` on ``b``, ``<a, b> /
    (||b||^2 + eps)``, from ``dot = <a, b>`` and ``sq_norm = ||b||^2``; 0
    where ``b`` is zero (LookSAM's ``g_v`` and GSAM's ``g_perp``)."""
    return torch.where(sq_norm > 0, dot / (sq_norm + eps),
                       torch.zeros_like(dot))


class PassSums:
    """The global norms and inner products one pass needs, reduced with one
    ``reduce`` call.

    Whole tensors (``reduce`` None): each value is computed when asked, as
    :func:`global_norm` and :func:`global_dot` compute it, and
    :meth:`reduce` does nothing. Sharded: a value asked is a 0-d tensor
    that :meth:`reduce` fills in place; it holds the local sum (of squares,
    of products) until then. :meth:`reduce` stacks the local sums (in
    float64, whatever their dtypes, so that every rank reduces alike), sums
    them over the shard group in one call and fills each value (the square
    root of its total for a norm) in its dtype. Read the values after
    :meth:`reduce` only.

    Args:
        reduce (Callable, optional): The in-place sum over the shard group.
        foreach (bool, optional): Kernel choice.
        placeholder (Callable): An empty local tensor of the parameters'
            dtype and device, for a rank that holds no element of a list.
    """

    def __init__(self, reduce: Optional[ReduceSum], foreach: Optional[bool],
                 placeholder: Callable[[], Tensor]) -> None:
        self._reduce = reduce
        self.foreach = foreach
        self._placeholder = placeholder
        self._pending: List[Tuple[Tensor, Tensor, bool,
                                  Optional[Tensor]]] = []

    @property
    def sharded(self) -> bool:
        """Whether the values are sums over the shard group."""
        return self._reduce is not None

    def norm(self, tensors: TensorList, weights: Optional[TensorList] = None,
             scale: Optional[Tensor] = None) -> Tensor:
        """The global L2 norm of ``tensors`` (:func:`global_norm`), times
        ``scale`` (a 0-d tensor) if given."""
        if not self.sharded:
            norm = global_norm(tensors, weights, foreach=self.foreach)
            return norm if scale is None else norm * scale.to(norm.device)
        if len(tensors) == 0:
            tensors, weights = [self._placeholder()], None
        local = _tensor_norms(tensors, weights, self.foreach).square().sum()
        return self._defer(local, True, scale)

    def dot(self, a: TensorList, b: TensorList) -> Tensor:
        """The global inner product ``<a, b>`` (:func:`global_dot`)."""
        if not self.sharded:
            return global_dot(a, b, foreach=self.foreach)
        if len(a) == 0:
            a = b = [self._placeholder()]
        return self._defer(_local_dot(a, b), False, None)

    def _defer(self, local: Tensor, root: bool,
               scale: Optional[Tensor]) -> Tensor:
        value = local if scale is None else local * scale.to(local.device)
        out = torch.empty_like(value)
        self._pending.append((local, out, root, scale))
        return out

    def reduce(self) -> None:
        """Sum the local values over the shard group (one call) and fill
        them in; nothing to do for whole tensors."""
        if not self._pending:
            return
        device = self._pending[0][0].device
        total = torch.stack(
            [local.to(device, torch.float64) for local, *_ in self._pending])
        self._reduce(total)
        for k, (local, out, root, scale) in enumerate(self._pending):
            value = total[k].to(local.dtype)
            if root:
                value = value.sqrt()
            if scale is not None:
                value = value * scale.to(value.device)
            out.copy_(value)
        self._pending.clear()
