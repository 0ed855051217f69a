"""The base of every SAM-family optimizer wrapper: the second pass inside
mmengine's unmodified ``train_step``.

A method of the family (SAM, ARSAM, LookSAM, AE-SAM, randomized SAM, GSAM,
late-phase SAM) is a small subclass that builds the torch-only core
(:class:`arsam_mm.core.sharpness_aware.SharpnessAware`) from three
answers: a schedule (*when*), a correction (*what* a one-pass step adds)
and a direction (*which* way a SAM step goes). Switching a config takes
two keys in a child config::

    custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
    optim_wrapper = dict(type='ARSAMOptimWrapper', rho=0.05)

How the second pass fits into an unmodified ``train_step`` (also under
``MMDistributedDataParallel``, whose ``train_step`` never calls the model's):

1. :meth:`optim_context` remembers the model, plans the step at the first
   micro-batch of an accumulation cycle (:mod:`.accumulation`), and unless
   the plan is a one-pass step keeps the data preprocessor's output and the
   RNG state right after it (:mod:`.batch_capture`). A schedule that
   decides after pass 1 (AE-SAM) keeps it on every step (a reference, not
   a copy).
2. :meth:`update_params` runs pass 1's backward as usual. On the last
   micro-batch of the cycle the plan is settled (a late schedule decides
   from ``||g||^2`` here); a SAM step perturbs the weights with the
   accumulated gradient, re-runs ``model._run_forward(batch, mode='loss')``
   on every kept micro-batch with the same loss factors, BatchNorm running
   statistics kept and the RNG replayed (so dropout draws the same masks),
   and restores the weights inside ``try/finally``; a one-pass step adds the
   correction. Then the base optimizer steps once (clipping applies to the
   gradient used).

DDP: both passes of a SAM step synchronise their gradients, so ``g``,
``g_s``, the perturbation, the stored vector and the statistics are
identical on every rank; a schedule's seed is broadcast from rank 0
(:mod:`.seed_broadcast`) and a late decision reads the averaged gradient,
so every rank takes the same decisions and runs the same collectives, and
weights stay bit-identical. FSDP: :mod:`.fsdp`. Checkpoints:
:mod:`.checkpoint`.
"""
import contextlib
import math
from typing import Any, Dict, Iterator, List, Optional

import torch
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from torch import nn

from ...core.corrections import Correction
from ...core.directions import Direction
from ...core.pass_context import frozen_batchnorm, replay_rng
from ...core.schedules import StepSchedule
from ...core.sharpness_aware import SharpnessAware
from .accumulation import AccumulationCycle
from .arguments import check_arguments
from .checkpoint import KEY, driver_state, read_sam_state, write_sam_state
from .fsdp import clip_sharded, shard_reduce_sum, warn_fsdp_checkpoints
from .logged_figures import SAMFigures
from .model_checks import check_model, check_strategy, data_preprocessor
from .seed_broadcast import broadcast_seed

__all__ = ['SharpnessAwareOptimWrapper']


