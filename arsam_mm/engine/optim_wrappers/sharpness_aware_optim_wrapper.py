"""The base of every SAM-family optimizer wrapper: the second pass inside
mmengine's unmodified ``train_step``.

A method of the family (SAM, ARSAM, LookSAM, AE-SAM, randomized SAM, GSAM)
is a small subclass that builds the torch-only core
(:class:`arsam_mm.SharpnessAware`) from three answers: a schedule (*when*),
a correction (*what* a one-pass step adds) and a direction (*which* way a
SAM step goes). Switching a config takes two keys in a child config::

    custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
    optim_wrapper = dict(type='ARSAMOptimWrapper', rho=0.05)

How the second pass fits into an unmodified ``train_step`` (also under
``MMDistributedDataParallel``, whose ``train_step`` never calls the model's):

1. :meth:`optim_context` remembers the model, plans the step at the first
   micro-batch of an accumulation cycle, and unless the plan is a one-pass
   step hooks the data preprocessor to keep its *output* (batch augments
   are random: re-running the preprocessor would give pass 2 another batch)
   and the RNG state right after it. A schedule that decides after pass 1
   (AE-SAM) keeps it on every step (a reference, not a copy).
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
identical on every rank; a schedule's seed is broadcast from rank 0 and a
late decision reads the averaged gradient, so every rank takes the same
decisions and runs the same collectives, and weights stay bit-identical.

FSDP (``MMFullyShardedDataParallel`` or any torch
``FullyShardedDataParallel``, ``use_orig_params=True``): each rank holds a
shard of every gradient, so :meth:`optim_context` gives the core a
``reduce_sum`` (:func:`shard_reduce_sum`) that sums its norms and inner
products over the shard group; every rank then scales the perturbation by
the whole model's norm and takes the same decisions. ``NO_SHARD`` holds
whole gradients and needs none. ``clip_grad`` (by norm) clips by the whole
model's norm there too (:meth:`_clip_grad`).
"""
import contextlib
import difflib
import inspect
import logging
import math
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
from mmengine.dist import broadcast, get_world_size, is_distributed
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.optim import OptimWrapper
from torch import nn

from ...core import kernels as K
from ...core.corrections import Correction
from ...core.directions import Direction
from ...core.kernels import ReduceSum
from ...core.pass_context import frozen_batchnorm, replay_rng, rng_state
from ...core.schedules import StepSchedule
from ...core.sharpness_aware import SharpnessAware
from .deferred_scalars import update_deferred
from .packed_batch import pack, unpack

__all__ = ['SharpnessAwareOptimWrapper']


def shard_reduce_sum(model: nn.Module) -> Optional[ReduceSum]:
    """The in-place sum over ``model``'s shard group when it is an FSDP
    module that shards its parameters, else None.

    Args:
        model (nn.Module): The training model as ``train_step`` sees it.

    Returns:
        Callable, optional: ``reduce_sum(tensor) -> None``, one
        ``all_reduce`` over the group that holds the shards (the intra-node
        group under ``HYBRID_SHARD``).
    """
    if not torch.distributed.is_available():
        return None
    from torch.distributed.fsdp import ShardingStrategy
    if not is_fsdp(model) or \
            model.sharding_strategy == ShardingStrategy.NO_SHARD:
        return None
    group = model.process_group

    def reduce_sum(tensor: torch.Tensor) -> None:
        torch.distributed.all_reduce(tensor, group=group)

    return reduce_sum


def is_fsdp(model: Any) -> bool:
    """Whether ``model`` is a torch ``FullyShardedDataParallel`` (FSDP1,
    as mmengine's ``MMFullyShardedDataParallel``), any sharding strategy."""
    if not torch.distributed.is_available():
        return False
    from torch.distributed.fsdp import FullyShardedDataParallel
    return isinstance(model, FullyShardedDataParallel)


#: The strategy config line that keeps the SAM state under FSDP.
SAM_FSDP_STRATEGY = ("strategy = dict(type='SAMFSDPStrategy', "
                     'model_wrapper=dict(use_orig_params=True))')


