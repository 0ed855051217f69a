"""The driver of one optimizer step of a SAM-family member, around any
torch optimizer, torch only.

:class:`SharpnessAware` runs SAM, ARSAM and the efficient-SAM family from
three parts: the schedule (*when* a step is a two-pass SAM step), the
correction (*what* a one-pass step adds to ``g``) and the direction
(*which* way a SAM step goes). It does not wrap the optimizer in another
:class:`torch.optim.Optimizer` (whose state would then be missing from
checkpoints): it edits the gradients the user's optimizer will step with and
keeps its own small state beside it. One iteration is::

    plan = sa.begin()             # SAM step or one-pass step?
    loss(batch).backward()        # pass 1: g
    plan = sa.decide()            # a late schedule (AE-SAM) decides here
    if plan.sam:
        sa.perturb()              # w <- w + e, keep g, zero grads
        loss(batch).backward()    # pass 2: g_s at w + e
        sa.restore()              # w <- w; grads: the direction (g_s);
                                  # the correction builds its vector
    else:
        sa.mix(plan.mix_weight)   # grads <- g + the correction's vector
    optimizer.step()

:meth:`SharpnessAware.step` runs exactly that with a closure, for plain
PyTorch loops; the mmengine optimizer wrappers call the pieces. What
:meth:`~SharpnessAware.perturb` and :meth:`~SharpnessAware.restore` do, the
memory they take and how non-finite gradients are handled is
:mod:`.sam_step`'s.
"""
import math
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from .closure_step import closure_step
from .corrections import Correction, NoCorrection
from .counters import StepCounters
from .directions import Direction, SAMDirection
from .param_store import ParamStore
from .reductions import ReduceSum
from .sam_step import SAMStep, inverse_scale
from .schedules import PeriodicSchedule, StepPlan, StepSchedule
from .validate import check_nonnegative

__all__ = ['SharpnessAware']


def _check_rho(rho: Any) -> float:
    return check_nonnegative('rho', rho)


def schedule_type_of(state: Dict[str, Any]) -> str:
    """The schedule class name a :meth:`SharpnessAware.state_dict` was
    written with."""
    return state['schedule_type']


def _check_schedule_type(state: Dict[str, Any],
                         schedule: StepSchedule) -> None:
    kind, mine = schedule_type_of(state), type(schedule).__name__
    if kind != mine:
        raise ValueError(
            f'the checkpoint\'s SAM state was written with a {kind} '
            f'and cannot drive this {mine}: resume with the optimizer '
            'wrapper that wrote it, or start from its weights only '
            '(load_from without resume)')


