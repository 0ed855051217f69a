"""In-place tensor kernels of the SAM family's steps, torch only.

Every kernel works on aligned lists of tensors (one entry per parameter), in
a single-tensor loop and a ``torch._foreach_*`` path that give the same bits
(:mod:`.foreach` picks one). Scalars that depend on gradient values (the
perturbation scale, a mixing weight times the loss scale) stay 0-d tensors
on the device: no kernel here synchronises with the host. The global norms
and inner products are :mod:`.reductions`' (their names are kept here too).
"""
from collections import defaultdict
from typing import Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from .foreach import FOREACH_SUPPORT, TensorList, default_foreach, resolve
from .reductions import ReduceSum, global_dot, global_norm

__all__ = [
    'FOREACH_SUPPORT', 'default_foreach', 'global_norm', 'perturb_',
    'restore_', 'psf_', 'mix_', 'scale_', 'copy_', 'zero_', 'fallback_',
    'global_dot', 'add_', 'combine_', 'ReduceSum'
]


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
    return resolve(foreach, *tensor_lists)


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
