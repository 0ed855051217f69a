"""SAM and ARSAM as mmengine optimizer wrappers (the family's other
members are in :mod:`.efficient_sam_optim_wrappers`)."""
from typing import Optional, Tuple

from mmengine.logging import MessageHub, print_log
from mmengine.registry import OPTIM_WRAPPERS

from ...core import ARSAMSchedule, PeriodicSchedule, PSFReuse
from ...core.validate import check_int, check_ratio
from .sharpness_aware_optim_wrapper import SharpnessAwareOptimWrapper

__all__ = ['SAMOptimWrapper', 'ARSAMOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class SAMOptimWrapper(SharpnessAwareOptimWrapper):
    """SAM (Foret et al., arXiv 2010.01412): two passes per step.

    With ``interval=k``, periodic SAM: a SAM step on every k-th step (the
    first included), plain base steps between. Memory: one parameter-sized
    buffer per parameter (``g``, or ASAM's ``e``, during pass 2).

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
        super().__init__(
            rho,
            PeriodicSchedule(interval),
            adaptive=adaptive,
            replay_random=replay_random,
            **kwargs)


@OPTIM_WRAPPERS.register_module()
class ARSAMOptimWrapper(SharpnessAwareOptimWrapper):
    """ARSAM (Deng & Pang, arXiv 2510.03763).

    SAM steps on adaptively sampled iterations
    (:class:`arsam_mm.core.schedules.arsam.ARSAMSchedule`), the stored PSF
    reused with a decaying weight between them
    (:class:`arsam_mm.core.corrections.PSFReuse`). The rule follows ARSAM's
    abstract and the authors' public code for its predecessor vSAM (arXiv
    2403.08821); :mod:`arsam_mm.core.schedules.arsam` states it with the
    readings chosen. Memory: one parameter-sized buffer per parameter
    (``g`` during pass 2, the PSF after).

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
        target_ratio (float, optional): The run's share of SAM steps, warm-up
            included, in [0, 1]: the rule's counts are scaled to meet it
            while ``n`` keeps its course (:mod:`arsam_mm.core.schedules.arsam`,
            6); a target the run cannot meet is refused before the first
            step.
            Defaults to None: the published rule.
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
                 target_ratio: Optional[float] = None,
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
        if warmup_ratio is not None:
            check_ratio('warmup_ratio', warmup_ratio)
        if warmup_epochs is not None:
            check_int('warmup_epochs', warmup_epochs, 0)
        self.warmup_ratio = warmup_ratio
        self.warmup_epochs = warmup_epochs
        schedule = ARSAMSchedule(
            warmup_iters=warmup_iters,
            window=window,
            num_blocks=num_blocks,
            max_sam_ratio=max_sam_ratio,
            alpha=tuple(alpha) if isinstance(alpha, list) else alpha,
            stat_tensors=stat_tensors,
            target_ratio=target_ratio,
            seed=seed)
        correction = PSFReuse(beta=beta, max_reuse_steps=max_reuse_steps)
        super().__init__(
            rho,
            schedule,
            correction=correction,
            replay_random=replay_random,
            **kwargs)

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
        self.sharpness.schedule.set_warmup(steps)
        print_log(
            f'{type(self).__name__}: {name} gives a warm-up of {steps} '
            'optimizer steps',
            logger='current')
