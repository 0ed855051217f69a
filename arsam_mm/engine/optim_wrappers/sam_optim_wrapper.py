"""SAM and ARSAM as mmengine optimizer wrappers.

Switching a config is one field::

    custom_imports = dict(imports=['arsam_mm'], allow_failed_imports=False)
    optim_wrapper = dict(type='ARSAMOptimWrapper', rho=0.05,
                         optimizer=dict(type='SGD', lr=0.01, momentum=0.9))

How the second pass fits into an unmodified ``train_step`` (also under
``MMDistributedDataParallel``, whose ``train_step`` never calls the model's):

1. :meth:`optim_context` remembers the model, plans the iteration (SAM or
   reuse step) at the first micro-batch of an accumulation cycle, and on SAM
   steps hooks the data preprocessor to keep its *output* (batch augments are
   random: re-running the preprocessor would give pass 2 another batch) and
   the RNG state right after it.
2. :meth:`update_params` runs pass 1's backward as usual. On the last
   micro-batch of the cycle, a SAM step perturbs the weights with the
   accumulated gradient, re-runs ``model._run_forward(batch, mode='loss')``
   on every kept micro-batch with the same loss factors, BatchNorm running
   statistics frozen and the RNG replayed (so dropout draws the same masks),
   and restores the weights inside ``try/finally``; a reuse step adds the
   weighted PSF. Then the base optimizer steps once (clipping applies to the
   gradient used).

DDP: both passes of a SAM step synchronise their gradients, so ``g``,
``g_s``, the perturbation, the PSF and the statistics are identical on every
rank; the schedule's seed is broadcast from rank 0, so every rank takes the
same decisions and runs the same collectives, and weights stay bit-identical.
"""
import contextlib
import difflib
import inspect
import logging
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
from mmengine.dist import broadcast, get_world_size, is_distributed
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

from ...pass_context import frozen_batchnorm, replay_rng, rng_state
from ...schedule import ARSAMSchedule, PeriodicSchedule, StepSchedule
from ...sharpness_aware import SharpnessAware
from .packed_batch import pack, unpack

__all__ = ['SharpnessAwareMixin', 'SAMOptimWrapper', 'ARSAMOptimWrapper']


