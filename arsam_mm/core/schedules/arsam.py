"""ARSAM's schedule: SAM steps sampled per window, their count driven by
the PSF's statistics, torch only.

ARSAM is Deng & Pang, arXiv 2510.03763. The rule below (1-5) is a
reconstruction from two sources, ARSAM's abstract and the authors' public
code for its predecessor vSAM (arXiv 2403.08821), not a transcription of
ARSAM's published algorithm; 6 is this package's:

1. Warm-up: the first ``warmup_iters`` iterations are SAM steps.
2. After warm-up, iterations form windows of ``window`` (K). A window holds
   exactly ``floor(n)`` SAM steps: while fewer have been taken, an iteration
   is a SAM step with probability ``p = n / K`` (drawn from the schedule's own
   :class:`torch.Generator`), and any shortfall is forced at the window's end.
   ``n`` starts at 1.
3. At every SAM step the schedule takes ``a = ||v||_N`` (``v = g_s - g``)
   and ``||g||_N`` over the last ``stat_tensors`` (N) parameter tensors, in
   optimizer order (param groups in order, parameters in order within a
   group, those with a gradient), unscaled (:meth:`ARSAMSchedule.observe`).
   From them: the ratio ``r = a / ||g||_N`` and the spread ``s``, the mean
   over ``num_blocks`` (B) blocks of the (population) variance of
   the sorted last-K values of ``a`` (blocks as ``numpy.array_split``). The
   last K values of ``a``, ``r`` and ``s`` are kept.
4. At every window boundary: ``dr`` and ``ds`` are the mean relative change
   between consecutive kept values of ``r`` and ``s`` (a pair whose earlier
   value is 0 contributes 0; fewer than two values give 0), clipped to
   [-1, 1], and ``n <- clip(n * (1 + alpha[0] * dr + alpha[1] * ds), 1,
   floor(K * max_sam_ratio))``.
5. Reuse (the stored PSF mixed in with weight ``beta ** k``) is
   :class:`arsam_mm.core.corrections.PSFReuse`.
6. ``target_ratio`` (not in the paper): the run's share of SAM steps,
   warm-up included, is set instead of left to the rule (its count rounded
   half up, :func:`.budget.budget_steps`). ``n`` still evolves as in 4 (the
   autoregressive *shape*); each window's count is ``n`` times a scale
   chosen so that the remaining budget spreads over the remaining windows
   (:class:`.budget.WindowBudget`). Where the steps fall inside a window is
   drawn as in 2.

A sample whose PSF or gradient norm is not finite (a failed pass 2, e.g. an
fp16 overflow) or whose gradient norm is 0 is not kept: it carries no ratio,
and a 0 in the sorted history would inflate the spread. ``window`` must be
at least ``2 * num_blocks``, otherwise every block of the spread holds one
value at most, ``s`` is identically 0 and ``alpha[1]`` does nothing.

The first window after warm-up: with ``n = 1`` each iteration is a SAM step
with probability ``1 / K`` until one is taken, and the step is forced at the
window's last iteration if none was; that happens with probability
``(1 - 1/K) ** (K - 1)``, about 37% for K = 50, so the position is not
uniform. Up to K - 1 iterations may pass without a SAM step, and after
PSFReuse's ``max_reuse_steps`` of them the steps are plain base steps. (The
predecessor vSAM's code takes no SAM step at all in that window.) Starting
from the cheapest count and letting the statistics raise it is the method's
premise; use a longer warm-up or a smaller ``window`` to shorten that
stretch (the quick configs do).

Statistics reach the host without stalling the device: ``record`` starts a
non-blocking copy (:class:`~arsam_mm.core.host_queue.HostQueue`) and the
values are read at the next window boundary, when the copy has long finished
(one wait on a CUDA event per window, none per step).
"""
import math
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .. import kernels as K
from ..host_queue import HostQueue
from ..pass_view import PassView
from ..validate import check_float, check_int, check_ratio
from .base import StepSchedule
from .budget import WindowBudget, budget_steps
from .randomized import derive_seed

__all__ = ['ARSAMSchedule', 'block_spread', 'mean_relative_change']


