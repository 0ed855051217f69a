"""``ARSAMHook``: an optional check of the optimizer wrapper before
training, and ARSAM's relative warm-up given from ``custom_hooks``."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmengine.registry import HOOKS

from ...core.validate import check_int, check_ratio
from ..optim_wrappers import ARSAMOptimWrapper, SharpnessAwareOptimWrapper

__all__ = ['ARSAMHook']


@HOOKS.register_module()
class ARSAMHook(Hook):
    """Checks, before training, that the optimizer wrapper is a SAM-family
    one, and hands ARSAM a warm-up relative to the run.

    A config does not need it: the wrappers check the model before the
    first iteration, write their figures (``train/sam_step``,
    ``train/sam_fraction``, ``train/grad_evals``, ``train/rho``, ARSAM's
    ``train/sam_count`` and ``train/psf_norm``) to the MessageHub
    themselves, and :class:`ARSAMOptimWrapper` takes ``warmup_ratio`` and
    ``warmup_epochs`` as arguments. With the hook, a run whose
    ``optim_wrapper`` is not of the family (or is an ``OptimWrapperDict``)
    fails in ``before_train``, and its warm-up arguments, if given, are set
    on the ARSAM wrapper, which resolves them at its first iteration.

    Args:
        warmup_epochs (int, optional): ARSAM warm-up in epochs. Defaults to
            None.
        warmup_ratio (float, optional): ARSAM warm-up as a share of the run,
            in [0, 1]. Defaults to None.
    """

    priority = 'NORMAL'

    def __init__(self,
                 warmup_epochs: Optional[int] = None,
                 warmup_ratio: Optional[float] = None) -> None:
        if warmup_epochs is not None and warmup_ratio is not None:
            raise ValueError('give warmup_epochs or warmup_ratio, not both: '
                             f'got {warmup_epochs!r} and {warmup_ratio!r}')
        if warmup_epochs is not None:
            check_int('warmup_epochs', warmup_epochs, 0)
        if warmup_ratio is not None:
            check_ratio('warmup_ratio', warmup_ratio)
        self.warmup_epochs = warmup_epochs
        self.warmup_ratio = warmup_ratio

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, OptimWrapperDict):
            raise ValueError(
                'SAM-family optimizer wrappers do not support '
                'OptimWrapperDict (several optimizers, e.g. GANs); got '
                f'optim_wrapper with keys {list(wrapper.keys())}')
        if not isinstance(wrapper, SharpnessAwareOptimWrapper):
            raise ValueError(
                'ARSAMHook needs a SAM-family optim_wrapper.type '
                '(SAMOptimWrapper, ARSAMOptimWrapper, their Amp twins), got '
                f'{type(wrapper).__name__}')
        if self.warmup_epochs is None and self.warmup_ratio is None:
            return
        if not isinstance(wrapper, ARSAMOptimWrapper):
            raise ValueError('ARSAMHook warmup_epochs/warmup_ratio need '
                             'ARSAMOptimWrapper, got '
                             f'{type(wrapper).__name__}')
        wrapper.warmup_ratio = self.warmup_ratio
        wrapper.warmup_epochs = self.warmup_epochs
