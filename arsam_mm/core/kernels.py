"""Tensor kernels of SAM and ARSAM, torch only.

Every kernel works on aligned lists of tensors (one entry per parameter) and
comes in two implementations beside each other, as in ``torch/optim/sgd.py``:
a single-tensor loop and a ``torch._foreach_*`` path that launches one kernel
per (device, dtype) group. ``foreach=None`` picks the foreach path when every
tensor lives on CUDA (where it is faster) and the loop otherwise; both give
bit-identical results because they apply the same elementwise operations in
the same order.

Scalars that depend on gradient values (the perturbation scale) stay 0-d
tensors on the device: no kernel here synchronises with the host.

Older torch releases lack some foreach overloads this module would use:
``_foreach_norm(..., dtype=)`` appeared in torch 2.4, ``_foreach_copy_`` in
2.1, and ``_foreach_mul_`` with a 0-d tensor factor in 2.1. Each is probed once
on import (:data:`FOREACH_SUPPORT`); where one is missing, that operation
alone falls back to the single-tensor loop, which gives the same bits.

The environment variable ``ARSAM_MM_FOREACH`` (``1`` or ``0``), read on import,
overrides the default choice: ``1`` makes a CPU run take the kernels CUDA
selects, which is how the tests exercise them without a GPU.
"""
import os
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

__all__ = [
    'FOREACH_SUPPORT', 'default_foreach', 'global_norm', 'perturb_',
    'restore_', 'psf_', 'mix_', 'scale_', 'copy_', 'zero_', 'fallback_',
    'global_dot', 'add_', 'combine_'
]

TensorList = Sequence[Tensor]
#: Sums a 0-d tensor in place over a process group (e.g. FSDP's shards).
ReduceSum = Callable[[Tensor], None]


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


def _group(*tensor_lists: TensorList) -> Dict[Tuple, List[List[Tensor]]]:
    """Group aligned tensor lists by the (device, dtype) of the first list."""
    groups: Dict[Tuple, List[List[Tensor]]] = defaultdict(
        lambda: [[] for _ in tensor_lists])
    for items in zip(*tensor_lists):
        key = (items[0].device, items[0].dtype)
        for bucket, item in zip(groups[key], items):
            bucket.append(item)
    return groups


def _resolve(foreach: Optional[bool], *tensor_lists: TensorList) -> bool:
    return default_foreach(*tensor_lists) if foreach is None else foreach


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
    if _resolve(foreach, tensors):
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


def _foreach_mul_tensor(tensors: List[Tensor], factor: Tensor,
                        inplace: bool) -> List[Tensor]:
    """``tensors * factor`` for a 0-d tensor factor on their device, fused
    where this torch has the overload (2.1+), one kernel each otherwise."""
    if FOREACH_SUPPORT['mul_tensor']:
        if inplace:
            torch._foreach_mul_(tensors, factor)
            return tensors
        return list(torch._foreach_mul(tensors, factor))
    if inplace:
        for t in tensors:
            t.mul_(factor)
        return tensors
    return [t * factor for t in tensors]


def _single_tensor_perturb_(params: TensorList, grads: TensorList,
                            scale: Tensor, adaptive: bool) -> None:
    for p, g in zip(params, grads):
        if adaptive:
            g.mul_(p).mul_(p)
        g.mul_(scale.to(g.device)).nan_to_num_(0.0, 0.0, 0.0)
        p.add_(g)


def _multi_tensor_perturb_(params: TensorList, grads: TensorList,
                           scale: Tensor, adaptive: bool) -> None:
    for (device, _), (ps, gs) in _group(params, grads).items():
        if adaptive:
            torch._foreach_mul_(gs, ps)
            torch._foreach_mul_(gs, ps)
        _foreach_mul_tensor(gs, scale.to(device), inplace=True)
        for g in gs:
            g.nan_to_num_(0.0, 0.0, 0.0)
        torch._foreach_add_(ps, gs)


