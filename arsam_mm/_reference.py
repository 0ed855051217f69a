"""Literal, slow transcription of SAM/ARSAM for the tests only.

Written straight from the algorithm (``DESIGN.md`` 2.1-2.2 and the docstring
of :mod:`arsam_mm.schedule`) with Python lists and floats, one parameter at
a time, and with its own momentum SGD, so that the fast code can be compared
with it step by step. It shares nothing with the package but the rule, and
draws its random numbers from a generator seeded alike, in the same order.
Never import it from library code.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

GradFn = Callable[[List[Tensor]], List[Optional[Tensor]]]


class ReferenceSchedule:
    """ARSAM's sampling rule, literally."""

    def __init__(self, warmup_iters: int, window: int, num_blocks: int,
                 max_sam_ratio: float, alpha: Tuple[float, float],
                 beta: float, max_reuse_steps: int, seed: int) -> None:
        self.warmup_iters = warmup_iters
        self.window = window
        self.num_blocks = num_blocks
        self.max_count = max(1, math.floor(window * max_sam_ratio))
        self.alpha = alpha
        self.beta = beta
        self.max_reuse_steps = max_reuse_steps
        self.generator = torch.Generator().manual_seed(seed)
        self.t = 0
        self.n = 1.0
        self.taken = 0
        self.last_sam: Optional[int] = None
        self.a_values: List[float] = []
        self.r_values: List[float] = []
        self.s_values: List[float] = []

    def spread(self) -> float:
        values = sorted(self.a_values[-self.window:])
        blocks = [[] for _ in range(self.num_blocks)]
        base, extra = divmod(len(values), self.num_blocks)
        k = 0
        for b in range(self.num_blocks):
            count = base + 1 if b < extra else base
            for _ in range(count):
                blocks[b].append(values[k])
                k += 1
        variances = []
        for block in blocks:
            if len(block) == 0:
                continue
            m = sum(block) / len(block)
            variances.append(sum((x - m) * (x - m) for x in block) /
                             len(block))
        if not variances:
            return 0.0
        return sum(variances) / len(variances)

    @staticmethod
    def rel_change(values: List[float]) -> float:
        if len(values) < 2:
            return 0.0
        total = 0.0
        for i in range(1, len(values)):
            if values[i - 1] != 0:
                total += (values[i] - values[i - 1]) / abs(values[i - 1])
        change = total / (len(values) - 1)
        return max(-1.0, min(1.0, change))

    def add_record(self, a: float, g: float) -> None:
        if math.isnan(a) or math.isinf(a) or math.isnan(g) or \
                math.isinf(g) or g <= 0:
            return  # no sample from a failed step or a zero gradient
        self.a_values.append(a)
        self.r_values.append(a / g)
        self.s_values.append(self.spread())

    def decide(self) -> Tuple[bool, float]:
        """Returns (SAM step?, mixing weight)."""
        t = self.t
        self.t += 1
        if t < self.warmup_iters:
            sam = True
        else:
            j = (t - self.warmup_iters) % self.window
            if j == 0:
                if t > self.warmup_iters:
                    dr = self.rel_change(self.r_values[-self.window:])
                    ds = self.rel_change(self.s_values[-self.window:])
                    self.n = self.n * (1 + self.alpha[0] * dr +
                                       self.alpha[1] * ds)
                    self.n = min(float(self.max_count), max(1.0, self.n))
                self.taken = 0
            left = math.floor(self.n) - self.taken
            if left <= 0:
                sam = False
            elif left >= self.window - j:
                sam = True
            else:
                u = float(torch.rand((), generator=self.generator))
                sam = u < self.n / self.window
            if sam:
                self.taken += 1
        if sam:
            self.last_sam = t
            return True, 0.0
        if self.last_sam is None:
            return False, 0.0
        k = t - self.last_sam
        if k <= self.max_reuse_steps:
            return False, self.beta**k
        return False, 0.0


class ReferenceARSAM:
    """SAM/ARSAM with momentum SGD on a list of float64 tensors.

    Args:
        params (list[Tensor]): Initial weights (copied).
        lrs (list[float]): Learning rate of each parameter.
        momentum (float): SGD momentum (torch's convention, dampening 0).
        weight_decay (float): L2 added to the gradient.
        rho (float): Perturbation radius.
        schedule (ReferenceSchedule, optional): None: SAM on every step.
        stat_tensors (int): N of the statistics.
        eps (float): Added to the gradient norm.
    """

    def __init__(self,
                 params: Sequence[Tensor],
                 lrs: Sequence[float],
                 momentum: float,
                 weight_decay: float,
                 rho: float,
                 schedule: Optional[ReferenceSchedule] = None,
                 stat_tensors: int = 10,
                 eps: float = 1e-12) -> None:
        self.w = [p.detach().clone() for p in params]
        self.lrs = list(lrs)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.rho = rho
        self.schedule = schedule
        self.stat_tensors = stat_tensors
        self.eps = eps
        self.buf: Dict[int, Tensor] = {}
        self.v: Dict[int, Tensor] = {}

    @staticmethod
    def norm(tensors: List[Tensor]) -> float:
        total = 0.0
        for t in tensors:
            for x in t.flatten().tolist():
                total += x * x
        return math.sqrt(total)

    def step(self, grad_fn: GradFn) -> None:
        if self.schedule is None:
            sam, lam = True, 0.0
        else:
            sam, lam = self.schedule.decide()
        g = grad_fn(self.w)
        have = [i for i in range(len(self.w)) if g[i] is not None]
        if sam:
            norm = self.norm([g[i] for i in have])
            if not math.isfinite(norm):
                scale = 0.0
            else:
                scale = self.rho / (norm + self.eps)
            perturbed = [w.clone() for w in self.w]
            for i in have:
                perturbed[i] = self.w[i] + scale * g[i]
            g_s = grad_fn(perturbed)
            if self.schedule is not None:
                self.v = {}
                for i in have:
                    self.v[i] = g_s[i] - g[i]
                a = self.norm([self.v[i] for i in have][-self.stat_tensors:])
                gn = self.norm([g[i] for i in have][-self.stat_tensors:])
                self.schedule.add_record(a, gn)
            d = {i: g_s[i] for i in have}
        else:
            d = {}
            for i in have:
                if lam != 0 and i in self.v:
                    d[i] = g[i] + lam * self.v[i]
                else:
                    d[i] = g[i]
        for i in have:
            step_dir = d[i] + self.weight_decay * self.w[i]
            if self.momentum != 0:
                if i in self.buf:
                    self.buf[i] = self.momentum * self.buf[i] + step_dir
                else:
                    self.buf[i] = step_dir.clone()
                step_dir = self.buf[i]
            self.w[i] = self.w[i] - self.lrs[i] * step_dir
