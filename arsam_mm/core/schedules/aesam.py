"""AE-SAM's rule: a SAM step when ``||g||^2`` is high, decided after pass 1.

Torch only (no mmengine). Jiang, Yang, Zhang & Kwok, "An Adaptive Policy to
Employ Sharpness-Aware Minimization", ICLR 2023, arXiv 2304.14647.

The rule
--------
With ``x_t = ||g_t||^2``, the squared norm of the first-pass (mini-batch)
gradient of step ``t``, the paper models ``x_t`` as normal with mean and
variance tracked by exponential moving averages, and takes a SAM step where
``x_t`` is high for that distribution (a sharp region), an ERM/SGD step
otherwise::

    mu_t      = delta * mu_{t-1}      + (1 - delta) * x_t
    sigma_t^2 = delta * sigma_{t-1}^2 + (1 - delta) * (x_t - mu_t)^2
    c_t       = (t / T) * lambda_1 + (1 - t / T) * lambda_2
    SAM step  iff  x_t >= mu_t + c_t * sigma_t

``T`` is the run's number of steps, so the threshold moves linearly from
``mu + lambda_2 * sigma`` to ``mu + lambda_1 * sigma``.

Sources. The four lines above are the rule as two third-party
transcriptions give it (the ``zij`` optimizer canon, docs/math/aesam.md; a
paper-notes summary), which agree with each other and with the paper's
abstract ("we model the squared stochastic gradient norm by a normal
distribution whose parameters are estimated by exponential moving
average"); the paper's Section 3 (the policy and its algorithm box) is not
among the sources. Neither is its Section 4 (the experimental settings):
the defaults ``delta = 0.9``, ``lambda_1 = -1``, ``lambda_2 = 1`` are not
taken from the paper's text. They are consistent with the share it reports
(about half the steps are SAM steps): under its normal model a step fires
with probability ``1 - Phi(c_t)``, whose mean over ``c_t`` running evenly
from 1 to -1 is exactly 1/2. Change them through the arguments where the
paper's Section 4 says otherwise.

Readings chosen where the rule leaves a choice:

* ``mu_t`` and ``sigma_t`` *include* the current step before the comparison
  (the equations are indexed ``t`` on both sides); ``sigma_t`` is the square
  root of the EMA variance.
* ``mu_0 = sigma_0^2 = 0`` (plain zero-initialised EMAs, no bias
  correction). The first steps are then mostly SAM steps (``mu`` is still
  low): about ``1 / (1 - delta)`` steps of transient.
* ``t`` counts optimizer steps (not epochs) from 0, so the first step uses
  ``c_0 = lambda_2`` and the last ``c_{T-1}`` (one step short of
  ``lambda_1``); ``T`` is the run's optimizer steps (:meth:`set_run_length`,
  which the mmengine wrappers call from the Runner's length; without it the
  first decision raises). Past ``T`` the coefficient stays at ``lambda_1``.
* ``x_t`` is the squared global L2 norm over every parameter with a
  gradient, unscaled (AMP), after the DDP all-reduce (every rank decides
  alike); with gradient accumulation, of the accumulated gradient.
* A non-finite ``x_t`` (an overflow) is no SAM step and does not update
  ``mu``/``sigma``; the step still counts in ``t``. (The core driver does
  not call :meth:`decide` at all for it; steps are counted in :meth:`plan`.)

``target_ratio`` (not in the paper)
-----------------------------------
The run's share of SAM steps over all its steps is set instead of left to
the rule; the rule still decides *where* the steps fall. The paper's
threshold keeps its shape and is shifted by one offset ``b``: a SAM step iff
``x_t >= mu_t + (c_t + b_t) * sigma_t``, i.e. iff the standardized score
``z_t = (x_t - mu_t) / sigma_t >= c_t + b_t``. At every step, ``b_t`` is
chosen so that the remaining budget is spent over the remaining steps
*if* the scores keep their recent distribution: it solves::

    sum over the steps s = t .. T-1 of  P(z >= c_s + b)  =  budget left

with ``P`` the empirical distribution of the last ``window`` scores (the
standard normal of the paper's model while fewer than ``min(window, 20)``
are kept), ``c_s`` the known future coefficients (the sum taken over up to
16 equal stretches of the remaining steps), by bisection. Since ``c_s``
keeps its slope, the SAM steps still become more frequent as ``c_t`` falls,
as in the paper; a constant ``b`` is exactly the paper's rule with
``lambda_1`` and ``lambda_2`` both moved by ``b``. The budget is
``target_ratio * T`` SAM steps rounded half up (:func:`.budget.budget_steps`,
as for ARSAM and late-phase SAM); a hard guard makes it exact: when the
steps left equal the budget left every remaining step is a SAM step, and
once the budget is spent none is. The final share is therefore the budget
over ``T`` (within ``1 / (2T)`` of the target) unless some steps' gradients
were not finite.
"""
import bisect
import math
from collections import deque
from typing import Any, Deque, Dict, List, Optional

