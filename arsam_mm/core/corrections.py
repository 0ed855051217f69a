"""What a one-pass step adds to the gradient, torch only.

An efficient-SAM method answers three questions: *when* an iteration is a
two-pass SAM step (:mod:`.schedules`), *which*
direction a SAM step takes (:mod:`.directions`), and *what* a one-pass step
adds to its gradient ``g``: this module. A :class:`Correction` may keep one
parameter-sized vector, built at every SAM step from ``g`` and ``g_s`` in the
buffer the driver already holds (``g`` during pass 2), and add it with a
weight on one-pass steps:

* :class:`NoCorrection`: nothing (periodic SAM, randomized SAM, AE-SAM).
* :class:`PSFReuse`: ARSAM's PSF ``v = g_s - g``, added with weight
  ``beta ** k`` on the k-th step after the SAM step while
  ``k <= max_reuse_steps``.
* :class:`LookSAMReuse`: LookSAM's ``g_v = g_s - (<g_s, g> / ||g||^2) g``
  (the part of ``g_s`` orthogonal to ``g``), added with weight
  ``alpha * ||g_t|| / ||g_v||``.

Every vector and every norm is global over the parameters with a gradient;
scalars that depend on gradient values stay 0-d device tensors (no host
sync). A SAM step whose gradients were not finite stores zeros (the driver
passes the device flag ``ok``).
"""
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import Tensor

from . import kernels as K
from .reductions import (PassSums, ReduceSum, global_norm,
                         projection_coefficient)
from .validate import check_int, check_nonnegative, check_ratio

__all__ = ['Correction', 'NoCorrection', 'PSFReuse', 'LookSAMReuse']


