"""Paired statistics of a benchmark suite's final metrics (no torch).

Every variant of seed ``s`` starts from the same weights and sees the same
batches, so the seed moves all variants together: differences between
variants are compared within a seed. :class:`TwoWay` fits the additive
two-way model ``y[v, s] = mu + variant[v] + seed[s] + e`` to a balanced
table (every variant run on the same seeds) and gives any contrast of the
variants (weights summing to 0, so the seed effects cancel) with its
t interval on the residual (run-to-run) spread, pooled over all variants
(``df = (V - 1)(S - 1)``). With two variants this is exactly the paired t
test on the per-seed differences.

:func:`holm` adjusts a family of p-values for the comparisons made
together; :func:`seeds_for_power` says how many paired seeds a difference
would need; :meth:`TwoWay.ratio` gives a ratio of two contrasts (a share of
SAM's gain) with Fieller's interval.
"""
import math
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np
from scipy import special

__all__ = ['Estimate', 'Ratio', 'TwoWay', 'holm', 'seeds_for_power',
           't_quantile']


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    return float(special.stdtrit(df, q))


def _t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t."""
    return float(special.stdtr(df, -t))


class Estimate(NamedTuple):
    """A contrast: its estimate, standard error, t interval and tests.

    ``p`` is two-sided (H0: the contrast is 0), ``p_greater`` one-sided
    (H0: it is <= 0). ``sd`` is the per-seed standard deviation of the
    contrast (``se * sqrt(seeds)``), the spread a paired design sees.
    """
    mean: float
    se: float
    lo: float
    hi: float
    t: float
    df: int
    p: float
    p_greater: float
    sd: float


class Ratio(NamedTuple):
    """A ratio of two contrasts with Fieller's interval; ``lo``/``hi`` are
    None when the interval is unbounded (the denominator is not
    significantly non-zero at the interval's level)."""
    value: float
    lo: Optional[float]
    hi: Optional[float]


class TwoWay:
    """The additive seed x variant model of a balanced table.

    Args:
        values (Mapping[str, Mapping[int, float]]): Variant -> seed -> final
            metric. Only the seeds every variant ran are used.
        level (float): Level of the intervals. Defaults to 0.95.

    Raises:
        ValueError: With fewer than 2 variants or fewer than 2 shared seeds
            (no residual spread to test against), or a level outside (0, 1).
    """

    def __init__(self, values: Mapping[str, Mapping[int, float]],
                 level: float = 0.95) -> None:
        if not 0 < level < 1:
            raise ValueError(f'level must be in (0, 1), got {level}')
        self.variants = list(values)
        if len(self.variants) < 2:
            raise ValueError('values must hold at least 2 variants, got '
                             f'{len(self.variants)}')
        shared = set.intersection(*(set(v) for v in values.values()))
        self.seeds = sorted(shared)
        if len(self.seeds) < 2:
            raise ValueError('values must share at least 2 seeds between '
                             f'all variants, got {self.seeds}')
        self.level = level
        y = np.array([[float(values[v][s]) for s in self.seeds]
                      for v in self.variants])
        self.means = dict(zip(self.variants, y.mean(axis=1).tolist()))
        resid = (y - y.mean(axis=1, keepdims=True) -
                 y.mean(axis=0, keepdims=True) + y.mean())
        n_var, n_seed = y.shape
        self.df = (n_var - 1) * (n_seed - 1)
        #: The residual (run-to-run) standard deviation.
        self.sd = math.sqrt(float((resid**2).sum()) / self.df)

    @property
    def n(self) -> int:
        """The number of shared seeds."""
        return len(self.seeds)

    def _weights(self, weights: Mapping[str, float]) -> Dict[str, float]:
        unknown = [v for v in weights if v not in self.means]
        if unknown:
            raise ValueError(f'weights name variants not in the model: '
                             f'{unknown}; the variants are {self.variants}')
        if abs(sum(weights.values())) > 1e-9:
            raise ValueError('weights must sum to 0 (a contrast), got '
                             f'{dict(weights)}')
        return dict(weights)

    def _cov(self, w1: Mapping[str, float], w2: Mapping[str, float]
             ) -> float:
        return self.sd**2 * sum(w * w2.get(v, 0.0)
                                for v, w in w1.items()) / self.n

    def contrast(self, weights: Mapping[str, float]) -> Estimate:
        """A contrast of the variants' means.

        Args:
            weights (Mapping[str, float]): Variant -> weight, summing to 0;
                ``{'a': 1, 'b': -1}`` is ``a`` minus ``b``.

        Returns:
            Estimate: The contrast with its t interval at :attr:`level`.
        """
        weights = self._weights(weights)
        mean = sum(w * self.means[v] for v, w in weights.items())
        se = math.sqrt(self._cov(weights, weights))
        half = t_quantile(0.5 + self.level / 2, self.df) * se
        if se > 0:
            t = mean / se
        else:  # no residual spread at all: exact
            t = math.copysign(math.inf, mean) if mean else 0.0
        p_greater = _t_sf(t, self.df)
        p = min(1.0, 2 * _t_sf(abs(t), self.df))
        return Estimate(mean, se, mean - half, mean + half, t, self.df, p,
                        p_greater, se * math.sqrt(self.n))

    def ratio(self, num: Mapping[str, float], den: Mapping[str, float]
              ) -> Ratio:
        """The ratio of two contrasts' estimates with Fieller's interval.

        The interval holds every ``r`` for which ``num - r * den`` is not
        significantly non-zero at :attr:`level` (the t test of that
        contrast): the roots of ``(x - r y)^2 = t^2 (v11 - 2 r v12 +
        r^2 v22)``. It is bounded only when ``den`` itself is significant.

        Args:
            num (Mapping[str, float]): The numerator's weights.
            den (Mapping[str, float]): The denominator's weights.

        Returns:
            Ratio: The ratio (NaN when ``den`` estimates 0) and interval.
        """
        num, den = self._weights(num), self._weights(den)
        x = sum(w * self.means[v] for v, w in num.items())
        y = sum(w * self.means[v] for v, w in den.items())
        v11, v22 = self._cov(num, num), self._cov(den, den)
        v12 = self._cov(num, den)
        t2 = t_quantile(0.5 + self.level / 2, self.df)**2
        value = x / y if y else math.nan
        a = y * y - t2 * v22
        b = x * y - t2 * v12
        c = x * x - t2 * v11
        disc = b * b - a * c
        if a <= 0 or disc < 0:
            return Ratio(value, None, None)
        root = math.sqrt(disc)
        return Ratio(value, (b - root) / a, (b + root) / a)


def holm(pvalues: Sequence[float]) -> List[float]:
    """Holm's step-down adjusted p-values of one family of tests.

    The ``i``-th smallest of ``m`` p-values is multiplied by ``m - i + 1``
    (``i`` from 1), made non-decreasing along that order and capped at 1.
    Rejecting where the adjusted p-value is below ``alpha`` keeps the chance
    of any false rejection in the family at most ``alpha``.

    Args:
        pvalues (Sequence[float]): The family's p-values.

    Returns:
        list[float]: The adjusted p-values, in the given order.
    """
    m = len(pvalues)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda k: pvalues[k])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _paired_power(d: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t test with ``n`` seeds at
    standardised effect ``d`` (noncentral t)."""
    df = n - 1
    crit = t_quantile(1 - alpha / 2, df)
    nc = abs(d) * math.sqrt(n)
    return float(1 - special.nctdtr(df, nc, crit) +
                 special.nctdtr(df, nc, -crit))


def seeds_for_power(effect: float, sd: float, power: float = 0.8,
                    alpha: float = 0.05, max_seeds: int = 100
                    ) -> Optional[int]:
    """Paired seeds a two-sided paired t test needs to detect ``effect``.

    The power at ``n`` seeds is computed exactly from the noncentral t
    distribution (``df = n - 1``, noncentrality ``effect / sd * sqrt(n)``);
    the search starts at the normal approximation
    ``((z_{1-alpha/2} + z_power) sd / effect)^2``.

    Args:
        effect (float): The difference of means to detect.
        sd (float): The per-seed standard deviation of the difference.
        power (float): Wanted power. Defaults to 0.8.
        alpha (float): Two-sided level. Defaults to 0.05.
        max_seeds (int): Give up beyond this many. Defaults to 100.

    Returns:
        int | None: The smallest ``n >= 2`` with at least ``power``; None
        when ``effect`` is 0 or more than ``max_seeds`` would be needed.
    """
    if sd < 0:
        raise ValueError(f'sd must be >= 0, got {sd}')
    if effect == 0:
        return None
    if sd == 0:
        return 2
    d = abs(effect) / sd
    z = special.ndtri(1 - alpha / 2) + special.ndtri(power)
    n = max(2, math.ceil(float(z / d)**2))
    if n > max_seeds:
        return None
    while n > 2 and _paired_power(d, n - 1, alpha) >= power:
        n -= 1
    while _paired_power(d, n, alpha) < power:
        n += 1
        if n > max_seeds:
            return None
    return n
