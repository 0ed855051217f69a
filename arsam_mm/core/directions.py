"""Which direction a two-pass SAM step takes, torch only.

After pass 2 the driver holds ``g`` (pass 1, in its buffer) and ``g_s``
(pass 2, in the gradients). A :class:`Direction` turns the gradients into
the direction the base optimizer steps with:

* :class:`SAMDirection`: ``g_s`` itself (SAM, Foret et al.).
* :class:`GSAMDirection`: GSAM's surrogate-gap step (Zhuang et al., ICLR
  2022), ``g_s - alpha * g_perp`` with ``g_perp = g - (<g, g_s> /
  ||g_s||^2) g_s``, the part of ``g`` orthogonal to ``g_s``.

Both are invariant to a common loss scale of ``g`` and ``g_s`` (AMP), and
computed on the device (no host sync). GSAM's ``rho`` schedule tied to the
learning rate is a param scheduler in mmengine (``param_name='rho'``), not
part of the direction.
"""
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from . import kernels as K
from .reductions import PassSums, projection_coefficient
from .validate import check_nonnegative

__all__ = ['Direction', 'SAMDirection', 'GSAMDirection']


class Direction:
    """Interface: the SAM step's direction from ``g`` and ``g_s``."""

    #: True when the direction is ``g_s`` unchanged.
    plain: bool = True

    def ask(self, sums: PassSums, grads: List[Tensor],
            kept_g: List[Tensor]) -> None:
        """After pass 2, before its sums are reduced: ask ``sums`` for the
        global sums :meth:`apply_` needs (``grads`` hold ``g_s``, ``kept_g``
        holds ``g``)."""

    def apply_(self, grads: List[Tensor], kept_g: List[Tensor],
               foreach: Optional[bool]) -> None:
        """In place on ``grads`` (``g_s``); ``kept_g`` holds ``g``."""


class SAMDirection(Direction):
    """SAM's direction: the gradient at the perturbed weights."""


class GSAMDirection(Direction):
    """GSAM's direction ``g_s - alpha * g_perp``.

    Args:
        alpha (float): Weight of the orthogonal part of ``g``, >= 0;
            ``alpha=0`` is SAM. Defaults to 0.1 (the paper's tables use
            0.01 for ResNets and 0.4 for ViTs).
        eps (float): Added to ``||g_s||^2``. Defaults to 1e-12.
    """

    plain = False

    def __init__(self, alpha: float = 0.1, eps: float = 1e-12) -> None:
        self.alpha = check_nonnegative('alpha', alpha)
        self.eps = eps
        self._sums: Optional[Tuple[Tensor, Tensor]] = None

    def ask(self, sums: PassSums, grads: List[Tensor],
            kept_g: List[Tensor]) -> None:
        # <g, g_s> and ||g_s||^2.
        self._sums = None if self.alpha == 0 else (
            sums.dot(kept_g, grads), sums.dot(grads, grads))

    def apply_(self, grads: List[Tensor], kept_g: List[Tensor],
               foreach: Optional[bool]) -> None:
        sums, self._sums = self._sums, None
        if self.alpha == 0 or not grads:
            return
        # d = g_s - alpha * (g - c g_s) = (1 + alpha c) g_s - alpha g.
        dot, gs_sq = sums
        c = projection_coefficient(dot, gs_sq, self.eps)
        K.combine_(grads, kept_g, 1 + self.alpha * c,
                   torch.full_like(c, -self.alpha), foreach=foreach)

    def __repr__(self) -> Any:
        return f'GSAMDirection(alpha={self.alpha})'
