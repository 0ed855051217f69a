"""The two passes of a SAM step, from pass 1's gradient to the update's,
torch only.

:meth:`SAMStep.perturb` (after pass 1) moves the weights to ``w + e`` with
``e = scale * g`` and ``scale = rho / (||g|| + eps)`` per param group (each
group has its ``rho``; ASAM, ``adaptive``, takes ``e = scale * w**2 * g``
with ``||w * g||``), keeping ``g`` in the driver's buffers.
:meth:`SAMStep.restore` (after pass 2) moves them back and leaves the
update's gradient in the grads: the direction's (``g_s`` for SAM), and,
with a correction that keeps a vector, builds it from ``g`` and ``g_s``.

Memory beyond the base optimizer: one parameter-sized buffer per parameter.
It holds ``g`` during pass 2 and, with a correction that keeps a vector
(ARSAM's PSF ``v = g_s - g``, LookSAM's ``g_v``), that vector afterwards;
``e`` is recomputed from ``g``, bit-identically, to restore the weights.
ASAM keeps ``e`` instead, because ``w`` is perturbed when the weights are
restored. A transient second copy exists only while the weights are
restored (after pass 2's backward, when activations are freed), so the peak
of ARSAM equals SAM's. Restoring subtracts the very ``e`` that was added:
``(w + e) - e`` equals ``w`` up to one rounding of the perturbed value, as
in the common SAM implementations.

Non-finite gradients, decided on the device (no host sync):

* Pass 1 not finite: the perturbation scale is 0 (the weights are not
  moved); :meth:`SAMStep.perturb` returns the device flag.
* Pass 2 not finite (the loss is finite at ``w`` but not at ``w + e``): the
  step falls back to a plain base-optimizer step with ``g`` (without a loss
  scaler; with one, the gradients stay non-finite so the scaler skips the
  step and lowers its scale, as for any overflow). ASAM cannot recompute
  ``g`` and skips the update instead, which needs one host read on its SAM
  steps (:attr:`SAMStep.skip_update`).
* Either way the kept vector becomes zeros, the schedule sees the failure
  (``ok`` at the ``'end'`` of :meth:`StepSchedule.observe`), and the step
  is not counted as a SAM step: failed steps are counted on the device
  (:class:`~.counters.StepCounters`). It still cost two gradient
  evaluations.
"""
from typing import Dict, List, Optional

import torch
from torch import Tensor

from . import kernels as K
from .corrections import Correction
from .counters import StepCounters
from .directions import Direction
from .param_store import Entry, ParamStore
from .pass_view import PassView
from .schedules import StepSchedule

__all__ = ['SAMStep', 'inverse_scale']


def inverse_scale(grad_scale: Optional[Tensor]) -> Optional[Tensor]:
    """``1 / grad_scale`` in float32, or None without a loss scale."""
    return None if grad_scale is None else 1.0 / grad_scale.float()