#: (package, mmengine's wrapper class, strategy, why it cannot work).
_UNSUPPORTED_STRATEGIES = (
    ('deepspeed', 'MMDeepSpeedEngineWrapper', 'DeepSpeedStrategy',
     'DeepSpeed routes backward and the optimizer step through its engine '
     '(its train_step never enters optim_context) and under ZeRO-2/3 frees '
     'p.grad once reduced, so there is no gradient to perturb the weights '
     'with or to replace by the SAM gradient'),
    ('colossalai', 'ColossalAIModelWrapper', 'ColossalAIStrategy',
     'ColossalAI steps through its booster and requires its own optimizer '
     'wrapper class (ColossalAIOptimWrapper)'),
)


def check_strategy(model: Any, wrapper: str) -> None:
    """Refuse a model prepared by a strategy the family cannot run under.

    Args:
        model: The training model as the strategy wrapped it.
        wrapper (str): The optimizer wrapper's class name, for the message.

    Raises:
        ValueError: Under mmengine's ``DeepSpeedStrategy`` or
            ``ColossalAIStrategy`` (recognised by the wrapper classes and
            the packages of the model's classes), saying why.
    """
    for cls in type(model).__mro__:
        package = cls.__module__.split('.')[0]
        for pkg, name, strategy, why in _UNSUPPORTED_STRATEGIES:
            if package == pkg or cls.__name__ == name:
                raise ValueError(
                    f'{wrapper} cannot train a model prepared by mmengine\'s '
                    f'{strategy} ({type(model).__name__}): {why}. Use the '
                    'Runner, or the FlexibleRunner with DDPStrategy or '
                    'FSDPStrategy')


def _sam_step(runs: int, runs_before: int, failed: float,
              failed_before: float) -> int:
    """1 when the update used the SAM gradient, else 0."""
    return int(runs - runs_before - (failed - failed_before))


