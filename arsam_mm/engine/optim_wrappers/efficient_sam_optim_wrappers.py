"""The efficient-SAM family beside ARSAM, as mmengine optimizer wrappers.

Each is a schedule (*when*), a correction (*what* a one-pass step adds) and
a direction (*which* way a SAM step goes) of the torch-only core, on the
second pass of :class:`.SharpnessAwareOptimWrapper`; budget arguments set
the share of SAM steps with one number (``interval``: ``1 / interval``;
``prob``: ``prob``; AE-SAM's and late-phase SAM's ``target_ratio``).
"""
from typing import Optional

from mmengine.registry import OPTIM_WRAPPERS

from ...core import (AESAMSchedule, GSAMDirection, LateSchedule, LookSAMReuse,
                     PeriodicSchedule, RandomSchedule)
from .sharpness_aware_optim_wrapper import SharpnessAwareOptimWrapper

__all__ = [
    'LookSAMOptimWrapper', 'RandomSAMOptimWrapper', 'GSAMOptimWrapper',
    'AESAMOptimWrapper', 'LateSAMOptimWrapper'
]


@OPTIM_WRAPPERS.register_module()
class LookSAMOptimWrapper(SharpnessAwareOptimWrapper):
    """LookSAM (Liu et al., "Towards Efficient and Scalable Sharpness-Aware
    Minimization", CVPR 2022, arXiv 2203.02714).

    Every ``interval``-th step (the first included) is a SAM step that also
    keeps ``g_v = g_s - (<g_s, g> / ||g||^2) g``; the other steps use
    ``g + alpha * (||g|| / ||g_v||) * g_v``
    (:class:`arsam_mm.core.corrections.LookSAMReuse`). Reading chosen: norms
    and inner products are global over all parameters with a gradient, as in
    the paper's formula (some public code works per tensor); the SAM step
    itself steps with ``g_s``. Memory: one parameter-sized buffer per
    parameter (``g`` during pass 2, ``g_v`` after).

    Args:
        rho (float): Perturbation radius, >= 0. Defaults to 0.05.
        interval (int): Period k of SAM steps, >= 1 (budget: ``1 / k`` of
            the steps). Defaults to 5.
        alpha (float): Weight of the rescaled ``g_v``, >= 0. Defaults to 0.7
            (the paper's). For CNNs take 0.1: third parties found it better
            on CIFAR ResNets, and on this repo's classification frontier
            task (a ResNet-18, 30% label noise) 0.7 stays at chance while
            0.1 learns (``reports/frontier/classification/
            looksam_alpha0.7_records.json``); the benchmark passes it with
            ``--method-args looksam.alpha=0.1``.
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
    schedule's own generator
    (:class:`arsam_mm.core.schedules.randomized.RandomSchedule`), which is
    checkpointed and seeded alike on every rank (rank 0's seed is
    broadcast, :mod:`.seed_broadcast`); the other steps are plain base
    steps. Memory: one
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
    (:class:`arsam_mm.core.directions.GSAMDirection`): SAM's gradient minus
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


@OPTIM_WRAPPERS.register_module()
class AESAMOptimWrapper(SharpnessAwareOptimWrapper):
    """AE-SAM (Jiang, Yang, Zhang & Kwok, "An Adaptive Policy to Employ
    Sharpness-Aware Minimization", ICLR 2023, arXiv 2304.14647).

    After pass 1, with ``x_t = ||g_t||^2``::

        mu_t      = delta * mu_{t-1}      + (1 - delta) * x_t
        sigma_t^2 = delta * sigma_{t-1}^2 + (1 - delta) * (x_t - mu_t)^2
        c_t       = (t / T) * lambda1 + (1 - t / T) * lambda2

    and the step is a SAM step iff ``x_t >= mu_t + c_t * sigma_t``, a plain
    base step otherwise
    (:class:`arsam_mm.core.schedules.aesam.AESAMSchedule`). The rule is as
    third parties transcribe it (sources in the module doc of
    :mod:`arsam_mm.core.schedules.aesam`), consistent with the paper's
    abstract; the defaults are not taken from the paper's text, and give
    about half SAM steps, the share the paper reports. Readings chosen:
    ``mu``/``sigma`` include the current step before the comparison and
    start at 0; ``t`` counts optimizer steps from 0 and ``T`` is the run's
    optimizer steps, from the Runner (without one, call
    ``initialize_count_status(model, 0, max_iters)`` first, or the first
    step raises); ``x_t`` is the global squared norm of the unscaled,
    all-reduced (DDP), accumulated gradient; a non-finite ``x_t`` is no SAM
    step and leaves ``mu``/``sigma`` as they were.

    ``target_ratio`` (not in the paper) sets the run's share of SAM steps:
    the threshold keeps the paper's shape ``c_t`` shifted by an offset
    chosen online from the recent standardized scores, and a guard near the
    end makes the count exact (module doc of
    :mod:`arsam_mm.core.schedules.aesam`).

    Cost: the decision needs ``||g||^2`` on the host, one device read per
    step, after pass 1 (SAM steps compute that norm for the perturbation
    anyway); the preprocessed batch is kept (a reference) on every step,
    since a step may turn out to be a SAM step. Memory: one
    parameter-sized buffer per parameter, during pass 2 only.

    Args:
        rho (float): Perturbation radius, >= 0. Defaults to 0.05.
        delta (float): EMA factor, in (0, 1). Defaults to 0.9.
        lambda1 (float): ``c_t`` at the end of the run. Defaults to -1.
        lambda2 (float): ``c_t`` at its start. Defaults to 1.
        target_ratio (float, optional): The run's share of SAM steps, in
            [0, 1]. Defaults to None: the paper's rule.
        replay_random (bool): Replay the RNG in pass 2. Defaults to True.
        **kwargs: For :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 rho: float = 0.05,
                 delta: float = 0.9,
                 lambda1: float = -1.0,
                 lambda2: float = 1.0,
                 target_ratio: Optional[float] = None,
                 replay_random: bool = True,
                 **kwargs) -> None:
        self._check_kwargs(kwargs)
        schedule = AESAMSchedule(
            delta=delta,
            lambda1=lambda1,
            lambda2=lambda2,
            target_ratio=target_ratio)
        super().__init__(
            rho, schedule, replay_random=replay_random, **kwargs)


