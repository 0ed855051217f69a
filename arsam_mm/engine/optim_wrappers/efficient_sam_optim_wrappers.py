"""The efficient-SAM family beside ARSAM, as mmengine optimizer wrappers.

Each is a schedule (*when*), a correction (*what* a one-pass step adds) and
a direction (*which* way a SAM step goes) of the torch-only core, on the
second pass of :class:`.SharpnessAwareOptimWrapper`; budget arguments set
the share of SAM steps with one number (``interval``: ``1 / interval``;
``prob``: ``prob``).
"""
from typing import Optional

from mmengine.registry import OPTIM_WRAPPERS

from ...corrections import LookSAMReuse
from ...directions import GSAMDirection
from ...schedule import PeriodicSchedule, RandomSchedule
from .sharpness_aware_optim_wrapper import SharpnessAwareOptimWrapper

__all__ = [
    'LookSAMOptimWrapper', 'RandomSAMOptimWrapper', 'GSAMOptimWrapper'
]


@OPTIM_WRAPPERS.register_module()
class LookSAMOptimWrapper(SharpnessAwareOptimWrapper):
    """LookSAM (Liu et al., "Towards Efficient and Scalable Sharpness-Aware
    Minimization", CVPR 2022, arXiv 2203.02714).

    Every ``interval``-th step (the first included) is a SAM step that also
    keeps ``g_v = g_s - (<g_s, g> / ||g||^2) g``; the other steps use
    ``g + alpha * (||g|| / ||g_v||) * g_v``
    (:class:`arsam_mm.corrections.LookSAMReuse`). Reading chosen: norms and
    inner products are global over all parameters with a gradient, as in
    the paper's formula (some public code works per tensor); the SAM step
    itself steps with ``g_s``. Memory: one parameter-sized buffer per
    parameter (``g`` during pass 2, ``g_v`` after).

    Args:
        rho (float): Perturbation radius, >= 0. Defaults to 0.05.
        interval (int): Period k of SAM steps, >= 1 (budget: ``1 / k`` of
            the steps). Defaults to 5.
        alpha (float): Weight of the rescaled ``g_v``, >= 0. Defaults to 0.7
            (the paper's; third parties found 0.1 better for CIFAR CNNs).
        replay_random (bool): Replay the RNG in pass 2. Defaults to True.
        **kwargs: For :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 rho: float = 0.05,
                 interval: int = 5,
                 alpha: float = 0.7,
                 replay_random: bool = True,
                 **kwargs) -> None:
        self._check_kwargs(kwargs)
        schedule = PeriodicSchedule(interval)
        correction = LookSAMReuse(alpha)
        super().__init__(
            rho,
            schedule,
            correction=correction,
            replay_random=replay_random,
            **kwargs)


@OPTIM_WRAPPERS.register_module()
class RandomSAMOptimWrapper(SharpnessAwareOptimWrapper):
    """Randomized SAM (Zhao, Zhang & Hu, "Randomized Sharpness-Aware
    Training for Boosting Computational Efficiency in Deep Learning",
    arXiv 2203.09962; RST / SS-SAM with a constant scheduling function).

    Each step is a SAM step with probability ``prob``, drawn from the
    schedule's own generator (:class:`arsam_mm.schedule.RandomSchedule`),
    which is checkpointed and seeded alike on every rank (rank 0's seed is
    broadcast); the other steps are plain base steps. Memory: one
    parameter-sized buffer per parameter, during pass 2 only.

    Args:
        rho (float): Perturbation radius, >= 0. Defaults to 0.05.
        prob (float): Probability of a SAM step, in [0, 1] (the budget).
            Defaults to 0.5.
        seed (int, optional): Seed of the generator. Defaults to None:
            derived from the run's seed without drawing from torch's global
            generator.
        replay_random (bool): Replay the RNG in pass 2. Defaults to True.
        **kwargs: For :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 rho: float = 0.05,
                 prob: float = 0.5,
                 seed: Optional[int] = None,
                 replay_random: bool = True,
                 **kwargs) -> None:
        self._check_kwargs(kwargs)
        schedule = RandomSchedule(prob, seed=seed)
        super().__init__(
            rho, schedule, replay_random=replay_random, **kwargs)


@OPTIM_WRAPPERS.register_module()
class GSAMOptimWrapper(SharpnessAwareOptimWrapper):
    """GSAM (Zhuang et al., "Surrogate Gap Guided Sharpness-Aware
    Minimization", ICLR 2022, arXiv 2203.08065).

    A SAM step steps with ``g_s - alpha * (g - (<g, g_s> / ||g_s||^2) g_s)``
    (:class:`arsam_mm.directions.GSAMDirection`): SAM's gradient minus
    ``alpha`` times the part of ``g`` orthogonal to it. Reading chosen: the
    paper ties ``rho`` to the learning rate; here ``rho`` is constant unless
    a param scheduler drives it (``param_name='rho'``). On every
    ``interval``-th step (``interval=1``: every step, the paper's setting);
    plain base steps between. Memory: one parameter-sized buffer per
    parameter, during pass 2 only.

    Args:
        rho (float): Perturbation radius, >= 0. Defaults to 0.05.
        alpha (float): Weight of the orthogonal part, >= 0; 0 is SAM.
            Defaults to 0.1.
        interval (int): Period of SAM steps, >= 1. Defaults to 1.
        replay_random (bool): Replay the RNG in pass 2. Defaults to True.
        **kwargs: For :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 rho: float = 0.05,
                 alpha: float = 0.1,
                 interval: int = 1,
                 replay_random: bool = True,
                 **kwargs) -> None:
        self._check_kwargs(kwargs)
        schedule = PeriodicSchedule(interval)
        direction = GSAMDirection(alpha)
        super().__init__(
            rho,
            schedule,
            direction=direction,
            replay_random=replay_random,
            **kwargs)