def block_spread(values: Sequence[float], num_blocks: int) -> float:
    """Mean over blocks of the variance of the sorted values.

    Args:
        values (Sequence[float]): The kept PSF norms ``a``.
        num_blocks (int): Number of blocks B; the sorted values are split as
            ``numpy.array_split`` does (the first ``len % B`` blocks one
            longer). Empty blocks are skipped.

    Returns:
        float: The spread ``s`` (0 for no values).
    """
    ordered = sorted(values)
    size, extra = divmod(len(ordered), num_blocks)
    variances: List[float] = []
    start = 0
    for b in range(num_blocks):
        stop = start + size + (1 if b < extra else 0)
        block = ordered[start:stop]
        start = stop
        if block:
            mean = sum(block) / len(block)
            variances.append(sum((x - mean)**2 for x in block) / len(block))
    return sum(variances) / len(variances) if variances else 0.0


def mean_relative_change(values: Sequence[float]) -> float:
    """Mean of ``(x[i] - x[i-1]) / |x[i-1]|`` over consecutive pairs.

    A pair whose earlier value is 0 contributes 0; fewer than two values
    give 0.
    """
    pairs = list(zip(values[:-1], values[1:]))
    if not pairs:
        return 0.0
    total = sum((cur - prev) / abs(prev) for prev, cur in pairs if prev != 0)
    return total / len(pairs)