def _check_arguments(adaptive: bool, schedule: StepSchedule,
                     correction: Correction, direction: Direction,
                     eps: Any, foreach: Any) -> None:
    """Raise for an argument of the wrong type or value, or parts that
    cannot work together (see :class:`SharpnessAware`)."""
    if not isinstance(adaptive, bool):
        raise TypeError(f'adaptive must be a bool, got {adaptive!r}')
    for name, part, kind in (('schedule', schedule, StepSchedule),
                             ('correction', correction, Correction),
                             ('direction', direction, Direction)):
        if not isinstance(part, kind):
            raise TypeError(f'{name} must be a {kind.__name__}, got '
                            f'{type(part).__name__}')
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
            ``g`` (:mod:`.corrections`). Defaults to None: nothing.
        direction (Direction, optional): *Which* direction a SAM step
            takes (:mod:`.directions`). Defaults to None: ``g_s``.
            A non-plain direction combines with corrections that keep no
            vector only (both would need ``g`` after pass 2).
        eps (float): Added to the gradient norm. Defaults to 1e-12.
        foreach (bool, optional): Force or forbid the foreach kernels.
            Defaults to None (foreach on CUDA).

    Sharded parameters (FSDP): set :attr:`reduce_sum`; every global norm
    and inner product then covers the whole model, so every rank scales and
    decides alike.
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
        schedule = PeriodicSchedule(1) if schedule is None else schedule
        correction = NoCorrection() if correction is None else correction
        direction = SAMDirection() if direction is None else direction
        _check_arguments(adaptive, schedule, correction, direction, eps,
                         foreach)
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
        #: The parameters and the per-parameter buffers.
        self.store = ParamStore(optimizer, foreach)
        #: Iterations, passes and SAM steps.
        self.counts = StepCounters()
        self._sam = SAMStep(self.store, self.counts, schedule, correction,
                            direction, adaptive, eps)
        self.plan = StepPlan(sam=False)

    @property
    def reduce_sum(self) -> Optional[ReduceSum]:
        """Sums a tensor in place over the shard group (FSDP: one
        ``all_reduce``), or None (whole parameters; the default). Set, every
        global norm and inner product covers the whole model, those of a
        pass of a SAM step stacked in one call; every rank must then hold a
        gradient element of some parameter."""
        return self.store.reduce

    @reduce_sum.setter
    def reduce_sum(self, fn: Optional[ReduceSum]) -> None:
        if fn is not None and not callable(fn):
            raise TypeError(f'reduce_sum must be callable or None, got {fn!r}')
        self.store.reduce = fn
        self.correction.reduce = fn

    def global_norm(self, tensors: List[Tensor],
                    weights: Optional[List[Tensor]] = None) -> Tensor:
        """:meth:`ParamStore.global_norm` (over the shards if sharded)."""
        return self.store.global_norm(tensors, weights)

    # --- counts and flags ---------------------------------------------
    @property
    def iters(self) -> int:
        """Iterations begun."""
        return self.counts.iters

    @property
    def grad_evals(self) -> int:
        """Forward-backward passes over the iteration batch so far."""
        return self.counts.passes

    @property
    def sam_steps(self) -> int:
        """Iterations whose update used the SAM gradient ``g_s``; a host
        read (:attr:`StepCounters.sam_steps`)."""
        return self.counts.sam_steps

    def sam_step_counts(self) -> Tuple[int, Union[int, Tensor]]:
        """:attr:`sam_steps` as ``(runs, failed)``, without a host read
        (:meth:`StepCounters.sam_step_counts`)."""
        return self.counts.sam_step_counts()

    @property
    def sam_fraction(self) -> float:
        """:attr:`sam_steps` over iterations so far (0 before any)."""
        return self.sam_steps / self.iters if self.iters else 0.0

    @property
    def stores(self) -> bool:
        """Whether the correction keeps a vector between steps."""
        return self.correction.stores

    @property
    def store_norm(self) -> Optional[Tensor]:
        """Norm of the kept vector (0-d, on the device), None before any."""
        return self._sam.store_norm

    @property
    def skip_update(self) -> bool:
        """True when ASAM's pass 2 was not finite: skip this update."""
        return self._sam.skip_update

    @property
    def perturbed(self) -> bool:
        """True between :meth:`perturb` and :meth:`restore`."""
        return self._sam.finite is not None

    # --- one iteration ------------------------------------------------
    def begin(self) -> StepPlan:
        """Plan the coming iteration; call once, before pass 1.

        Returns:
            StepPlan: ``sam`` (None for a schedule that decides after pass
            1: call :meth:`decide`) and, for one-pass steps,
            ``mix_weight``.
        """
        self.counts.begin()
        self._sam.begin()
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
        :meth:`perturb` (:meth:`SAMStep.first_norm`)."""
        return self._sam.first_norm(grad_scale, self.plan.sam is not False)

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
        norm = self.store.grad_norm(grad_scale) if self.adaptive else \
            self.first_norm(grad_scale)
        value = float(norm)**2
        sam = math.isfinite(value) and self.schedule.decide(value)
        self.plan = self._settle(bool(sam))
        return self.plan

    @torch.no_grad()
    def perturb(self, grad_scale: Optional[Tensor] = None) -> Tensor:
        """After pass 1: move the weights to ``w + e`` and zero the grads.

        Args:
            grad_scale (Tensor, optional): The loss scale the gradients carry
                (AMP); norms and the kept vector are unscaled with it.

        Returns:
            Tensor: 0-d bool on the device, False when the first-pass
            gradients were not finite (the perturbation is then 0 and the
            caller may skip or discard the step). No host sync.
        """
        if self.perturbed:
            raise RuntimeError('perturb() called twice without restore()')
        self.counts.second_pass()
        entries = self.store.active = self.store.entries()
        norm = self._sam.first_norm(grad_scale, True) if entries else None
        return self._sam.perturb(entries, norm, inverse_scale(grad_scale))

    @torch.no_grad()
    def restore(self, grad_scale: Optional[Tensor] = None) -> Tensor:
        """After pass 2: restore the weights; grads hold the update's
        gradient, ``g`` if either pass was not finite; the correction
        builds its vector (:meth:`SAMStep.restore`).

        Args:
            grad_scale (Tensor, optional): The loss scale of both passes.

        Returns:
            Tensor: 0-d bool on the device, True when the SAM step succeeded.
        """
        if not self.perturbed:
            raise RuntimeError('restore() called without perturb()')
        return self._sam.restore(self.store.active,
                                 inverse_scale(grad_scale))

    @torch.no_grad()
    def clear_store(self) -> None:
        """Forget the kept vector (later one-pass steps add zeros)."""
        self.store.zero()
        self._sam.store_norm = None

    @torch.no_grad()
    def mix(self, weight: float, grad_scale: Optional[Tensor] = None) -> None:
        """On a one-pass step: add the correction's kept vector to ``g``.

        Args:
            weight (float): The plan's ``mix_weight``; 0 changes nothing.
            grad_scale (Tensor, optional): The loss scale the gradients
                carry now (the kept vector is unscaled).
        """
        if weight == 0 or not self.store.buffers:
            return
        entries = [e for e in self.store.entries()
                   if e[0] in self.store.buffers]
        self.correction.mix_([p.grad for _, _, p in entries],
                             self.store.kept(entries), weight, grad_scale,
                             self.foreach)

    def step(self,
             closure: Callable[[], Tensor],
             module: Optional[nn.Module] = None,
             replay_random: bool = True) -> Tensor:
        """One whole iteration for plain PyTorch loops
        (:func:`.closure_step.closure_step`).

        Args:
            closure (Callable): Computes the loss on the iteration's batch
                and calls ``backward()``; it must not zero the gradients.
            module (nn.Module, optional): The model, for BatchNorm.
            replay_random (bool): Replay the RNG in pass 2. Defaults to True.

        Returns:
            Tensor: The first-pass loss.
        """
        return closure_step(self, closure, module, replay_random)

    # --- checkpointing ------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Counters, plan, schedule, correction and the kept vector."""
        if self.perturbed:
            raise RuntimeError(
                'state_dict() while the weights are perturbed')
        state: Dict[str, Any] = {
            'schedule_type': type(self.schedule).__name__,
            **self.counts.state_dict(),
            'plan': (self.plan.sam, self.plan.mix_weight),
            'schedule': self.schedule.state_dict(),
            'correction': self.correction.state_dict(),
        }
        if self.stores:
            state['store'] = dict(self.store.buffers)
        return state

    schedule_type_of = staticmethod(schedule_type_of)

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next updates continue exactly.

        Raises:
            ValueError: When the state was written with another schedule
                (e.g. a SAM checkpoint resumed with ARSAM), naming both.
        """
        _check_schedule_type(state, self.schedule)
        self.counts.load_state_dict(state)
        sam, weight = state['plan']
        self.plan = StepPlan(sam=None if sam is None else bool(sam),
                             mix_weight=float(weight))
        self.schedule.load_state_dict(state['schedule'])
        self.correction.load_state_dict(state['correction'])
        self.store.load(state.get('store', {}))