@OPTIM_WRAPPERS.register_module()
class LateSAMOptimWrapper(SharpnessAwareOptimWrapper):
    """Late-phase SAM (Zhou et al., "Sharpness-Aware Minimization
    Efficiently Selects Flatter Minima Late in Training", ICLR 2025, arXiv
    2410.10373): plain base steps, then SAM steps to the end of the run.

    Of the run's ``T`` optimizer steps, the last ``B`` (``target_ratio * T``
    rounded half up) are SAM steps and the ones before them plain base
    steps: step ``t`` (from 0) is a SAM step iff ``t >= T - B``
    (:class:`arsam_mm.core.schedules.late.LateSchedule`). ``T`` is the run's
    optimizer steps, from the Runner (``ceil(max_iters /
    accumulative_counts)`` under gradient accumulation, as for ARSAM's and
    AE-SAM's ``target_ratio``); without a Runner call
    ``initialize_count_status(model, 0, max_iters)`` first, or the first
    step raises. ``target_ratio=0`` is the base optimizer, ``1`` is SAM.

    One base optimizer throughout: its state (SGD's momentum, Adam's
    moments) carries over the switch. The paper's script
    (zzp1012/SAM-in-Late-Phase, ``script/ERM_to_SAM.py``) uses two: plain
    steps with ``ERM_optimizer = SGD(...)``, SAM steps with ``SAM(...,
    base_optimizer=SGD)``, whose own SGD has an empty momentum buffer when
    the switch comes; here the momentum does not restart. The script also
    switches at an epoch (``start_SAM``, 150 of 160 by default), this
    wrapper at an optimizer step.
    Before the switch no batch is kept and no buffer is touched: one pass
    per step, as the base optimizer. Memory: one parameter-sized buffer
    per parameter, during pass 2 only.

    Args:
        rho (float): Perturbation radius, >= 0. Defaults to 0.05.
        target_ratio (float): The share of the run's optimizer steps, at
            its end, that are SAM steps, in [0, 1] (the budget). Defaults
            to 0.1.
        replay_random (bool): Replay the RNG in pass 2. Defaults to True.
        **kwargs: For :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 rho: float = 0.05,
                 target_ratio: float = 0.1,
                 replay_random: bool = True,
                 **kwargs) -> None:
        self._check_kwargs(kwargs)
        schedule = LateSchedule(target_ratio)
        super().__init__(
            rho, schedule, replay_random=replay_random, **kwargs)