def perturb_(params: TensorList,
             grads: TensorList,
             scale: Tensor,
             adaptive: bool = False,
             foreach: Optional[bool] = None) -> None:
    """Move the weights to ``w + e`` with ``e = scale * g``.

    The gradients are overwritten with ``e`` (``scale * w * w * g`` when
    ``adaptive``), which saves a temporary: the caller stores what it needs
    before calling and zeroes the gradients after. Non-finite entries of
    ``e`` become 0, so a zero ``scale`` (non-finite gradients) leaves the
    weights exactly as they were.

    Args:
        params (Sequence[Tensor]): Weights, updated in place.
        grads (Sequence[Tensor]): Their gradients; overwritten with ``e``.
        scale (Tensor): 0-d tensor, ``rho / (||g|| + eps)``.
        adaptive (bool): ASAM's element-wise scaling by ``w ** 2``.
        foreach (bool, optional): Use the foreach path.
    """
    if _resolve(foreach, params):
        _multi_tensor_perturb_(params, grads, scale, adaptive)
    else:
        _single_tensor_perturb_(params, grads, scale, adaptive)


def restore_(params: TensorList,
             offsets: TensorList,
             scale: Optional[Tensor] = None,
             foreach: Optional[bool] = None) -> None:
    """Undo :func:`perturb_`: ``w <- (w + e) - e``.

    Args:
        params (Sequence[Tensor]): Perturbed weights, updated in place.
        offsets (Sequence[Tensor]): ``e`` itself, or ``g`` when ``scale`` is
            given, in which case ``e = g * scale`` is recomputed with the very
            operation :func:`perturb_` used, so the subtracted value is
            bit-identical to the added one. The temporary this needs is
            allocated after the second backward pass, when activations are
            freed, so it does not raise the peak memory.
        scale (Tensor, optional): 0-d tensor the offsets are multiplied by.
        foreach (bool, optional): Use the foreach path.
    """
    if _resolve(foreach, params):
        for (device, _), (ps, es) in _group(params, offsets).items():
            if scale is not None:
                es = _foreach_mul_tensor(
                    es, scale.to(device), inplace=False)
                for e in es:
                    e.nan_to_num_(0.0, 0.0, 0.0)
            torch._foreach_sub_(ps, es)
    else:
        for p, e in zip(params, offsets):
            if scale is not None:
                e = (e * scale.to(e.device)).nan_to_num_(0.0, 0.0, 0.0)
            p.sub_(e)


def psf_(psf: TensorList,
         grads: TensorList,
         foreach: Optional[bool] = None) -> None:
    """In place ``psf <- grads - psf``: the PSF ``v = g_s - g``.

    Args:
        psf (Sequence[Tensor]): Holds ``g`` on entry and ``v`` on exit.
        grads (Sequence[Tensor]): ``g_s``, the gradients at ``w + e``.
        foreach (bool, optional): Use the foreach path.
    """
    if _resolve(foreach, psf):
        for _, (vs, gs) in _group(psf, grads).items():
            torch._foreach_neg_(vs)
            torch._foreach_add_(vs, gs)
    else:
        for v, g in zip(psf, grads):
            v.neg_().add_(g)


def mix_(grads: TensorList,
         psf: TensorList,
         weight: Union[float, Tensor],
         foreach: Optional[bool] = None) -> None:
    """In place ``grads <- grads + weight * psf``: the reuse-step direction.

    Args:
        grads (Sequence[Tensor]): ``g``, overwritten with ``d``.
        psf (Sequence[Tensor]): The stored PSF ``v``.
        weight (float | Tensor): The mixing weight ``lam``: a host number,
            or a 0-d tensor (``lam`` times the AMP loss scale), no sync.
        foreach (bool, optional): Use the foreach path.
    """
    if _resolve(foreach, grads):
        for (device, _), (gs, vs) in _group(grads, psf).items():
            if isinstance(weight, Tensor):
                torch._foreach_add_(
                    gs,
                    _foreach_mul_tensor(
                        vs, weight.to(device), inplace=False))
            else:
                torch._foreach_add_(gs, vs, alpha=weight)
    else:
        for g, v in zip(grads, psf):
            if isinstance(weight, Tensor):
                g.add_(v * weight.to(v.device))
            else:
                g.add_(v, alpha=weight)