from ..validate import check_float, check_int, check_ratio
from .base import StepSchedule
from .budget import budget_steps

__all__ = ['AESAMSchedule']

#: Stretches of the remaining run over which the offset equation is summed.
_SEGMENTS = 16
#: Bisection steps for the offset.
_BISECT = 48
#: Scores needed before their empirical distribution replaces the normal.
_MIN_SCORES = 20


def _normal_tail(x: float) -> float:
    """``P(Z >= x)`` for a standard normal ``Z``."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


class AESAMSchedule(StepSchedule):
    """AE-SAM's adaptive policy (see the module doc), decided after pass 1.

    :meth:`plan` returns None (and counts the step); :meth:`decide` receives
    ``||g||^2`` and returns whether the step is a SAM step.

    Args:
        delta (float): EMA factor of the mean and variance of ``||g||^2``,
            in (0, 1). Defaults to 0.9.
        lambda1 (float): The threshold coefficient ``c_t`` at the end of the
            run (``t = T``). Defaults to -1.
        lambda2 (float): ``c_t`` at the start (``t = 0``). Defaults to 1.
        target_ratio (float, optional): The run's share of SAM steps, in
            [0, 1] (module doc); needs :meth:`set_run_length`. Defaults to
            None: the paper's rule.
        window (int): Recent standardized scores whose distribution sets the
            offset with ``target_ratio``, >= 1. Defaults to 200.
    """

    late = True

    def __init__(self,
                 delta: float = 0.9,
                 lambda1: float = -1.0,
                 lambda2: float = 1.0,
                 target_ratio: Optional[float] = None,
                 window: int = 200) -> None:
        self.delta = check_float('delta', delta)
        if not 0 < self.delta < 1:
            raise ValueError(f'delta must be in (0, 1), got {delta!r}')
        self.lambda1 = check_float('lambda1', lambda1)
        self.lambda2 = check_float('lambda2', lambda2)
        self.target_ratio = None if target_ratio is None else \
            check_ratio('target_ratio', target_ratio)
        self.window = check_int('window', window, 1)
        self.run_length: Optional[int] = None
        #: Steps planned so far (the current one included once planned).
        self.iter = 0
        #: SAM steps decided so far.
        self.taken = 0
        #: Whether the planned step still waits for :meth:`decide`.
        self.pending = False
        self.mu = 0.0
        self.var = 0.0
        #: The offset ``b`` last solved (0 without a target).
        self.offset = 0.0
        self.scores: Deque[float] = deque(maxlen=self.window)
        self.last_coef: Optional[float] = None
        self.last_score: Optional[float] = None

    # --- run length ----------------------------------------------------
    @property
    def budget(self) -> Optional[int]:
        """SAM steps of the whole run with ``target_ratio`` (else None)."""
        if self.target_ratio is None or self.run_length is None:
            return None
        return budget_steps(self.target_ratio, self.run_length)

    def set_run_length(self, steps: int) -> None:
        """Record ``T``; with ``target_ratio``, check it can still be met.

        A fresh schedule can meet every target (to within ``1 / (2T)``);
        after a resume into a run of another length it may not.

        Raises:
            ValueError: When the SAM steps already taken exceed the budget,
                or the budget left exceeds the steps left, saying which
                shares the run can still end with.
        """
        steps = check_int('run length', steps, 1)
        if self.target_ratio is not None:
            budget = budget_steps(self.target_ratio, steps)
            done = self.iter - (1 if self.pending else 0)
            left = max(0, steps - done)
            if not 0 <= budget - self.taken <= left:
                low = self.taken / steps
                high = (self.taken + left) / steps
                raise ValueError(
                    f'target_ratio {self.target_ratio} cannot be met in a '
                    f'run of {steps} optimizer steps: {self.taken} SAM '
                    f'steps were taken in the first {done}, so the share '
                    f'can end between {low:.3f} and {high:.3f}')
        self.run_length = steps

    def coefficient(self, t: float) -> float:
        """``c_t = (t / T) * lambda1 + (1 - t / T) * lambda2``, ``t / T``
        capped at 1."""
        frac = min(1.0, t / self.run_length)
        return frac * self.lambda1 + (1 - frac) * self.lambda2

    # --- one step ----------------------------------------------------
    def plan(self) -> None:
        """Count the coming step; the decision comes after pass 1.

        Returns:
            None: always (a late schedule).
        """
        self.iter += 1
        self.pending = True
        return None

    def decide(self, grad_sq_norm: float) -> bool:
        """Update the statistics with ``||g||^2`` and decide.

        Args:
            grad_sq_norm (float): ``||g||^2`` of the step's first pass,
                unscaled, alike on every rank.

        Returns:
            bool: Whether the step is a SAM step.

        Raises:
            RuntimeError: Without :meth:`set_run_length` (``c_t`` needs
                ``T``), or without a :meth:`plan` for this step.
        """
        if self.run_length is None:
            raise RuntimeError(
                'AESAMSchedule needs the run length T for c_t = (t/T) * '
                'lambda1 + (1 - t/T) * lambda2: call set_run_length(T) '
                'before the first decision (a Runner does it through '
                'the optimizer wrapper; without a Runner call '
                'wrapper.initialize_count_status(model, 0, max_iters))')
        if not self.pending:
            raise RuntimeError('decide() called without plan() for the step')
        self.pending = False
        t = self.iter - 1
        x = float(grad_sq_norm)
        if not math.isfinite(x):
            return False
        d = self.delta
        self.mu = d * self.mu + (1 - d) * x
        self.var = d * self.var + (1 - d) * (x - self.mu)**2
        sigma = math.sqrt(self.var)
        coef = self.coefficient(t)
        score = (x - self.mu) / sigma if sigma > 0 else None
        if self.target_ratio is None:
            sam = x >= self.mu + coef * sigma
        else:
            sam = self._targeted(t, x, sigma, coef)
        if score is not None:
            self.scores.append(score)
            self.last_score = score
        self.last_coef = coef + self.offset
        if sam:
            self.taken += 1
        return sam

    def _targeted(self, t: int, x: float, sigma: float, coef: float) -> bool:
        left = self.run_length - t  # this step included
        need = self.budget - self.taken
        if need <= 0:
            return False
        if need >= left:
            return True
        self.offset = self._solve_offset(t, need, left)
        return x >= self.mu + (coef + self.offset) * sigma

    def _solve_offset(self, t: int, need: int, left: int) -> float:
        """The ``b`` whose predicted SAM steps over the remaining run equal
        ``need`` (module doc); ``0 < need < left``."""
        parts = min(left, _SEGMENTS)
        lengths: List[int] = []
        coefs: List[float] = []
        for k in range(parts):
            start = t + k * left // parts
            stop = t + (k + 1) * left // parts
            lengths.append(stop - start)
            coefs.append(self.coefficient((start + stop - 1) / 2))
        if len(self.scores) >= min(self.window, _MIN_SCORES):
            ordered = sorted(self.scores)
            n = len(ordered)

            def tail(v: float) -> float:
                return (n - bisect.bisect_left(ordered, v)) / n

            lo = ordered[0] - max(coefs) - 1.0
            hi = ordered[-1] - min(coefs) + 1.0
        else:
            tail = _normal_tail
            lo = -10.0 - max(coefs)
            hi = 10.0 - min(coefs)
        for _ in range(_BISECT):
            mid = 0.5 * (lo + hi)
            expected = sum(
                n_k * tail(c_k + mid) for n_k, c_k in zip(lengths, coefs))
            if expected >= need:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def log_scalars(self) -> Dict[str, float]:
        """``aesam_threshold``: the standardized threshold ``c_t + b_t``
        of the last decision; ``aesam_score``: its ``z_t``."""
        out: Dict[str, float] = {}
        if self.last_coef is not None:
            out['aesam_threshold'] = self.last_coef
        if self.last_score is not None:
            out['aesam_score'] = self.last_score
        return out

    # --- checkpointing ------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Everything that changes future decisions (the run length too:
        a resume inside an accumulation cycle decides before the wrapper
        gives it again)."""
        return {
            'iter': self.iter,
            'taken': self.taken,
            'pending': self.pending,
            'mu': self.mu,
            'var': self.var,
            'offset': self.offset,
            'scores': list(self.scores),
            'run_length': self.run_length,
            'last_coef': self.last_coef,
            'last_score': self.last_score,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; later decisions continue exactly."""
        self.iter = int(state['iter'])
        self.taken = int(state['taken'])
        self.pending = bool(state['pending'])
        self.mu = float(state['mu'])
        self.var = float(state['var'])
        self.offset = float(state['offset'])
        self.scores.clear()
        self.scores.extend(float(s) for s in state['scores'])
        length = state.get('run_length')
        self.run_length = None if length is None else int(length)
        self.last_coef = state.get('last_coef')
        self.last_score = state.get('last_score')