class SharpnessAwareOptimWrapper(OptimWrapper):
    """The second pass of the SAM family around any mmengine optimizer.

    Subclasses build their schedule, correction and direction, then call
    ``super().__init__``; the AMP twins (:mod:`.amp_sam_optim_wrapper`)
    override :meth:`_pass2_context`, :meth:`_backward_pass2`,
    :meth:`_grad_scale` and :meth:`_sam_ready`.

    Args:
        rho (float): Perturbation radius, >= 0; stored in every param group
            so ``param_name='rho'`` schedulers drive it.
        schedule (StepSchedule): When a step is a SAM step.
        correction (Correction, optional): What a one-pass step adds.
        direction (Direction, optional): The SAM step's direction.
        adaptive (bool): ASAM's element-wise perturbation.
        replay_random (bool): Replay the RNG in pass 2 so dropout and other
            random layers draw what pass 1 drew.
        **kwargs: For :class:`mmengine.optim.OptimWrapper` (``optimizer``,
            ``clip_grad``, ``accumulative_counts``) or, in an AMP twin,
            :class:`mmengine.optim.AmpOptimWrapper`.
    """

    def __new__(cls, *args: Any,
                **kwargs: Any) -> 'SharpnessAwareOptimWrapper':
        """Build the AMP twin instead when given ``AmpOptimWrapper``'s
        arguments (``loss_scale``...: a switched fp16 config), with a
        warning (:func:`.amp_sam_optim_wrapper.amp_class`)."""
        from .amp_sam_optim_wrapper import amp_class
        return super().__new__(amp_class(cls, kwargs))

    def __init__(self,
                 rho: float,
                 schedule: StepSchedule,
                 correction: Optional[Correction] = None,
                 direction: Optional[Direction] = None,
                 adaptive: bool = False,
                 replay_random: bool = True,
                 **kwargs) -> None:
        if not isinstance(replay_random, bool):
            raise TypeError(
                f'replay_random must be a bool, got {replay_random!r}')
        super().__init__(**kwargs)
        #: The torch-only core: schedule, correction, direction, buffers.
        self.sharpness = SharpnessAware(
            self.optimizer,
            rho=rho,
            adaptive=adaptive,
            schedule=schedule,
            correction=correction,
            direction=direction)
        self.replay_random = replay_random
        self._model: Optional[nn.Module] = None
        self._cycle = AccumulationCycle(replay_random)
        self._started = False
        #: Forward-backward passes run so far, micro-batches counted one by
        #: one (pass 2 included).
        self.passes = 0
        #: The figures written to the MessageHub every iteration.
        self._figures = SAMFigures(self.sharpness)
        #: Set by ``SAMFSDPStrategy``, whose checkpoints keep the SAM state
        #: (mmengine's ``FSDPStrategy`` drops it: a warning says so).
        self.fsdp_checkpoints_keep_sam_state = False

    @classmethod
    def _check_kwargs(cls, kwargs: Dict[str, Any]) -> None:
        """Reject an unknown argument before anything is built, naming it,
        the closest valid name and all valid ones
        (:func:`.arguments.check_arguments`)."""
        check_arguments(cls, kwargs, SharpnessAwareOptimWrapper)

    # --- the runner's view --------------------------------------------
    def initialize_count_status(self, model: nn.Module, init_counts: int,
                                max_counts: int) -> None:
        """Called by the Runner before the first iteration: checks that the
        model can run a second pass, then mmengine's accumulation setup.

        Raises:
            ValueError: For a model the second pass cannot run in (one
                that overrides ``train_step``, has no data preprocessor, or
                runs under DeepSpeed or ColossalAI), saying why
                (:func:`.model_checks.check_model`).
        """
        check_model(model, type(self).__name__)
        super().initialize_count_status(model, init_counts, max_counts)

    # --- properties used by the benchmark -----------------------------
    @property
    def rho(self) -> float:
        """``rho`` of the first param group (schedulers may change it)."""
        return self.optimizer.param_groups[0]['rho']

    @property
    def is_sam_step(self) -> bool:
        """Whether the current (or last) iteration is a SAM step."""
        return bool(self.sharpness.plan.sam)

    # --- iteration ----------------------------------------------------
    def _start(self) -> None:
        """Once per run, before the first plan: agree on the schedule's seed
        across ranks (a fresh run only: a resumed schedule holds its
        generator), resolve a warm-up given relative to the run, and give
        the schedule the run length (which checks a ``target_ratio``)."""
        self._started = True
        schedule = self.sharpness.schedule
        if self.sharpness.iters == 0:
            broadcast_seed(schedule)
        self._resolve_warmup()
        if self._max_counts > 0:
            schedule.set_run_length(
                math.ceil(self._max_counts / self._accumulative_counts))

    def _resolve_warmup(self) -> None:
        """Turn a warm-up given relative to the run into optimizer steps
        (the run length comes from the Runner); ARSAM's."""

    def _module(self) -> nn.Module:
        model = self._model
        return model.module if is_model_wrapper(model) else model

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Plan the iteration and keep what pass 2 needs.

        Args:
            model (nn.Module): The training model (possibly DDP- or
                FSDP-wrapped).
        """
        name = type(self).__name__
        if model is not self._model:
            check_strategy(model, name)
            self.sharpness.reduce_sum = shard_reduce_sum(model)
            warn_fsdp_checkpoints(model, name,
                                  self.fsdp_checkpoints_keep_sam_state)
        self._model = model
        if not self._cycle.planned:  # the first micro-batch of a cycle
            if not self._started:
                self._start()
            self.sharpness.begin()
            self._cycle.start()
        with contextlib.ExitStack() as stack:
            if self.sharpness.plan.sam is not False:  # SAM, or decided later
                preprocessor = data_preprocessor(self._module(), name)
                stack.enter_context(
                    self._cycle.batches.keeping(preprocessor,
                                                self._inner_count))
            stack.enter_context(super().optim_context(model))
            yield

    def update_params(
            self,
            loss: torch.Tensor,
            step_kwargs: Optional[Dict] = None,
            zero_kwargs: Optional[Dict] = None) -> None:
        """Pass 1's backward and, once per cycle, the SAM or one-pass step.

        Args:
            loss (torch.Tensor): Pass 1's loss.
            step_kwargs (dict, optional): For ``optimizer.step``.
            zero_kwargs (dict, optional): For ``optimizer.zero_grad``.
        """
        cycle = self._cycle
        if not cycle.planned or self._model is None:
            # DeepSpeedStrategy gives the wrapper its model as `model`.
            check_strategy(getattr(self, 'model', None),
                           type(self).__name__)
            raise RuntimeError(
                f'{type(self).__name__}.update_params was called outside '
                '`optim_context(model)`: the model\'s train_step bypasses '
                'optim_context, so the second pass cannot be run. Use an '
                'mmengine BaseModel whose train_step is not overridden.')
        if self.sharpness.plan.sam is not False and \
                len(cycle.batches) != cycle.length + 1:
            raise RuntimeError(
                'the batch of this micro-step was not captured: the model '
                'must call its data_preprocessor inside optim_context')
        loss = self.scale_loss(loss)
        self.backward(loss)
        cycle.length += 1
        self.passes += 1
        if not self.should_update():
            self._figures.log(False, self.passes, self.rho)
            return
        cycle.planned = False
        plan = self.sharpness.decide(self._grad_scale())
        if plan.sam:
            self._second_pass()
        elif plan.mix_weight:
            self.sharpness.mix(plan.mix_weight, grad_scale=self._grad_scale())
        if not self.sharpness.skip_update:
            self.step(**(step_kwargs or {}))
        self.zero_grad(**(zero_kwargs or {}))
        self._figures.log(True, self.passes, self.rho)

    def _second_pass(self) -> None:
        """Perturb, pass 2 over the kept micro-batches, restore."""
        model = self._model
        module = self._module()
        batches = self._cycle.batches.take()
        if not self._sam_ready():
            return
        self.sharpness.perturb(grad_scale=self._grad_scale())
        try:
            for index, (batch, count, state) in enumerate(batches):
                last = index == len(batches) - 1
                sync = contextlib.nullcontext()
                if not last and hasattr(model, 'no_sync'):
                    sync = model.no_sync()
                with sync, self._pass2_context(module, state):
                    losses = model._run_forward(batch, mode='loss')
                    loss, _ = module.parse_losses(losses)
                    saved, self._inner_count = self._inner_count, count
                    try:
                        loss = self.scale_loss(loss)
                    finally:
                        self._inner_count = saved
                    self._backward_pass2(loss)
                    self.passes += 1
        finally:
            self.sharpness.restore(grad_scale=self._grad_scale())

    def _clip_grad(self) -> None:
        """mmengine's clipping; by the norm of the whole model under a
        sharding FSDP model (:func:`.fsdp.clip_sharded`), where
        mmengine's would clip each rank's shard by the shard's norm."""
        if self.sharpness.reduce_sum is None or \
                self.clip_func is not torch.nn.utils.clip_grad_norm_:
            super()._clip_grad()
            return
        grads = [p.grad for p in self._params()
                 if p.requires_grad and p.grad is not None]
        norm = clip_sharded(grads, self.clip_grad_kwargs, self.sharpness)
        self.message_hub.update_scalar(f'train/{self.grad_name}',
                                       float(norm))

    def _sam_ready(self) -> bool:
        """Whether to run pass 2 (the AMP wrappers skip non-finite steps)."""
        return True

    def _grad_scale(self) -> Optional[torch.Tensor]:
        """The loss scale the gradients carry (None: unscaled)."""
        return None

    @contextlib.contextmanager
    def _pass2_context(self, module: nn.Module, state: Any) -> Iterator[None]:
        with frozen_batchnorm(module), replay_rng(state):
            yield

    def _backward_pass2(self, loss: torch.Tensor) -> None:
        """Backward of pass 2; does not advance ``inner_count``."""
        loss.backward()

    # --- checkpoints (:mod:`.checkpoint`) -------------------------------
    def _params(self) -> List[torch.Tensor]:
        return [
            p for group in self.optimizer.param_groups
            for p in group['params']
        ]

    def state_dict(self) -> dict:
        """The base wrapper's state plus the SAM state under ``'arsam_mm'``
        (:class:`.checkpoint.SAMState`), with the open accumulation cycle
        if any (:mod:`.accumulation`)."""
        state = super().state_dict()
        state[KEY] = write_sam_state(
            type(self).__name__, self.sharpness.state_dict(), self.passes,
            self._cycle.state_dict(self._params()))
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load :meth:`state_dict` (or the unversioned layout,
        :func:`.checkpoint.migrate_unversioned`); warns for checkpoints
        without SAM state (the schedule then starts afresh).

        Raises:
            ValueError: For SAM state written by a wrapper with another
                schedule (a SAM checkpoint resumed with ARSAM), naming it,
                or in an unknown format.
        """
        state_dict = dict(state_dict)
        sam = read_sam_state(state_dict, type(self).__name__,
                             type(self.sharpness.schedule).__name__)
        super().load_state_dict(state_dict)
        for group in self.optimizer.param_groups:
            group.setdefault('rho', self.optimizer.defaults['rho'])
        if sam is None:
            return
        self.sharpness.load_state_dict(driver_state(sam))
        self.passes = int(sam['wrapper']['grad_evals'])
        self._figures.resume()
        self._cycle.load_state_dict(sam['wrapper']['cycle'], self._params(),
                                    type(self).__name__)
