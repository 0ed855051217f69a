"""SAM and ARSAM around an existing torch optimizer, torch only.

:class:`SharpnessAware` does not wrap the optimizer in another
:class:`torch.optim.Optimizer` (whose state would then be missing from
checkpoints): it edits the gradients the user's optimizer will step with and
keeps its own small state beside it. One iteration is::

    plan = sa.begin()             # SAM step or reuse step?
    loss(batch).backward()        # pass 1: g
    if plan.sam:
        sa.perturb()              # w <- w + e, store g, zero grads
        loss(batch).backward()    # pass 2: g_s at w + e
        sa.restore()              # w <- w, v = g_s - g; grads are g_s
    else:
        sa.mix(plan.mix_weight)   # grads <- g + lam * v
    optimizer.step()

:meth:`SharpnessAware.step` runs exactly that with a closure, for plain
PyTorch loops; the mmengine optimizer wrappers call the pieces.

Memory beyond the base optimizer: one parameter-sized buffer per parameter.
It holds ``g`` during pass 2 and, with a reusing schedule (ARSAM), the PSF
``v = g_s - g`` afterwards; the perturbation ``e = scale * g`` is recomputed
from it, bit-identically, to restore the weights. ASAM (``adaptive=True``)
keeps ``e = scale * w**2 * g`` instead, because ``w`` is perturbed when the
weights are restored. A transient second copy exists only while the weights
are restored (after pass 2's backward, when activations are freed), so the
peak of ARSAM equals SAM's. Restoring subtracts the very ``e`` that was
added: ``(w + e) - e`` equals ``w`` up to one rounding of the perturbed
value, as in the common SAM implementations.

Non-finite gradients, decided on the device (no host sync):

* Pass 1 not finite: the perturbation scale is 0 (the weights are not
  moved); :meth:`perturb` returns the device flag.
* Pass 2 not finite (the loss is finite at ``w`` but not at ``w + e``): the
  step falls back to a plain base-optimizer step with ``g`` (without a loss
  scaler; with one, the gradients stay non-finite so the scaler skips the
  step and lowers its scale, as for any overflow). ASAM cannot recompute
  ``g`` and skips the update instead, which needs one host read on its SAM
  steps (:attr:`skip_update`).
* Either way the stored PSF becomes zeros, the schedule's statistics do not
  record the step, and it is not counted as a SAM step: failed steps are
  counted on the device and read only when :attr:`sam_steps` is (the
  mmengine wrappers log :meth:`sam_step_counts` and read it when the log
  is read). It still cost two gradient evaluations (:attr:`grad_evals`).
"""
import contextlib
import math
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from . import kernels as K
from .corrections import Correction, NoCorrection, PSFReuse
from .directions import Direction, SAMDirection
from .pass_context import frozen_batchnorm, replay_rng, rng_state
from .schedules import PeriodicSchedule, StepPlan, StepSchedule
from .validate import check_nonnegative

__all__ = ['SharpnessAware']

_Entry = Tuple[int, int, Tensor]  # (flat index, group index, parameter)


def _check_rho(rho: Any) -> float:
    return check_nonnegative('rho', rho)