def _sam_fraction(runs: int, failed: float, iters: int) -> float:
    """Share of the updates so far that used the SAM gradient."""
    return (runs - failed) / iters if iters else 0.0


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
        self._batches: List[Tuple[Any, int, Any]] = []
        self._planned = False
        self._cycle_len = 0
        self._started = False
        #: Forward-backward passes run so far, micro-batches counted one by
        #: one (pass 2 included).
        self.passes = 0
        #: ``sharpness.sam_step_counts()`` at the last update.
        self._sam_logged: Tuple[int, Any] = (0, 0)
        #: Set by ``SAMFSDPStrategy``, whose checkpoints keep the SAM state
        #: (mmengine's ``FSDPStrategy`` drops it: a warning says so).
        self.fsdp_checkpoints_keep_sam_state = False

    @classmethod
    def _check_kwargs(cls, kwargs: Dict[str, Any]) -> None:
        """Reject an unknown argument before anything is built, naming it,
        the closest valid name and all valid ones (a typo such as
        ``windw=20`` would otherwise surface as an unexpected keyword of
        ``OptimWrapper.__init__``)."""
        valid = set()
        for klass in cls.__mro__:
            init = klass.__dict__.get('__init__')
            if init is None or klass in (object, SharpnessAwareOptimWrapper):
                continue
            for name, param in inspect.signature(init).parameters.items():
                if name != 'self' and param.kind not in (
                        param.VAR_KEYWORD, param.VAR_POSITIONAL):
                    valid.add(name)
        unknown = sorted(set(kwargs) - valid)
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name, sorted(valid), n=1)
            hint = f' (did you mean {close[0]!r}?)' if close else ''
            raise TypeError(
                f'{cls.__name__} got an unknown argument {name!r}{hint}; '
                f'valid arguments: {", ".join(sorted(valid))}')

    # --- the runner's view --------------------------------------------
    def initialize_count_status(self, model: nn.Module, init_counts: int,
                                max_counts: int) -> None:
        """Called by the Runner before the first iteration: checks that the
        model can run a second pass, then mmengine's accumulation setup.

        Raises:
            ValueError: For a model that overrides ``train_step`` (the second
                pass runs inside mmengine's own; GANs with an
                ``OptimWrapperDict`` do this) or has no data preprocessor,
                and under DeepSpeed or ColossalAI (:func:`check_strategy`).
        """
        check_strategy(model, type(self).__name__)
        module = model.module if is_model_wrapper(model) else model
        if not isinstance(module, BaseModel) or \
                type(module).train_step is not BaseModel.train_step:
            raise ValueError(
                f'{type(self).__name__} cannot train '
                f'{type(module).__name__}: it overrides train_step (or is '
                'not an mmengine BaseModel), and the second pass runs inside '
                "mmengine's own train_step (models with several optimizers, "
                'OptimWrapperDict, e.g. GANs, are not supported)')
        if not isinstance(
                getattr(module, 'data_preprocessor', None), nn.Module):
            raise ValueError(
                f'{type(self).__name__} needs a model with a '
                '`data_preprocessor` module (pass 2 replays its output); '
                f'{type(module).__name__} has none')
        super().initialize_count_status(
            model, init_counts, max_counts)

    def _log(self, updated: bool) -> None:
        """Write the SAM figures of this iteration to the MessageHub, which
        carries them to the text log and every visualization backend.

        ``train/sam_step`` (1 or 0), ``train/sam_fraction`` (share of the
        updates so far that used the SAM gradient), ``train/grad_evals``
        (forward-backward passes so far, micro-batches and second passes
        counted one by one), ``train/rho``, the schedule's figures (ARSAM's
        ``train/sam_count``) and the norm of the correction's kept vector
        (ARSAM's ``train/psf_norm``, LookSAM's ``train/gv_norm``).

        Nothing is read from the device here: the figures that depend on
        device values (a SAM step's success, the norm) wait in the
        MessageHub and are read when a logger, a hook or a checkpoint
        reads them (:mod:`.deferred_scalars`), so an fp32 step that does
        not log never waits for the device.
        """
        hub = MessageHub.get_current_instance()
        sa = self.sharpness
        runs, failed = sa.sam_step_counts()
        if not updated:
            hub.update_scalar('train/sam_step', int(bool(sa.plan.sam)))
        else:
            (runs_before, failed_before), self._sam_logged = \
                self._sam_logged, (runs, failed)
            if runs == runs_before:  # no second pass: nothing to read
                hub.update_scalar('train/sam_step', 0)
            else:
                update_deferred(hub, 'train/sam_step', _sam_step, runs,
                                runs_before, failed, failed_before)
        update_deferred(hub, 'train/sam_fraction', _sam_fraction, runs,
                        failed, sa.iters)
        hub.update_scalar('train/grad_evals', self.passes)
        hub.update_scalar('train/rho', self.rho)
        for key, value in sa.schedule.log_scalars().items():
            hub.update_scalar(f'train/{key}', value)
        if sa.store_norm is not None:
            update_deferred(hub, f'train/{sa.correction.log_name}', float,
                            sa.store_norm)

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
        across ranks, resolve a warm-up given relative to the run, and give
        the schedule the run length (which checks a ``target_ratio``)."""
        self._started = True
        schedule = self.sharpness.schedule
        if schedule.iter == 0 and hasattr(schedule, 'generator') and \
                is_distributed() and get_world_size() > 1:
            seed = torch.tensor([schedule.seed], dtype=torch.int64)
            if torch.distributed.get_backend() == 'nccl':
                seed = seed.cuda()
            broadcast(seed, src=0)
            schedule.seed = int(seed.item())
            schedule.generator.manual_seed(schedule.seed)
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

    def _warn_fsdp_checkpoints(self, model: nn.Module) -> None:
        """Under FSDP, warn unless ``SAMFSDPStrategy`` built the wrapper:
        mmengine's ``FSDPStrategy`` trains the family, but its checkpoints
        drop the SAM state."""
        if not is_fsdp(model) or self.fsdp_checkpoints_keep_sam_state:
            return
        print_log(
            f'{type(self).__name__} under FSDP without SAMFSDPStrategy: '
            "training is unaffected, but mmengine's FSDPStrategy saves only "
            "the optimizer's 'state' and 'param_groups', so checkpoints "
            'lose the SAM state (schedule, counters, kept vector) and a '
            f'resumed run starts it afresh. Use {SAM_FSDP_STRATEGY}',
            logger='current',
            level=logging.WARNING)

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Plan the iteration and keep what pass 2 needs.

        Args:
            model (nn.Module): The training model (possibly DDP- or
                FSDP-wrapped).
        """
        if model is not self._model:
            check_strategy(model, type(self).__name__)
            self.sharpness.reduce_sum = shard_reduce_sum(model)
            self._warn_fsdp_checkpoints(model)
        self._model = model
        if not self._planned:  # the first micro-batch of a cycle
            if not self._started:
                self._start()
            self.sharpness.begin()
            self._batches.clear()
            self._cycle_len = 0
            self._planned = True
        handle = None
        if self.sharpness.plan.sam is not False:  # SAM, or decided later
            preprocessor = getattr(self._module(), 'data_preprocessor', None)
            if not isinstance(preprocessor, nn.Module):
                raise TypeError(
                    f'{type(self).__name__} needs a model with a '
                    '`data_preprocessor` module (an mmengine BaseModel), got '
                    f'{type(self._module()).__name__}')
            count = self._inner_count

            def keep(module: nn.Module, args: Any, output: Any) -> None:
                state = rng_state() if self.replay_random else None
                self._batches.append((output, count, state))

            handle = preprocessor.register_forward_hook(keep)
        try:
            with super().optim_context(model):
                yield
        finally:
            if handle is not None:
                handle.remove()

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
        if not self._planned or self._model is None:
            # DeepSpeedStrategy gives the wrapper its model as `model`.
            check_strategy(getattr(self, 'model', None),
                           type(self).__name__)
            raise RuntimeError(
                f'{type(self).__name__}.update_params was called outside '
                '`optim_context(model)`: the model\'s train_step bypasses '
                'optim_context, so the second pass cannot be run. Use an '
                'mmengine BaseModel whose train_step is not overridden.')
        if self.sharpness.plan.sam is not False and \
                len(self._batches) != self._cycle_len + 1:
            raise RuntimeError(
                'the batch of this micro-step was not captured: the model '
                'must call its data_preprocessor inside optim_context')
        loss = self.scale_loss(loss)
        self.backward(loss)
        self._cycle_len += 1
        self.passes += 1
        if not self.should_update():
            self._log(updated=False)
            return
        self._planned = False
        plan = self.sharpness.decide(self._grad_scale())
        if plan.sam:
            self._second_pass()
        elif plan.mix_weight:
            self.sharpness.mix(plan.mix_weight, grad_scale=self._grad_scale())
        if not self.sharpness.skip_update:
            self.step(**(step_kwargs or {}))
        self.zero_grad(**(zero_kwargs or {}))
        self._log(updated=True)

    def _second_pass(self) -> None:
        """Perturb, pass 2 over the kept micro-batches, restore."""
        model = self._model
        module = self._module()
        batches, self._batches = self._batches, []
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
        sharding FSDP model, where mmengine's would clip each rank's shard
        by the shard's norm.

        Sharded, the L2 norm is reduced like SAM's (one ``all_reduce``)
        and the gradients scaled as ``torch.nn.utils.clip_grad_norm_``
        does (``max_norm / (norm + 1e-6)``, at most 1). FSDP's own
        ``clip_grad_norm_`` is not used: it takes float32 norms and fails
        on float64 gradients.
        """
        if self.sharpness.reduce_sum is None or \
                self.clip_func is not torch.nn.utils.clip_grad_norm_:
            super()._clip_grad()
            return
        kwargs = dict(self.clip_grad_kwargs)
        max_norm = kwargs.pop('max_norm', None)
        if float(kwargs.pop('norm_type', 2.0)) != 2.0 or kwargs or \
                max_norm is None:
            raise ValueError(
                'clip_grad under FSDP takes max_norm and norm_type=2 only, '
                f'got {self.clip_grad_kwargs}')
        grads = [
            p.grad for group in self.optimizer.param_groups
            for p in group['params']
            if p.requires_grad and p.grad is not None
        ]
        norm = self.sharpness.global_norm(grads)
        coef = torch.clamp(float(max_norm) / (norm + 1e-6), max=1.0)
        K.scale_(grads, coef, foreach=self.sharpness.foreach)
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

    # --- checkpoints --------------------------------------------------
    def state_dict(self) -> dict:
        """The base wrapper's state plus all SAM/ARSAM state under
        ``'arsam'``.

        Saved inside a gradient-accumulation cycle (an epoch of odd length
        with ``accumulative_counts=2``, say), it also holds the cycle: the
        gradients accumulated so far and, on a SAM step, the kept
        micro-batches (:mod:`.packed_batch`), so a resumed run ends with the
        weights of the uninterrupted one. In a distributed run those
        gradients are local to each rank and only rank 0 saves, so the cycle
        is not kept there: the first cycle after such a resume is shorter,
        as with mmengine's own wrappers (a warning says so).
        """
        state = super().state_dict()
        arsam = self.sharpness.state_dict()
        arsam['wrapper'] = type(self).__name__
        arsam['passes'] = self.passes
        if self._planned and self._cycle_len:
            distributed = is_distributed() and get_world_size() > 1
            cycle: Dict[str, Any] = {'length': self._cycle_len}
            if not distributed:
                cycle['grads'] = {
                    index: p.grad.detach().clone()
                    for index, p in enumerate(self._params())
                    if p.grad is not None
                }
                cycle['batches'] = [(pack(batch), count, state_)
                                    for batch, count, state_ in self._batches]
            arsam['cycle'] = cycle
        state['arsam'] = arsam
        return state

    def _params(self) -> List[torch.Tensor]:
        return [
            p for group in self.optimizer.param_groups
            for p in group['params']
        ]

    def load_state_dict(self, state_dict: dict) -> None:
        """Load :meth:`state_dict`; warns for checkpoints without
        ``'arsam'`` (the schedule then starts afresh).

        Raises:
            ValueError: For SAM state written by a wrapper with another
                schedule (a SAM checkpoint resumed with ARSAM), naming it.
        """
        state_dict = dict(state_dict)
        arsam = state_dict.pop('arsam', None)
        if arsam is None:
            print_log(
                f'{type(self).__name__}: the checkpoint has no "arsam" '
                'state (saved by another optimizer wrapper, or under '
                "mmengine's FSDPStrategy, which drops it: use "
                'SAMFSDPStrategy); the SAM schedule and the stored PSF '
                'start afresh.',
                logger='current',
                level=logging.WARNING)
        else:
            self._check_writer(arsam)
        super().load_state_dict(state_dict)
        for group in self.optimizer.param_groups:
            group.setdefault('rho', self.optimizer.defaults['rho'])
        if arsam is None:
            return
        self.sharpness.load_state_dict(arsam)
        self.passes = int(arsam.get('passes', self.sharpness.grad_evals))
        self._sam_logged = self.sharpness.sam_step_counts()
        self._load_cycle(arsam.get('cycle'))

    def _check_writer(self, arsam: Dict[str, Any]) -> None:
        mine = type(self.sharpness.schedule).__name__
        theirs = SharpnessAware.schedule_type_of(arsam)
        if theirs != mine:
            writer = arsam.get(
                'wrapper', 'a wrapper with a ' + theirs.replace(
                    'Schedule', '') + ' schedule')
            raise ValueError(
                f'cannot resume {type(self).__name__} from this checkpoint: '
                f'its SAM state was written by {writer}. Resume with '
                f'optim_wrapper.type={writer!r}, or start from its weights '
                'only (load_from=CKPT, resume=False)')

    def _load_cycle(self, cycle: Optional[Dict[str, Any]]) -> None:
        """Continue an accumulation cycle the checkpoint was saved in."""
        self._planned = False
        self._batches = []
        self._cycle_len = 0
        if not cycle:
            return
        if 'grads' not in cycle:
            print_log(
                f'{type(self).__name__}: the checkpoint was saved inside a '
                'gradient-accumulation cycle of a distributed run; its '
                'partial gradients were not kept, so the first cycle after '
                'resuming is shorter (as with mmengine\'s OptimWrapper).',
                logger='current',
                level=logging.WARNING)
            return
        params = self._params()
        for index, grad in cycle['grads'].items():
            param = params[int(index)]
            param.grad = grad.to(device=param.device, dtype=param.dtype)
        self._batches = [(unpack(batch), count, state_)
                         for batch, count, state_ in cycle['batches']]
        self._cycle_len = int(cycle['length'])
        self._planned = True