class ARSAMSchedule(StepSchedule):
    """ARSAM's adaptive sampling (see the module doc).

    Args:
        warmup_iters (int): Leading iterations that are all SAM steps.
            Defaults to 0.
        window (int): Window length K. Defaults to 50.
        num_blocks (int, optional): Blocks B of the spread statistic; at
            most ``window // 2``. Defaults to None: the authors' 5, or
            ``window // 2`` for windows shorter than 10.
        max_sam_ratio (float): Upper bound of ``n / K``, in (0, 1].
            Defaults to 0.8.
        alpha (tuple[float, float]): Gains of the ratio and spread changes.
            Defaults to (0.13, 0.13).
        stat_tensors (int): Number N of trailing parameter tensors the
            statistics cover. Defaults to 10.
        target_ratio (float, optional): Share of SAM steps over the whole
            run, warm-up included (module doc, 6); needs
            :meth:`set_run_length`. Defaults to None: the published rule.
        seed (int, optional): Seed of the schedule's generator. Defaults to
            None: derived from ``torch.initial_seed()`` (which mmengine sets
            identically on every rank) without drawing from torch's global
            generator, so building the schedule does not change the random
            numbers that follow it (weight initialisation, data order): a
            run with ARSAM starts from the same weights as one with SGD or
            SAM under the same seed.
    """

    def __init__(self,
                 warmup_iters: int = 0,
                 window: int = 50,
                 num_blocks: Optional[int] = None,
                 max_sam_ratio: float = 0.8,
                 alpha: Tuple[float, float] = (0.13, 0.13),
                 stat_tensors: int = 10,
                 target_ratio: Optional[float] = None,
                 seed: Optional[int] = None) -> None:
        self.warmup_iters = check_int('warmup_iters', warmup_iters, 0)
        self.window = check_int('window', window, 1)
        if num_blocks is None:
            num_blocks = max(1, min(5, self.window // 2))
        self.num_blocks = check_int('num_blocks', num_blocks, 1)
        if self.window >= 2 and self.window < 2 * self.num_blocks:
            raise ValueError(
                f'window ({window}) must be at least 2 * num_blocks '
                f'({2 * num_blocks}): with fewer values than two per block '
                'the spread statistic is always 0 and alpha[1] has no '
                f'effect; use num_blocks <= {max(1, window // 2)} or a '
                'longer window')
        self.max_sam_ratio = check_float('max_sam_ratio', max_sam_ratio)
        if not 0 < self.max_sam_ratio <= 1:
            raise ValueError(
                f'max_sam_ratio must be in (0, 1], got {max_sam_ratio!r}')
        if (not isinstance(alpha, (tuple, list)) or len(alpha) != 2):
            raise TypeError(
                f'alpha must be a pair of numbers, got {alpha!r}')
        self.alpha = (check_float('alpha[0]', alpha[0]),
                      check_float('alpha[1]', alpha[1]))
        self.stat_tensors = check_int('stat_tensors', stat_tensors, 1)
        self.target_ratio = None if target_ratio is None else \
            check_ratio('target_ratio', target_ratio)
        if seed is None:
            seed = derive_seed(torch.initial_seed())
        self.seed = check_int('seed', seed, 0)
        self.generator = torch.Generator(device='cpu')
        self.generator.manual_seed(self.seed)

        self.max_n = max(1, math.floor(self.window * self.max_sam_ratio))
        self.run_length: Optional[int] = None
        self.iter = 0
        self.n = 1.0
        self.taken = 0
        #: SAM steps planned so far (the budget of ``target_ratio``).
        self.planned = 0
        #: This window's SAM steps (``floor(n)`` without a target).
        self.count = 1
        #: The windows' counts with ``target_ratio``.
        self.forecast = WindowBudget(self.window, self.max_n)
        self.a_hist: Deque[float] = deque(maxlen=self.window)
        self.r_hist: Deque[float] = deque(maxlen=self.window)
        self.s_hist: Deque[float] = deque(maxlen=self.window)
        #: Statistics on their way to the host, read at window boundaries.
        self._queue = HostQueue()
        #: This SAM step's ``||g||_N`` and ``||v||_N`` (:meth:`observe`).
        self._grad_norm: Optional[Tensor] = None
        self._psf_norm: Optional[Tensor] = None

    def reseed(self, seed: int) -> None:
        self.seed = check_int('seed', seed, 0)
        self.generator.manual_seed(self.seed)

    def set_run_length(self, steps: int) -> None:
        """Record the run length; with ``target_ratio``, check it can be met.

        The highest share is what the windows can hold: the warm-up plus
        ``min(length, floor(window * max_sam_ratio))`` SAM steps in each
        window after it (:meth:`.WindowBudget.capacity`), which is
        below ``max_sam_ratio`` when ``window * max_sam_ratio`` is not a
        whole number. A target is compared as the count of SAM steps it
        asks for (:func:`.budget_steps`).

        Raises:
            ValueError: When the warm-up alone exceeds the target's budget
                or the windows' cap keeps the run below it, saying which
                targets can be met.
        """
        self.run_length = check_int('run length', steps, 1)
        if self.target_ratio is None:
            return
        warmup = min(self.warmup_iters, steps)
        most = warmup + self.forecast.capacity(steps - warmup)
        if not warmup <= budget_steps(self.target_ratio, steps) <= most:
            raise ValueError(
                f'target_ratio {self.target_ratio} cannot be met in a run of '
                f'{steps} optimizer steps with warmup_iters {warmup}, window '
                f'{self.window} and max_sam_ratio {self.max_sam_ratio} (at '
                f'most {self.max_n} SAM steps a window): the share of SAM '
                f'steps can be set between {warmup / steps:.3f} and '
                f'{most / steps:.3f} (shorten the warm-up or raise '
                'max_sam_ratio for others)')

    # --- statistics ---------------------------------------------------
    def observe(self, step: PassView) -> None:
        """Take ``||g||_N`` after pass 1 and ``||v||_N`` after pass 2, both
        unscaled (``v`` scaled by ``1 / loss scale`` before its norm, as
        the kept PSF is); record them at the end, ``a`` NaN after a failed
        step (no sample)."""
        if step.stage == 'end':
            nan = torch.full_like(self._psf_norm, math.nan)
            self.record(
                torch.where(step.ok.to(nan.device), self._psf_norm, nan),
                self._grad_norm)
            return
        tail = step.tail(self.stat_tensors)
        if step.stage == 'pass1':
            self._grad_norm = step.norm([step.grads[k] for k in tail],
                                        unscale=True)
            return
        psf = [step.grads[k] - step.kept[k] for k in tail]
        if step.inv is not None:
            K.scale_(psf, step.inv, foreach=step.foreach)
        self._psf_norm = step.norm(psf)

    def record(self, psf_norm: Tensor, grad_norm: Tensor) -> None:
        """Queue ``||v||_N`` and ``||g||_N`` of a SAM step (0-d tensors)
        for the next window boundary; no host sync."""
        self._queue.put(torch.stack([psf_norm.detach(), grad_norm.detach()]))

    def _flush(self) -> None:
        """Fold the queued statistics into the kept histories."""
        for a, g in self._queue.drain():
            self._push(a, g)

    def _push(self, a: float, g: float) -> None:
        if not (math.isfinite(a) and math.isfinite(g) and g > 0):
            return  # a failed SAM step or a zero gradient: no sample
        self.a_hist.append(a)
        self.r_hist.append(a / g)
        self.s_hist.append(block_spread(self.a_hist, self.num_blocks))

    def _update_count(self) -> None:
        self._flush()
        dr = min(1.0, max(-1.0, mean_relative_change(list(self.r_hist))))
        ds = min(1.0, max(-1.0, mean_relative_change(list(self.s_hist))))
        n = self.n * (1 + self.alpha[0] * dr + self.alpha[1] * ds)
        self.n = min(float(self.max_n), max(1.0, n))

    def _window_count(self) -> int:
        """SAM steps of the window starting at ``self.iter``: ``floor(n)``,
        or with ``target_ratio`` the budget's share
        (:class:`.WindowBudget`)."""
        if self.target_ratio is None:
            return math.floor(self.n)
        if self.run_length is None:
            raise RuntimeError('target_ratio needs the run length: call '
                               'set_run_length() before the first plan')
        budget = budget_steps(self.target_ratio,
                              self.run_length) - self.planned
        return self.forecast.count(self.n, self.run_length - self.iter, budget)

    def _open_window(self) -> None:
        """At a window boundary: update ``n`` from the statistics (past the
        first window) and set the window's count."""
        if self.iter > self.warmup_iters:
            self._update_count()
        self.count = self._window_count()
        self.taken = 0

    def _draw_in_window(self, pos: int) -> bool:
        """Whether the step at ``pos`` in the window is a SAM step: forced
        when the steps left need it, none once the count is taken, else
        drawn from the schedule's generator (advancing it)."""
        need = self.count - self.taken
        if need <= 0:
            return False
        if need >= self.window - pos or (
                self.target_ratio is not None
                and need >= self.run_length - self.iter):
            return True
        draw = torch.rand((), generator=self.generator)
        rate = self.n if self.target_ratio is None else self.count
        return float(draw) < rate / self.window

    def plan(self) -> bool:
        """Decide the coming step and advance the schedule.

        Returns:
            bool: Whether it is a SAM step.
        """
        if self.iter < self.warmup_iters:
            sam = True
        else:
            pos = (self.iter - self.warmup_iters) % self.window
            if pos == 0:
                self._open_window()
            sam = self._draw_in_window(pos)
        self.iter += 1
        if sam:
            if self.iter > self.warmup_iters:
                self.taken += 1
            self.planned += 1
        return sam

    def log_scalars(self) -> Dict[str, float]:
        """``sam_count``: the current window's target ``n``."""
        return {'sam_count': self.n}

    def set_warmup(self, warmup_iters: int) -> None:
        """Set the warm-up from the run length, before the first plan.

        Args:
            warmup_iters (int): Leading SAM steps, >= 0.

        Raises:
            RuntimeError: Once iterations past the new or old warm-up
                have been planned.
        """
        warmup_iters = check_int('warmup_iters', warmup_iters, 0)
        if warmup_iters != self.warmup_iters and \
                self.iter > min(warmup_iters, self.warmup_iters):
            raise RuntimeError(
                f'cannot change warmup_iters to {warmup_iters} after '
                f'{self.iter} planned iterations')
        self.warmup_iters = warmup_iters

    # --- checkpointing ------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Everything that changes future decisions, generator included.

        Queued statistics are folded in first (one host wait).
        """
        self._flush()
        return {
            'iter': self.iter,
            'n': self.n,
            'taken': self.taken,
            'planned': self.planned,
            'count': self.count,
            **self.forecast.state_dict(),
            'a_hist': list(self.a_hist),
            'r_hist': list(self.r_hist),
            's_hist': list(self.s_hist),
            'seed': self.seed,
            'generator': self.generator.get_state(),
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; later decisions continue exactly."""
        self._queue.clear()
        self.iter = int(state['iter'])
        self.n = float(state['n'])
        self.taken = int(state['taken'])
        self.planned = int(state['planned'])
        self.count = int(state['count'])
        self.forecast.load_state_dict(state)
        for name in ('a_hist', 'r_hist', 's_hist'):
            hist = getattr(self, name)
            hist.clear()
            hist.extend(float(x) for x in state[name])
        self.seed = int(state['seed'])
        self.generator.set_state(state['generator'])
