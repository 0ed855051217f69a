"""Checks, warm-up conversion and per-iteration logging for SAM/ARSAM."""
from typing import Optional, Union

from mmengine.hooks import Hook, LoggerHook
from mmengine.model import BaseModel, is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.registry import HOOKS

from ...schedule import ARSAMSchedule
from ..optim_wrappers.sam_optim_wrapper import SharpnessAwareMixin

DATA_BATCH = Optional[Union[dict, tuple, list]]

__all__ = ['ARSAMHook']


@HOOKS.register_module()
class ARSAMHook(Hook):
    """Companion hook of :class:`SAMOptimWrapper` / :class:`ARSAMOptimWrapper`.

    * Before training: refuses an :class:`OptimWrapperDict` holding a SAM
      wrapper, a plain optimizer wrapper, and a model whose ``train_step`` is
      overridden (the second pass needs mmengine's ``train_step``); converts
      ``warmup_epochs`` or ``warmup_ratio`` into ARSAM's ``warmup_iters``.
    * After every iteration: writes to the MessageHub (so they reach the text
      log and every visualization backend) ``train/sam_step`` (1 or 0),
      ``train/sam_fraction`` (running share of SAM steps),
      ``train/grad_evals`` (forward-backward passes so far, per
      accumulation cycle), ``train/rho`` and, for ARSAM, ``train/sam_count``
      (the window's target ``n``). ``train/psf_norm`` is written on logging
      iterations only, because reading it waits for the device.
    * Before saving a checkpoint: refuses while the weights are perturbed.

    Args:
        warmup_epochs (int, optional): ARSAM warm-up in epochs (epoch-based
            loops). Defaults to None.
        warmup_ratio (float, optional): ARSAM warm-up as a share of the run,
            in [0, 1]. Defaults to None.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL) after each iter

    def __init__(self,
                 warmup_epochs: Optional[int] = None,
                 warmup_ratio: Optional[float] = None) -> None:
        if warmup_epochs is not None and warmup_ratio is not None:
            raise ValueError('give warmup_epochs or warmup_ratio, not both: '
                             f'got {warmup_epochs!r} and {warmup_ratio!r}')
        if warmup_epochs is not None and (
                isinstance(warmup_epochs, bool)
                or not isinstance(warmup_epochs, int) or warmup_epochs < 0):
            raise ValueError(
                f'warmup_epochs must be an int >= 0, got {warmup_epochs!r}')
        if warmup_ratio is not None and (
                isinstance(warmup_ratio, bool)
                or not isinstance(warmup_ratio, (int, float))
                or not 0 <= warmup_ratio <= 1):
            raise ValueError(
                f'warmup_ratio must be in [0, 1], got {warmup_ratio!r}')
        self.warmup_epochs = warmup_epochs
        self.warmup_ratio = warmup_ratio
        self._log_interval = 1

    @staticmethod
    def check_runner(runner) -> SharpnessAwareMixin:
        """Validate the optimizer wrapper and the model of ``runner``.

        Returns:
            SharpnessAwareMixin: The SAM/ARSAM optimizer wrapper.
        """
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, OptimWrapperDict):
            raise ValueError(
                'SAM/ARSAM optimizer wrappers do not support OptimWrapperDict '
                '(several optimizers, e.g. GANs); got optim_wrapper with '
                f'keys {list(wrapper.keys())}')
        if not isinstance(wrapper, SharpnessAwareMixin):
            raise ValueError(
                'ARSAMHook needs optim_wrapper.type SAMOptimWrapper, '
                'ARSAMOptimWrapper or their Amp twins, got '
                f'{type(wrapper).__name__}')
        model = runner.model
        module = model.module if is_model_wrapper(model) else model
        if not isinstance(module, BaseModel) or \
                type(module).train_step is not BaseModel.train_step:
            raise ValueError(
                f'{type(module).__name__} overrides train_step (or is not an '
                'mmengine BaseModel); SAM/ARSAM run their second pass inside '
                "mmengine's own train_step and cannot train this model")
        return wrapper

    def before_train(self, runner) -> None:
        wrapper = self.check_runner(runner)
        for hook in runner.hooks:
            if isinstance(hook, LoggerHook):
                self._log_interval = hook.interval
        schedule = wrapper.sa.schedule
        if not isinstance(schedule, ARSAMSchedule):
            return
        accumulate = wrapper._accumulative_counts
        if self.warmup_epochs is not None:
            iters = self.warmup_epochs * len(runner.train_dataloader)
        elif self.warmup_ratio is not None:
            iters = int(self.warmup_ratio * runner.max_iters)
        else:
            return
        schedule.warmup_iters = iters // accumulate
        runner.logger.info(f'ARSAMHook: warm-up of {schedule.warmup_iters} '
                           'optimizer steps')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        wrapper = runner.optim_wrapper
        sa = wrapper.sa
        hub = runner.message_hub
        hub.update_scalar('train/sam_step', int(sa.plan.sam))
        hub.update_scalar('train/sam_fraction',
                          sa.sam_steps / max(1, sa.iters))
        hub.update_scalar('train/grad_evals', sa.grad_evals)
        hub.update_scalar('train/rho', wrapper.rho)
        schedule = sa.schedule
        if isinstance(schedule, ARSAMSchedule):
            hub.update_scalar('train/sam_count', schedule.n)
        if sa.psf_norm is not None and self.every_n_train_iters(
                runner, self._log_interval):
            hub.update_scalar('train/psf_norm', float(sa.psf_norm))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, SharpnessAwareMixin) and wrapper.sa.perturbed:
            raise RuntimeError('refusing to save a checkpoint while the '
                               'weights are perturbed (inside a SAM step)')