def scale_(tensors: TensorList,
           factor: Tensor,
           foreach: Optional[bool] = None) -> None:
    """In place ``tensors <- tensors * factor`` for a 0-d tensor factor.

    Args:
        tensors (Sequence[Tensor]): Tensors to scale.
        factor (Tensor): 0-d factor (stays on the device).
        foreach (bool, optional): Use the foreach path.
    """
    if _resolve(foreach, tensors):
        for (device, _), (ts, ) in _group(tensors).items():
            _foreach_mul_tensor(ts, factor.to(device), inplace=True)
    else:
        for t in tensors:
            t.mul_(factor.to(t.device))


def copy_(dst: TensorList,
          src: TensorList,
          foreach: Optional[bool] = None) -> None:
    """In place ``dst <- src``.

    Args:
        dst (Sequence[Tensor]): Destination buffers.
        src (Sequence[Tensor]): Sources, same shapes.
        foreach (bool, optional): Use the foreach path.
    """
    if _resolve(foreach, dst):
        for _, (ds, ss) in _group(dst, src).items():
            if FOREACH_SUPPORT['copy']:
                torch._foreach_copy_(ds, ss)
            else:
                for d, s in zip(ds, ss):
                    d.copy_(s)
    else:
        for d, s in zip(dst, src):
            d.copy_(s)


def zero_(tensors: TensorList, foreach: Optional[bool] = None) -> None:
    """In place ``tensors <- 0``.

    Args:
        tensors (Sequence[Tensor]): Tensors to clear.
        foreach (bool, optional): Use the foreach path.
    """
    if _resolve(foreach, tensors):
        for _, (ts, ) in _group(tensors).items():
            torch._foreach_zero_(ts)
    else:
        for t in tensors:
            t.zero_()


def fallback_(grads: TensorList, kept: TensorList, ok: Tensor) -> None:
    """In place ``grads <- grads if ok else kept``, decided on the device.

    Used after pass 2: when ``g_s`` is not finite the step falls back to the
    first-pass gradient ``g`` without the host reading ``ok``. (torch has no
    foreach ``where``; one kernel per tensor, on SAM steps only.)

    Args:
        grads (Sequence[Tensor]): ``g_s``, overwritten.
        kept (Sequence[Tensor]): ``g``, same shapes.
        ok (Tensor): 0-d bool on the device.
    """
    for g, k in zip(grads, kept):
        torch.where(ok.to(g.device), g, k, out=g)


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


def add_(dst: TensorList, src: TensorList,
         foreach: Optional[bool] = None) -> None:
    """In place ``dst <- dst + src``.

    Args:
        dst (Sequence[Tensor]): Updated in place.
        src (Sequence[Tensor]): Same shapes.
        foreach (bool, optional): Use the foreach path.
    """
    if _resolve(foreach, dst):
        for _, (ds, ss) in _group(dst, src).items():
            torch._foreach_add_(ds, ss)
    else:
        for d, s in zip(dst, src):
            d.add_(s)


def combine_(dst: TensorList, other: TensorList, a: Tensor, b: Tensor,
             foreach: Optional[bool] = None) -> None:
    """In place ``dst <- a * dst + b * other`` for 0-d tensor factors.

    Args:
        dst (Sequence[Tensor]): Updated in place.
        other (Sequence[Tensor]): Same shapes.
        a (Tensor): 0-d factor of ``dst``.
        b (Tensor): 0-d factor of ``other``.
        foreach (bool, optional): Use the foreach path.
    """
    scale_(dst, a, foreach=foreach)
    mix_(dst, other, b, foreach=foreach)