class SharpnessAware:
    """Two-pass sharpness-aware steps, scheduled, around any optimizer.

    Args:
        optimizer (torch.optim.Optimizer): The base optimizer. ``rho`` is
            added to each of its param groups that lacks it and to its
            ``defaults``, so schedulers can drive it per group.
        rho (float): Radius of the perturbation, >= 0. Defaults to 0.05.
        adaptive (bool): ASAM's element-wise scaling (``e = rho * w**2 * g /
            ||w * g||``). Only with plain SAM steps and no correction.
            Defaults to False.
        schedule (StepSchedule, optional): *When*: which iterations are SAM
            steps. Defaults to None: every iteration (SAM).
        correction (Correction, optional): *What* a one-pass step adds to
            ``g`` (:mod:`arsam_mm.core.corrections`). Defaults to None: nothing.
        direction (Direction, optional): *Which* direction a SAM step
            takes (:mod:`arsam_mm.core.directions`). Defaults to None: ``g_s``.
            A non-plain direction combines with corrections that keep no
            vector only (both would need ``g`` after pass 2).
        eps (float): Added to the gradient norm. Defaults to 1e-12.
        foreach (bool, optional): Force or forbid the foreach kernels.
            Defaults to None (foreach on CUDA).

    Sharded parameters (FSDP): set :attr:`reduce_sum` to a callable that
    sums a 0-d tensor in place over the shard group (one ``all_reduce``);
    every global norm and inner product (the perturbation's norm, ARSAM's
    statistics and kept-vector norm, LookSAM's and GSAM's projections, the
    finiteness test of pass 2) then covers the whole model, so every rank
    scales alike and decides alike. ARSAM's statistics then cover the last
    ``stat_tensors`` parameters of the optimizer (by position, whether or
    not this rank holds elements of them). Every rank must hold a gradient
    element of some parameter. None (the default) changes nothing.
    """

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 rho: float = 0.05,
                 adaptive: bool = False,
                 schedule: Optional[StepSchedule] = None,
                 correction: Optional[Correction] = None,
                 direction: Optional[Direction] = None,
                 eps: float = 1e-12,
                 foreach: Optional[bool] = None) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError('optimizer must be a torch.optim.Optimizer, got '
                            f'{type(optimizer).__name__}')
        rho = _check_rho(rho)
        if not isinstance(adaptive, bool):
            raise TypeError(f'adaptive must be a bool, got {adaptive!r}')
        if schedule is None:
            schedule = PeriodicSchedule(1)
        if not isinstance(schedule, StepSchedule):
            raise TypeError('schedule must be a StepSchedule, got '
                            f'{type(schedule).__name__}')
        correction = NoCorrection() if correction is None else correction
        direction = SAMDirection() if direction is None else direction
        if not isinstance(correction, Correction):
            raise TypeError('correction must be a Correction, got '
                            f'{type(correction).__name__}')
        if not isinstance(direction, Direction):
            raise TypeError('direction must be a Direction, got '
                            f'{type(direction).__name__}')
        if adaptive and (correction.stores or not direction.plain):
            raise ValueError(
                'adaptive=True (ASAM) keeps e, not g, during pass 2, so it '
                'combines with plain SAM steps and no correction only; got '
                f'{type(correction).__name__} and {type(direction).__name__}')
        if correction.stores and not direction.plain:
            raise ValueError(
                f'{type(direction).__name__} needs g after pass 2, which '
                f'{type(correction).__name__} overwrites with its vector; '
                'use it with NoCorrection')
        if not (isinstance(eps, float) and eps > 0):
            raise ValueError(f'eps must be a float > 0, got {eps!r}')
        if foreach not in (None, True, False):
            raise TypeError(f'foreach must be None or a bool, got {foreach!r}')
        self.optimizer = optimizer
        self.adaptive = adaptive
        self.schedule = schedule
        self.correction = correction
        self.direction = direction
        self.eps = eps
        self.foreach = foreach
        optimizer.defaults['rho'] = rho
        for group in optimizer.param_groups:
            group.setdefault('rho', rho)
            _check_rho(group['rho'])

        self.iters = 0
        self.passes = 0
        self._sam_runs = 0
        #: Failed SAM steps: a 0-d device tensor until :attr:`sam_steps`
        #: reads it.
        self._sam_failed: Union[int, Tensor] = 0
        #: True when ASAM's pass 2 was not finite: skip this update.
        self.skip_update = False
        self.plan = StepPlan(sam=False)
        #: Per-parameter buffer, keyed by flat index in optimizer order.
        self._buffers: Dict[int, Tensor] = {}
        self._active: List[_Entry] = []
        self._scales: Dict[int, Tensor] = {}
        self._finite: Optional[Tensor] = None
        self._stat_grad_norm: Optional[Tensor] = None
        self._norm: Optional[Tensor] = None  # pass 1's, for this step
        #: Norm of the correction's kept vector (0-d device tensor), None
        #: before any.
        self.store_norm: Optional[Tensor] = None
        self._reduce_sum: Optional[K.ReduceSum] = None

    @property
    def reduce_sum(self) -> Optional[K.ReduceSum]:
        """Sums a 0-d tensor in place over the processes that hold shards
        of the parameters (FSDP), or None (whole parameters: DDP, one
        process). Setting it gives it to the correction and direction."""
        return self._reduce_sum

    @reduce_sum.setter
    def reduce_sum(self, fn: Optional[K.ReduceSum]) -> None:
        if fn is not None and not callable(fn):
            raise TypeError(f'reduce_sum must be callable or None, got {fn!r}')
        self._reduce_sum = fn
        self.correction.reduce = fn
        self.direction.reduce = fn

    def global_norm(self, tensors: List[Tensor],
                    weights: Optional[List[Tensor]] = None) -> Tensor:
        """:func:`kernels.global_norm`, reduced over the shards if set.

        A rank that holds no element of ``tensors`` still takes part in
        the reduction, with an empty tensor of the first parameter's dtype.
        """
        if self._reduce_sum is not None and not tensors:
            first = self.optimizer.param_groups[0]['params'][0]
            tensors = [first.new_zeros(0)]
            weights = None
        return K.global_norm(tensors, weights, foreach=self.foreach,
                             reduce=self._reduce_sum)

    def _tail(self, entries: List[_Entry]) -> List[int]:
        """Where in ``entries`` the statistics' trailing tensors are.

        The last ``stat_tensors`` entries; sharded, those among the
        optimizer's last ``stat_tensors`` parameters, so that every rank
        covers the same parameters.
        """
        n = self.schedule.stat_tensors
        if self._reduce_sum is None:
            return list(range(len(entries)))[-n:]
        total = sum(len(g['params']) for g in self.optimizer.param_groups)
        return [k for k, (i, _, _) in enumerate(entries) if i >= total - n]

    # --- bookkeeping --------------------------------------------------
    @property
    def stores(self) -> bool:
        """Whether the correction keeps a vector between steps."""
        return self.correction.stores

    @property
    def perturbed(self) -> bool:
        """True between :meth:`perturb` and :meth:`restore`."""
        return self._finite is not None

    @property
    def grad_evals(self) -> int:
        """Forward-backward passes over the iteration batch so far: one per
        iteration, plus one per second pass actually run."""
        return self.passes

    @property
    def sam_steps(self) -> int:
        """Iterations whose update used the SAM gradient ``g_s``.

        Second passes that were skipped (AMP, non-finite pass 1) or whose
        gradients were not finite do not count. Reading it reads the failed
        count from the device (a host wait on CUDA) once per SAM step since
        the last read; :meth:`sam_step_counts` reads nothing.
        """
        if isinstance(self._sam_failed, Tensor):
            self._sam_failed = int(self._sam_failed)
        return self._sam_runs - self._sam_failed

    def sam_step_counts(self) -> Tuple[int, Union[int, Tensor]]:
        """:attr:`sam_steps` without a host read: the second passes run
        and those that failed, ``sam_steps = runs - failed``.

        Returns:
            tuple: ``runs`` (int) and ``failed`` (int, or a 0-d tensor on
            the device that later steps do not modify).
        """
        return self._sam_runs, self._sam_failed

    @property
    def sam_fraction(self) -> float:
        """:attr:`sam_steps` over iterations so far (0 before any)."""
        return self.sam_steps / self.iters if self.iters else 0.0

    def _entries(self) -> List[_Entry]:
        """Parameters with a gradient, in optimizer order."""
        entries = []
        index = 0
        for gi, group in enumerate(self.optimizer.param_groups):
            for p in group['params']:
                if p.grad is not None:
                    entries.append((index, gi, p))
                index += 1
        return entries

    def _buffer(self, index: int, param: Tensor) -> Tensor:
        buf = self._buffers.get(index)
        if buf is None:
            buf = torch.zeros_like(param, memory_format=torch.preserve_format)
            self._buffers[index] = buf
        return buf

    def _by_group(self, entries: List[_Entry]) -> Dict[int, List[_Entry]]:
        groups: Dict[int, List[_Entry]] = {}
        for entry in entries:
            groups.setdefault(entry[1], []).append(entry)
        return groups

    # --- one iteration ------------------------------------------------
    def begin(self) -> StepPlan:
        """Plan the coming iteration; call once, before pass 1.

        Returns:
            StepPlan: ``sam`` (None for a schedule that decides after pass
            1: call :meth:`decide`) and, for one-pass steps,
            ``mix_weight``.
        """
        self.iters += 1
        self.passes += 1
        self.skip_update = False
        self._norm = None
        self.plan = self._settle(self.schedule.plan())
        return self.plan

    def _settle(self, sam: Optional[bool]) -> StepPlan:
        if sam is None:
            return StepPlan(sam=None)
        if sam:
            self.correction.start()
            return StepPlan(sam=True)
        return StepPlan(sam=False, mix_weight=self.correction.weight())

    @torch.no_grad()
    def first_norm(self, grad_scale: Optional[Tensor] = None) -> Tensor:
        """Pass 1's gradient norm (``||w * g||`` for ASAM), unscaled; 0-d
        on the device, computed once per step and reused by
        :meth:`perturb`."""
        if self._norm is None:
            entries = self._entries()
            grads = [p.grad for _, _, p in entries]
            params = [p for _, _, p in entries] if self.adaptive else None
            norm = self.global_norm(grads, params)
            if grad_scale is not None:
                norm = norm / grad_scale.float().to(norm.device)
            self._norm = norm
        return self._norm

    def decide(self, grad_scale: Optional[Tensor] = None) -> StepPlan:
        """After pass 1, for a schedule that decides late (AE-SAM): decide
        from ``||g||^2`` (one host read; with DDP the gradients are already
        averaged, so every rank decides alike). A no-op otherwise.

        Args:
            grad_scale (Tensor, optional): The loss scale of the gradients.

        Returns:
            StepPlan: The settled plan.
        """
        if self.plan.sam is not None:
            return self.plan
        if self.adaptive:
            grads = [p.grad for _, _, p in self._entries()]
            norm = self.global_norm(grads)
            if grad_scale is not None:
                norm = norm / grad_scale.float().to(norm.device)
        else:
            norm = self.first_norm(grad_scale)
        value = float(norm)**2
        sam = math.isfinite(value) and self.schedule.decide(value)
        self.plan = self._settle(bool(sam))
        return self.plan

    @torch.no_grad()
    def perturb(self, grad_scale: Optional[Tensor] = None) -> Tensor:
        """After pass 1: move the weights to ``w + e`` and zero the grads.

        Args:
            grad_scale (Tensor, optional): The loss scale the gradients carry
                (AMP); norms and the stored PSF are unscaled with it.

        Returns:
            Tensor: 0-d bool on the device, False when the first-pass
            gradients were not finite (the perturbation is then 0 and the
            caller may skip or discard the step). No host sync.
        """
        if self.perturbed:
            raise RuntimeError('perturb() called twice without restore()')
        self.passes += 1
        self._sam_runs += 1
        entries = self._entries()
        self._active = entries
        if not entries:
            if self._reduce_sum is not None:
                raise RuntimeError(
                    'sharded SAM: this rank holds no gradient element of '
                    'any parameter, so it cannot take its part in the '
                    'gradient norms (use fewer ranks, or a model whose '
                    'sharded parameters have more elements than ranks)')
            self._finite = torch.ones((), dtype=torch.bool)
            return self._finite
        params = [p for _, _, p in entries]
        grads = [p.grad for p in params]
        inv = None if grad_scale is None else 1.0 / grad_scale.float()
        norm = self.first_norm(grad_scale)
        finite = torch.isfinite(norm)
        if self.schedule.wants_stats:
            self._stat_grad_norm = self.global_norm(
                [grads[k] for k in self._tail(entries)])
            if inv is not None:
                self._stat_grad_norm = self._stat_grad_norm * inv.to(
                    norm.device)
        if self.stores:
            # A parameter without a gradient now has no fresh vector.
            active = {index for index, _, _ in entries}
            for index, buf in self._buffers.items():
                if index not in active:
                    buf.zero_()
        self._scales = {}
        for gi, group_entries in self._by_group(entries).items():
            ps = [p for _, _, p in group_entries]
            gs = [p.grad for p in ps]
            bufs = [self._buffer(i, p) for i, _, p in group_entries]
            rho = self.optimizer.param_groups[gi]['rho']
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
        K.zero_(grads, foreach=self.foreach)
        self._finite = finite
        return finite

    @torch.no_grad()
    def restore(self, grad_scale: Optional[Tensor] = None) -> Tensor:
        """After pass 2: restore the weights; grads hold the update's
        gradient.

        That is ``g_s``, or ``g`` when either pass was not finite (see the
        module doc). With a reusing schedule also stores ``v = g_s - g``
        (unscaled, zeros if not finite) and records the statistics.

        Args:
            grad_scale (Tensor, optional): The loss scale of both passes.

        Returns:
            Tensor: 0-d bool on the device, True when the SAM step succeeded.
        """
        if not self.perturbed:
            raise RuntimeError('restore() called without perturb()')
        finite = self._finite
        for gi, group_entries in self._by_group(self._active).items():
            ps = [p for _, _, p in group_entries]
            bufs = [self._buffers[i] for i, _, _ in group_entries]
            K.restore_(
                ps,
                bufs,
                None if self.adaptive else self._scales[gi],
                foreach=self.foreach)
        self._finite = None
        if not self._active:
            return finite
        bufs = [self._buffers[i] for i, _, _ in self._active]
        grads = [p.grad for _, _, p in self._active]
        ok = finite.to(grads[0].device) & torch.isfinite(
            self.global_norm(grads))
        self._sam_failed = ~ok + self._sam_failed  # a new tensor, no read
        if self.adaptive:
            # ASAM kept e, not g: skip the update (one host read).
            if grad_scale is None and not bool(ok):
                self.skip_update = True
            return ok
        if grad_scale is None:  # a loss scaler must see the overflow
            K.fallback_(grads, bufs, ok)
        inv = None if grad_scale is None else 1.0 / grad_scale.float()
        last = self._tail(self._active)
        tail = None
        if self.schedule.wants_stats and not self.correction.psf_in_store:
            tail = self.global_norm([grads[k] - bufs[k] for k in last])
            if inv is not None:
                tail = tail * inv.to(tail.device)
        self.direction.apply_(grads, bufs, self.foreach)
        if self.stores:
            self.correction.build_(bufs, grads, self.foreach)
            if inv is not None:
                K.scale_(bufs, inv, foreach=self.foreach)
            for buf in bufs:
                buf.masked_fill_(~ok.to(buf.device), 0)
            self.store_norm = self.global_norm(bufs)
            self.correction.built(self.store_norm)
            if self.schedule.wants_stats and self.correction.psf_in_store:
                tail = self.global_norm([bufs[k] for k in last])
        if tail is not None:
            nan = torch.full_like(tail, math.nan)
            self.schedule.record(
                torch.where(ok.to(tail.device), tail, nan),
                self._stat_grad_norm)
        return ok

    @torch.no_grad()
    def clear_store(self) -> None:
        """Forget the kept vector (later one-pass steps add zeros)."""
        for buf in self._buffers.values():
            buf.zero_()
        self.store_norm = None

    @torch.no_grad()
    def mix(self, weight: float, grad_scale: Optional[Tensor] = None) -> None:
        """On a one-pass step: add the correction's kept vector to ``g``.

        Args:
            weight (float): The plan's ``mix_weight``; 0 changes nothing.
            grad_scale (Tensor, optional): The loss scale the gradients
                carry now (the kept vector is unscaled).
        """
        if weight == 0 or not self._buffers:
            return
        entries = [(i, p) for i, _, p in self._entries()
                   if i in self._buffers]
        self.correction.mix_([p.grad for _, p in entries],
                             [self._buffers[i] for i, _ in entries], weight,
                             grad_scale, self.foreach)

    def step(self,
             closure: Callable[[], Tensor],
             module: Optional[nn.Module] = None,
             replay_random: bool = True) -> Tensor:
        """One whole iteration for plain PyTorch loops.

        Pass 2 behaves as in the mmengine wrappers: with ``module`` given,
        BatchNorm running statistics (and ``num_batches_tracked``) are left
        as pass 1 left them, and with ``replay_random`` the global RNG is
        replayed from the state before pass 1, so dropout draws the same
        masks; afterwards the RNG continues as if pass 2 had drawn nothing.

        Args:
            closure (Callable): Computes the loss on the iteration's batch
                and calls ``backward()``; it must not zero the gradients.
                Called once, or twice on SAM steps (same batch).
            module (nn.Module, optional): The model, for BatchNorm.
            replay_random (bool): Replay the RNG in pass 2. Defaults to True.

        Returns:
            Tensor: The first-pass loss.
        """
        plan = self.begin()
        self.optimizer.zero_grad()
        state = rng_state() if plan.sam is not False and replay_random \
            else None
        with torch.enable_grad():
            loss = closure()
        plan = self.decide()
        if plan.sam:
            self.perturb()
            frozen = contextlib.nullcontext() if module is None else \
                frozen_batchnorm(module)
            try:
                with torch.enable_grad(), frozen, replay_rng(state):
                    closure()
            finally:
                self.restore()
        else:
            self.mix(plan.mix_weight)
        if not self.skip_update:
            self.optimizer.step()
        return loss

    # --- checkpointing ------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Counters, schedule and (with reuse) the stored PSF."""
        if self.perturbed:
            raise RuntimeError(
                'state_dict() while the weights are perturbed')
        state: Dict[str, Any] = {
            'schedule_type': type(self.schedule).__name__,
            'iters': self.iters,
            'passes': self.passes,
            'sam_runs': self._sam_runs,
            'sam_failed': self._sam_runs - self.sam_steps,
            'plan': (self.plan.sam, self.plan.mix_weight),
            'schedule': self.schedule.state_dict(),
            'correction': self.correction.state_dict(),
        }
        if self.stores:
            state['store'] = dict(self._buffers)
        return state

    @staticmethod
    def schedule_type_of(state: Dict[str, Any]) -> str:
        """The schedule class name a :meth:`state_dict` was written with."""
        kind = state.get('schedule_type')
        if kind is None:  # written before the type was recorded
            kind = 'ARSAMSchedule' if 'n' in state.get('schedule', {}) \
                else 'PeriodicSchedule'
        return kind

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next updates continue exactly.

        Raises:
            ValueError: When the state was written with another schedule
                (e.g. a SAM checkpoint resumed with ARSAM), naming both.
        """
        kind, mine = self.schedule_type_of(state), type(self.schedule).__name__
        if kind != mine:
            raise ValueError(
                f'the checkpoint\'s SAM state was written with a {kind} '
                f'and cannot drive this {mine}: resume with the optimizer '
                'wrapper that wrote it, or start from its weights only '
                '(load_from without resume)')
        self.iters = int(state['iters'])
        if 'passes' in state:
            self.passes = int(state['passes'])
            self._sam_runs = int(state['sam_runs'])
            self._sam_failed = int(state['sam_failed'])
        else:  # earlier format: every planned SAM step counted
            self._sam_runs = int(state['sam_steps'])
            self._sam_failed = 0
            self.passes = self.iters + self._sam_runs
        if 'plan' in state:
            sam, weight = state['plan']
            self.plan = StepPlan(sam=None if sam is None else bool(sam),
                                 mix_weight=float(weight))
        self.schedule.load_state_dict(state['schedule'])
        if 'correction' in state:
            self.correction.load_state_dict(state['correction'])
        elif isinstance(self.correction, PSFReuse) and \
                'since_sam' in state['schedule']:  # the earlier format
            self.correction.load_state_dict({
                'since': state['schedule']['since_sam'],
                'lam': state['schedule']['lam']
            })
        self._buffers = {}
        params = [
            p for group in self.optimizer.param_groups
            for p in group['params']
        ]
        stored = state.get('store', state.get('psf', {}))
        for index, value in stored.items():
            index = int(index)
            if index >= len(params):
                raise ValueError(f'psf index {index} is out of range for '
                                 f'{len(params)} parameters')
            param = params[index]
            if value.shape != param.shape:
                raise ValueError(
                    f'psf {index} has shape {tuple(value.shape)}, parameter '
                    f'has {tuple(param.shape)}')
            self._buffers[index] = value.to(
                device=param.device, dtype=param.dtype).clone()