class SharpnessAwareMixin:
    """The second pass, shared by the plain and the AMP wrappers.

    Subclasses call :meth:`_init_sharpness_aware` after the base wrapper's
    ``__init__`` and may override :meth:`_pass2_context`,
    :meth:`_backward_pass2` and :meth:`_grad_scale`.
    """

    sa: SharpnessAware

    def _init_sharpness_aware(self, rho: float, adaptive: bool,
                              schedule: StepSchedule,
                              replay_random: bool) -> None:
        if not isinstance(replay_random, bool):
            raise TypeError(
                f'replay_random must be a bool, got {replay_random!r}')
        self.sa = SharpnessAware(
            self.optimizer, rho=rho, adaptive=adaptive, schedule=schedule)
        self.replay_random = replay_random
        self._model: Optional[nn.Module] = None
        self._batches: List[Tuple[Any, int, Any]] = []
        self._planned = False
        self._cycle_len = 0
        self._seed_synced = False
        #: Forward-backward passes run so far, micro-batches counted one by
        #: one (pass 2 included).
        self.passes = 0
        self._sam_logged = 0
        self._warmup_resolved = False

    @classmethod
    def _check_kwargs(cls, kwargs: Dict[str, Any]) -> None:
        """Reject an unknown argument before anything is built, naming it,
        the closest valid name and all valid ones (a typo such as
        ``windw=20`` would otherwise surface as an unexpected keyword of
        ``OptimWrapper.__init__``)."""
        valid = set()
        for klass in cls.__mro__:
            init = klass.__dict__.get('__init__')
            if init is None or klass is object:
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
                ``OptimWrapperDict`` do this) or has no data preprocessor.
        """
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
        super().initialize_count_status(  # type: ignore[misc]
            model, init_counts, max_counts)

    def _log(self, updated: bool) -> None:
        """Write the SAM figures of this iteration to the MessageHub, which
        carries them to the text log and every visualization backend.

        ``train/sam_step`` (1 or 0), ``train/sam_fraction`` (share of the
        updates so far that used the SAM gradient), ``train/grad_evals``
        (forward-backward passes so far, micro-batches and second passes
        counted one by one), ``train/rho`` and, from the schedule,
        ``train/sam_count`` (ARSAM's window target) and ``train/psf_norm``.
        Reading the counts and the PSF norm waits for the device; mmengine
        already reads the loss on the host every iteration (RuntimeInfoHook),
        so this adds no stall of its own.
        """
        hub = MessageHub.get_current_instance()
        sa = self.sa
        if updated:
            before, self._sam_logged = self._sam_logged, sa.sam_steps
            sam_step = int(self._sam_logged > before)
        else:
            sam_step = int(sa.plan.sam)
        hub.update_scalar('train/sam_step', sam_step)
        hub.update_scalar('train/sam_fraction', sa.sam_fraction)
        hub.update_scalar('train/grad_evals', self.passes)
        hub.update_scalar('train/rho', self.rho)
        for key, value in sa.schedule.log_scalars().items():
            hub.update_scalar(f'train/{key}', value)
        if sa.psf_norm is not None:
            hub.update_scalar('train/psf_norm', float(sa.psf_norm))

    # --- properties used by the benchmark -----------------------------
    @property
    def rho(self) -> float:
        """``rho`` of the first param group (schedulers may change it)."""
        return self.optimizer.param_groups[0]['rho']

    @property
    def is_sam_step(self) -> bool:
        """Whether the current (or last) iteration is a SAM step."""
        return self.sa.plan.sam

    # --- iteration ----------------------------------------------------
    def _sync_seed(self) -> None:
        """Give every rank rank 0's schedule seed (once, before step 1)."""
        self._seed_synced = True
        schedule = self.sa.schedule
        if not (is_distributed() and get_world_size() > 1):
            return
        if not isinstance(schedule, ARSAMSchedule) or schedule.iter > 0:
            return
        seed = torch.tensor([schedule.seed], dtype=torch.int64)
        if torch.distributed.get_backend() == 'nccl':
            seed = seed.cuda()
        broadcast(seed, src=0)
        schedule.seed = int(seed.item())
        schedule.generator.manual_seed(schedule.seed)

    def _resolve_warmup(self) -> None:
        """Turn a warm-up given relative to the run into optimizer steps
        (before the first plan; the run length comes from the Runner)."""

    def _module(self) -> nn.Module:
        model = self._model
        return model.module if is_model_wrapper(model) else model

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Plan the iteration and keep what pass 2 needs.

        Args:
            model (nn.Module): The training model (possibly DDP-wrapped).
        """
        self._model = model
        if not self._planned:  # the first micro-batch of a cycle
            if not self._seed_synced:
                self._sync_seed()
            if not self._warmup_resolved:
                self._warmup_resolved = True
                self._resolve_warmup()
            self.sa.begin()
            self._batches.clear()
            self._cycle_len = 0
            self._planned = True
        handle = None
        if self.sa.plan.sam:
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
            with super().optim_context(model):  # type: ignore[misc]
                yield
        finally:
            if handle is not None:
                handle.remove()

    def update_params(  # type: ignore[override]
            self,
            loss: torch.Tensor,
            step_kwargs: Optional[Dict] = None,
            zero_kwargs: Optional[Dict] = None) -> None:
        """Pass 1's backward and, once per cycle, the SAM or reuse step.

        Args:
            loss (torch.Tensor): Pass 1's loss.
            step_kwargs (dict, optional): For ``optimizer.step``.
            zero_kwargs (dict, optional): For ``optimizer.zero_grad``.
        """
        if not self._planned or self._model is None:
            raise RuntimeError(
                f'{type(self).__name__}.update_params was called outside '
                '`optim_context(model)`: the model\'s train_step bypasses '
                'optim_context, so the second pass cannot be run. Use an '
                'mmengine BaseModel whose train_step is not overridden.')
        if self.sa.plan.sam and len(self._batches) != self._cycle_len + 1:
            raise RuntimeError(
                'the batch of this micro-step was not captured: the model '
                'must call its data_preprocessor inside optim_context')
        loss = self.scale_loss(loss)  # type: ignore[attr-defined]
        self.backward(loss)  # type: ignore[attr-defined]
        self._cycle_len += 1
        self.passes += 1
        if not self.should_update():  # type: ignore[attr-defined]
            self._log(updated=False)
            return
        self._planned = False
        plan = self.sa.plan
        if plan.sam:
            self._second_pass()
        elif plan.mix_weight:
            self.sa.mix(plan.mix_weight, grad_scale=self._grad_scale())
        if not self.sa.skip_update:
            self.step(**(step_kwargs or {}))  # type: ignore[attr-defined]
        self.zero_grad(**(zero_kwargs or {}))  # type: ignore[attr-defined]
        self._log(updated=True)

    def _second_pass(self) -> None:
        """Perturb, pass 2 over the kept micro-batches, restore."""
        model = self._model
        module = self._module()
        batches, self._batches = self._batches, []
        if not self._sam_ready():
            return
        self.sa.perturb(grad_scale=self._grad_scale())
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
                        loss = self.scale_loss(loss)  # type: ignore
                    finally:
                        self._inner_count = saved
                    self._backward_pass2(loss)
                    self.passes += 1
        finally:
            self.sa.restore(grad_scale=self._grad_scale())

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
        state = super().state_dict()  # type: ignore[misc]
        arsam = self.sa.state_dict()
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
                'state (saved by another optimizer wrapper?); the SAM '
                'schedule and the stored PSF start afresh.',
                logger='current',
                level=logging.WARNING)
        else:
            self._check_writer(arsam)
        super().load_state_dict(state_dict)  # type: ignore[misc]
        for group in self.optimizer.param_groups:
            group.setdefault('rho', self.optimizer.defaults['rho'])
        if arsam is None:
            return
        self.sa.load_state_dict(arsam)
        self._seed_synced = True
        self.passes = int(arsam.get('passes', self.sa.grad_evals))
        self._sam_logged = self.sa.sam_steps
        self._load_cycle(arsam.get('cycle'))

    def _check_writer(self, arsam: Dict[str, Any]) -> None:
        mine = type(self.sa.schedule).__name__
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


@OPTIM_WRAPPERS.register_module()
class SAMOptimWrapper(SharpnessAwareMixin, OptimWrapper):
    """SAM (Foret et al., arXiv 2010.01412): two passes per step.

    Args:
        rho (float): Perturbation radius, >= 0; stored in every param group
            so ``param_name='rho'`` schedulers drive it. Defaults to 0.05.
        adaptive (bool): ASAM's element-wise scaling. Defaults to False.
        interval (int): Take the two-pass step on every ``interval``-th
            iteration and plain base steps between (``interval=1``: SAM).
            Defaults to 1.
        replay_random (bool): Replay the RNG in pass 2 so dropout and other
            random layers draw what pass 1 drew (the loss is the same
            function at ``w`` and ``w + e``). Defaults to True.
        **kwargs: For :class:`mmengine.optim.OptimWrapper` (``optimizer``,
            ``clip_grad``, ``accumulative_counts``).
    """

    def __init__(self,
                 rho: float = 0.05,
                 adaptive: bool = False,
                 interval: int = 1,
                 replay_random: bool = True,
                 **kwargs) -> None:
        self._check_kwargs(kwargs)
        schedule = PeriodicSchedule(interval)
        super().__init__(**kwargs)
        self._init_sharpness_aware(rho, adaptive, schedule, replay_random)


@OPTIM_WRAPPERS.register_module()
class ARSAMOptimWrapper(SharpnessAwareMixin, OptimWrapper):
    """ARSAM (Deng & Pang, arXiv 2510.03763), as reconstructed.

    SAM steps on adaptively sampled iterations, the stored PSF reused with a
    decaying weight between them; see :mod:`arsam_mm.schedule` for the rule
    and what is reconstructed.

    Args:
        rho (float): Perturbation radius, >= 0. Defaults to 0.05.
        warmup_iters (int): Leading optimizer steps that are all SAM steps.
            Defaults to 0.
        warmup_ratio (float, optional): The warm-up as a share of the run,
            in [0, 1] (the authors' 3 of 200 epochs is 0.015), resolved from
            the run length the Runner gives. Defaults to None.
        warmup_epochs (int, optional): The warm-up in epochs, resolved from
            the run length and ``max_epochs`` (epoch-based loops). Defaults
            to None. At most one of the three may be given.
        window (int): Window length K. Defaults to 50.
        num_blocks (int, optional): Blocks of the spread statistic, at most
            ``window // 2``. Defaults to None: 5, or ``window // 2`` for
            windows shorter than 10.
        max_sam_ratio (float): Largest SAM-step share of a window, (0, 1].
            Defaults to 0.8.
        alpha (tuple[float, float]): Gains of the ratio and spread changes.
            Defaults to (0.13, 0.13).
        beta (float): Decay of the mixing weight, [0, 1). Defaults to 0.7.
        max_reuse_steps (int): Reuse steps after a SAM step. Defaults to 6.
        stat_tensors (int): Trailing parameter tensors the statistics cover.
            Defaults to 10.
        seed (int, optional): Seed of the schedule's generator (rank 0's is
            used on every rank). Defaults to None.
        replay_random (bool): See :class:`SAMOptimWrapper`. Defaults to True.
        **kwargs: For :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 rho: float = 0.05,
                 warmup_iters: int = 0,
                 warmup_ratio: Optional[float] = None,
                 warmup_epochs: Optional[int] = None,
                 window: int = 50,
                 num_blocks: Optional[int] = None,
                 max_sam_ratio: float = 0.8,
                 alpha: Tuple[float, float] = (0.13, 0.13),
                 beta: float = 0.7,
                 max_reuse_steps: int = 6,
                 stat_tensors: int = 10,
                 seed: Optional[int] = None,
                 replay_random: bool = True,
                 **kwargs) -> None:
        # Validate everything before the base wrapper builds anything.
        self._check_kwargs(kwargs)
        given = [(name, value) for name, value in (
            ('warmup_iters', warmup_iters or None),
            ('warmup_ratio', warmup_ratio), ('warmup_epochs', warmup_epochs))
                 if value is not None]
        if len(given) > 1:
            raise ValueError(
                'give one of warmup_iters, warmup_ratio and warmup_epochs, '
                f'got {dict(given)} (a child config that sets warmup_iters '
                'over a base with warmup_ratio also sets warmup_ratio=None)')
        if warmup_ratio is not None and (
                isinstance(warmup_ratio, bool)
                or not isinstance(warmup_ratio, (int, float))
                or not 0 <= warmup_ratio <= 1):
            raise ValueError(
                f'warmup_ratio must be in [0, 1], got {warmup_ratio!r}')
        if warmup_epochs is not None and (
                isinstance(warmup_epochs, bool)
                or not isinstance(warmup_epochs, int) or warmup_epochs < 0):
            raise ValueError(
                f'warmup_epochs must be an int >= 0, got {warmup_epochs!r}')
        self.warmup_ratio = warmup_ratio
        self.warmup_epochs = warmup_epochs
        schedule = ARSAMSchedule(
            warmup_iters=warmup_iters,
            window=window,
            num_blocks=num_blocks,
            max_sam_ratio=max_sam_ratio,
            alpha=tuple(alpha) if isinstance(alpha, list) else alpha,
            beta=beta,
            max_reuse_steps=max_reuse_steps,
            stat_tensors=stat_tensors,
            seed=seed)
        super().__init__(**kwargs)
        self._init_sharpness_aware(rho, False, schedule, replay_random)

    def _resolve_warmup(self) -> None:
        if self.warmup_ratio is None and self.warmup_epochs is None:
            return
        total = self._max_counts
        name = 'warmup_ratio' if self.warmup_ratio is not None \
            else 'warmup_epochs'
        if total is None or total <= 0:
            raise RuntimeError(
                f'{name} needs the run length, which an mmengine Runner '
                'gives the wrapper (initialize_count_status); outside a '
                'Runner give warmup_iters')
        if self.warmup_ratio is not None:
            iters = int(self.warmup_ratio * total)
        else:
            max_epochs = MessageHub.get_current_instance().get_info(
                'max_epochs')
            if not max_epochs:
                raise RuntimeError(
                    'warmup_epochs needs an epoch-based run (max_epochs); '
                    'give warmup_ratio or warmup_iters instead')
            iters = self.warmup_epochs * (total // max_epochs)
        steps = iters // self._accumulative_counts
        self.sa.schedule.set_warmup(steps)
        print_log(
            f'{type(self).__name__}: {name} gives a warm-up of {steps} '
            'optimizer steps',
            logger='current')