class SAMStep:
    """Perturb after pass 1, restore after pass 2.

    Args:
        store (ParamStore): The parameters and their buffers.
        counts (StepCounters): Where failed steps are counted.
        schedule (StepSchedule): Observes the step.
        correction (Correction): Builds its kept vector.
        direction (Direction): Turns ``g_s`` into the update's direction.
        adaptive (bool): ASAM's element-wise scaling.
        eps (float): Added to the gradient norm.
    """

    def __init__(self, store: ParamStore, counts: StepCounters,
                 schedule: StepSchedule, correction: Correction,
                 direction: Direction, adaptive: bool, eps: float) -> None:
        self.store = store
        self.counts = counts
        self.schedule = schedule
        self.correction = correction
        self.direction = direction
        self.adaptive = adaptive
        self.eps = eps
        #: Pass 1's finiteness flag while the weights are moved, else None.
        self.finite: Optional[Tensor] = None
        #: True when ASAM's pass 2 was not finite: skip this update.
        self.skip_update = False
        #: Norm of the correction's kept vector (0-d device tensor), None
        #: before any.
        self.store_norm: Optional[Tensor] = None
        self._scales: Dict[int, Tensor] = {}
        self._norm: Optional[Tensor] = None  # pass 1's, for this step
        self._observed = False  # whether the schedule has seen pass 1

    @property
    def foreach(self) -> Optional[bool]:
        return self.store.foreach

    def begin(self) -> None:
        """A new iteration: forget the last one's norm and skip flag."""
        self.skip_update = False
        self._norm = None
        self._observed = False

    def first_norm(self, grad_scale: Optional[Tensor],
                   observe: bool) -> Tensor:
        """Pass 1's gradient norm (``||w * g||`` for ASAM), unscaled, once
        per iteration; with ``observe`` (a step that is or may be a SAM
        step) the schedule sees pass 1 once, in the same reduction."""
        if self._norm is not None and (self._observed or not observe):
            return self._norm
        entries = self.store.entries()
        grads = [p.grad for _, _, p in entries]
        sums = self.store.sums()
        norm = None if self._norm is not None else sums.norm(
            grads, [p for _, _, p in entries] if self.adaptive else None)
        if observe:  # every rank asks alike, with entries or not
            self.schedule.observe(
                PassView('pass1', self.store, sums, entries, grads,
                         inv=inverse_scale(grad_scale)))
            self._observed = True
        sums.reduce()
        if norm is not None:
            if grad_scale is not None:
                norm = norm / grad_scale.float().to(norm.device)
            self._norm = norm
        return self._norm

    def perturb(self, entries: List[Entry], norm: Optional[Tensor],
                inv: Optional[Tensor]) -> Tensor:
        """``w <- w + e``, keeping ``g`` (ASAM: ``e``); zeroes the grads.

        Args:
            entries: The parameters with a gradient.
            norm (Tensor, optional): Pass 1's norm, unscaled (None without
                entries).
            inv (Tensor, optional): The inverse loss scale the gradients
                carry.

        Returns:
            Tensor: Whether ``norm`` is finite (else ``e = 0``).

        Raises:
            RuntimeError: Sharded, when this rank holds no gradient element.
        """
        if not entries:
            if self.store.reduce is not None:
                raise RuntimeError(
                    'sharded SAM: this rank holds no gradient element of '
                    'any parameter, so it cannot take its part in the '
                    'gradient norms (use fewer ranks, or a model whose '
                    'sharded parameters have more elements than ranks)')
            self.finite = torch.ones((), dtype=torch.bool)
            return self.finite
        finite = torch.isfinite(norm)
        if self.correction.stores:  # no gradient now: no fresh vector
            self.store.zero_missing(entries)
        self._move(entries, norm, finite, inv)
        K.zero_([p.grad for _, _, p in entries], foreach=self.foreach)
        self.finite = finite
        return finite

    def _move(self, entries: List[Entry], norm: Tensor, finite: Tensor,
              inv: Optional[Tensor]) -> None:
        """``w <- w + e`` per param group, ``g`` (ASAM: ``e``) kept."""
        self._scales = {}
        for gi, group_entries in self.store.by_group(entries).items():
            ps = [p for _, _, p in group_entries]
            gs = [p.grad for p in ps]
            bufs = [self.store.buffer(i, p) for i, _, p in group_entries]
            rho = self.store.optimizer.param_groups[gi]['rho']
            scale = torch.where(finite, rho / (norm + self.eps),
                                torch.zeros_like(norm))
            if inv is not None:  # applied to scaled gradients
                scale = scale * inv.to(norm.device)
            self._scales[gi] = scale
            if not self.adaptive:
                K.copy_(bufs, gs, foreach=self.foreach)  # keep g
            K.perturb_(ps, gs, scale, self.adaptive, foreach=self.foreach)
            if self.adaptive:
                K.copy_(bufs, gs, foreach=self.foreach)  # keep e

    def restore(self, entries: List[Entry], inv: Optional[Tensor]) -> Tensor:
        """``w <- (w + e) - e``; the grads become the update's gradient.

        Pass 2's global sums (its finiteness; what the schedule, the
        direction and the correction ask for) are taken before anything
        changes and reduced together (one ``all_reduce`` when sharded).

        Args:
            entries: Those given to :meth:`perturb`.
            inv (Tensor, optional): The inverse loss scale of both passes.

        Returns:
            Tensor: 0-d device bool, True when the SAM step succeeded.
        """
        finite = self._unmove(entries)
        if not entries:
            return finite
        grads = [p.grad for _, _, p in entries]
        bufs = self.store.kept(entries)
        sums = self.store.sums()
        norm = sums.norm(grads)
        kept_norm = None
        if not self.adaptive:  # ASAM keeps e, not g: nothing to observe
            self.schedule.observe(
                PassView('pass2', self.store, sums, entries, grads, bufs,
                         inv))
            self.direction.ask(sums, grads, bufs)
            kept_norm = self.correction.ask(sums, bufs, grads, inv)
        sums.reduce()
        ok = self._succeeded(finite, norm)
        if self.adaptive:
            return self._skip_if_failed(ok, inv)
        self.direction.apply_(grads, bufs, self.foreach)
        if inv is None:  # a loss scaler must see the overflow
            K.fallback_(grads, bufs, ok)
        if self.correction.stores:
            self._keep(bufs, grads, ok, inv, kept_norm)
        self.schedule.observe(
            PassView('end', self.store, sums, entries, grads, inv=inv,
                     ok=ok))
        return ok

    def _unmove(self, entries: List[Entry]) -> Tensor:
        """``w <- (w + e) - e`` with the very ``e`` that was added;
        returns pass 1's finiteness flag."""
        for gi, group_entries in self.store.by_group(entries).items():
            K.restore_([p for _, _, p in group_entries],
                       self.store.kept(group_entries),
                       None if self.adaptive else self._scales[gi],
                       foreach=self.foreach)
        finite, self.finite = self.finite, None
        return finite

    def _succeeded(self, finite: Tensor, norm: Tensor) -> Tensor:
        """Whether both passes were finite (``norm`` is pass 2's; a device
        flag, alike on every rank); counts a failure without reading it."""
        ok = finite.to(norm.device) & torch.isfinite(norm)
        self.counts.failed_unless(ok)
        return ok

    def _skip_if_failed(self, ok: Tensor, inv: Optional[Tensor]) -> Tensor:
        """ASAM kept ``e``, not ``g``, so it cannot fall back: the update
        is skipped instead (one host read; a loss scaler skips by itself).
        """
        if inv is None and not bool(ok):
            self.skip_update = True
        return ok

    def _keep(self, bufs: List[Tensor], grads: List[Tensor], ok: Tensor,
              inv: Optional[Tensor], norm: Optional[Tensor]) -> None:
        """The correction's vector from ``g`` (``bufs``) and the update's
        gradient: unscaled, zeros after a failed step. Its norm is
        ``norm`` when the correction could tell it before (0 after a failed
        step), else taken now."""
        self.correction.build_(bufs, grads, self.foreach)
        if inv is not None:
            K.scale_(bufs, inv, foreach=self.foreach)
        for buf in bufs:
            buf.masked_fill_(~ok.to(buf.device), 0)
        if norm is None:
            norm = self.store.global_norm(bufs)
        else:
            norm = torch.where(ok.to(norm.device), norm,
                               torch.zeros_like(norm))
        self.store_norm = norm
        self.correction.built(norm)