class Correction:
    """Interface: build a vector at SAM steps, add it at one-pass steps.

    The driver calls, per iteration: :meth:`start` when a SAM step is
    decided, then after pass 2 :meth:`ask` (before pass 2's global sums are
    reduced), :meth:`build_` (``store`` holds ``g``, ``grads`` hold
    ``g_s``, both carrying the same loss scale) and :meth:`built` with the
    kept vector's norm once it is unscaled and masked; or :meth:`weight`
    when a one-pass step is decided, then :meth:`mix_`.
    """

    #: Whether a vector is kept after SAM steps (the driver's buffer).
    stores: bool = False
    #: Name of the kept vector's norm in the logs.
    log_name: str = 'store_norm'
    #: Sums a 0-d tensor over the shard group (FSDP), set by the driver
    #: (:attr:`SharpnessAware.reduce_sum`), for the global norms of
    #: one-pass steps. None: whole tensors.
    reduce: Optional[ReduceSum] = None

    def start(self) -> None:
        """A SAM step was decided for this iteration."""

    def ask(self, sums: PassSums, store: List[Tensor], grads: List[Tensor],
            inv: Optional[Tensor]) -> Optional[Tensor]:
        """After pass 2, before its sums are reduced: ask ``sums`` for the
        global sums :meth:`build_` needs (read them there).

        Args:
            sums (PassSums): Pass 2's sums.
            store: ``g``. grads: ``g_s``. Both carry the loss scale.
            inv (Tensor, optional): ``1 / loss scale``.

        Returns:
            Tensor, optional: The kept vector's norm (unscaled), where it
            can be known before the vector is built; None: the driver takes
            it afterwards.
        """
        return None

    def build_(self, store: List[Tensor], grads: List[Tensor],
               foreach: Optional[bool]) -> None:
        """Turn ``store`` (``g``) into the kept vector, in place."""

    def built(self, norm: Tensor) -> None:
        """The kept vector is final (unscaled; zeros after a failed step).
        """

    def weight(self) -> float:
        """Advance to the next one-pass step; its nominal weight (0: none).
        """
        return 0.0

    def mix_(self, grads: List[Tensor], store: List[Tensor], weight: float,
             scale: Optional[Tensor], foreach: Optional[bool]) -> None:
        """On a one-pass step: add the kept vector to ``grads``.

        Args:
            grads: ``g`` (carrying the loss scale ``scale`` if given).
            store: The kept vector (unscaled).
            weight: From :meth:`weight`.
            scale: The AMP loss scale of ``grads``, or None.
            foreach: Kernel choice.
        """

    def state_dict(self) -> Dict[str, Any]:
        """Everything that changes future one-pass steps."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


class NoCorrection(Correction):
    """One-pass steps are plain base-optimizer steps."""


class PSFReuse(Correction):
    """ARSAM's reuse: the PSF ``v = g_s - g`` with a decaying weight.

    A SAM step sets ``lam = 1``; the k-th following one-pass step adds
    ``lam = beta ** k`` times ``v`` while ``k <= max_reuse_steps``, nothing
    after.

    Args:
        beta (float): Decay of the weight, in [0, 1). Defaults to 0.7.
        max_reuse_steps (int): One-pass steps that reuse a PSF, >= 0.
            Defaults to 6.
    """

    stores = True
    log_name = 'psf_norm'

    def __init__(self, beta: float = 0.7, max_reuse_steps: int = 6) -> None:
        self.beta = check_ratio('beta', beta)
        if self.beta == 1:
            raise ValueError(f'beta must be in [0, 1), got {beta!r}')
        self.max_reuse_steps = check_int('max_reuse_steps', max_reuse_steps,
                                         0)
        self.since: Optional[int] = None  # None: no SAM step yet
        self.lam = 0.0

    def ask(self, sums, store, grads, inv):
        if not sums.sharded:  # the built vector's norm costs no reduction
            return None
        # Sharded, ||v|| joins pass 2's reduction: v = g_s - g, unscaled,
        # formed as build_ forms it (a transient copy of the local shards).
        v = [g - s for g, s in zip(grads, store)]
        if inv is not None:
            K.scale_(v, inv, foreach=sums.foreach)
        return sums.norm(v)

    def build_(self, store, grads, foreach):
        K.psf_(store, grads, foreach=foreach)

    def start(self) -> None:
        self.since = 0
        self.lam = 1.0

    def weight(self) -> float:
        if self.since is None:
            return 0.0
        self.since += 1
        if self.since <= self.max_reuse_steps:
            self.lam *= self.beta
            return self.lam
        return 0.0

    def mix_(self, grads, store, weight, scale, foreach):
        if weight == 0:
            return
        K.mix_(grads, store, weight if scale is None else weight * scale,
               foreach=foreach)

    def state_dict(self) -> Dict[str, Any]:
        return {'since': self.since, 'lam': self.lam}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.since = state['since']
        self.lam = float(state['lam'])


class LookSAMReuse(Correction):
    """LookSAM's reuse (Liu et al., CVPR 2022): the part of ``g_s``
    orthogonal to ``g``, rescaled to the current gradient's norm.

    At a SAM step ``g_v = g_s - (<g_s, g> / ||g||^2) g`` is kept; a one-pass
    step uses ``g + alpha * (||g|| / ||g_v||) * g_v``. Norms and inner
    products are global over all parameters with a gradient (the paper's
    formula; some public code works per tensor). A zero ``g_v`` adds
    nothing.

    Args:
        alpha (float): Weight of the rescaled ``g_v``, >= 0. Defaults to 0.7
            (the paper's; third parties found 0.1 better on CIFAR CNNs).
        eps (float): Added to norms. Defaults to 1e-12.
    """

    stores = True
    log_name = 'gv_norm'

    def __init__(self, alpha: float = 0.7, eps: float = 1e-12) -> None:
        self.alpha = check_nonnegative('alpha', alpha)
        self.eps = eps
        self.gv_norm: Optional[Tensor] = None
        self.built_once = False
        self._sums: Optional[Tuple[Tensor, Tensor]] = None

    def ask(self, sums, store, grads, inv):
        # <g_s, g> and ||g||^2; ||g_v|| needs their quotient first.
        self._sums = (sums.dot(grads, store), sums.dot(store, store))
        return None

    def build_(self, store, grads, foreach):
        # store = g, grads = g_s: g_v = g_s - (<g_s, g> / ||g||^2) g.
        (dot, g_sq), self._sums = self._sums, None
        coef = projection_coefficient(dot, g_sq, self.eps)
        K.scale_(store, -coef, foreach=foreach)
        K.add_(store, grads, foreach=foreach)

    def built(self, norm: Tensor) -> None:
        self.gv_norm = norm
        self.built_once = True

    def weight(self) -> float:
        return self.alpha if self.built_once else 0.0

    def mix_(self, grads, store, weight, scale, foreach):
        if weight == 0 or self.gv_norm is None:
            return
        # Scaled like grads.
        g_norm = global_norm(grads, foreach=foreach, reduce=self.reduce)
        gv = self.gv_norm.to(g_norm.device)
        factor = torch.where(gv > 0, weight * g_norm / (gv + self.eps),
                             torch.zeros_like(g_norm))
        K.mix_(grads, store, factor, foreach=foreach)

    def state_dict(self) -> Dict[str, Any]:
        return {'built': self.built_once, 'gv_norm': self.gv_norm}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.built_once = bool(state['built'])
        self.gv_norm = state['gv_norm']
