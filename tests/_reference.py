"""Literal, slow transcription of SAM/ARSAM and of the efficient-SAM family
(LookSAM, randomized SAM, GSAM) for the tests only.

Written straight from the algorithm (the papers' update rules and the
module doc of :mod:`arsam_mm.core.schedules.arsam`) with Python lists and
floats, one parameter at a time, and with its own momentum
SGD, so that the fast code can be compared with it step by step. It shares
nothing with the package but the rule, and draws its random numbers from a
generator seeded alike, in the same order.
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


# --------------------------------------------------------------------------
# The efficient-SAM family beside ARSAM, literally.
# --------------------------------------------------------------------------

FullGradFn = Callable[[List[Tensor]], List[Tensor]]


class _ReferenceFamilyMember:
    """Momentum SGD on a list of float64 tensors plus SAM's perturbation,
    for the family's references below.

    Every parameter has a gradient. Norms and inner products are global
    over all parameters, summed as Python floats one element at a time.

    Args:
        params (list[Tensor]): Initial weights (copied).
        lrs (list[float]): Learning rate of each parameter.
        momentum (float): SGD momentum (torch's convention, dampening 0).
        weight_decay (float | list[float]): L2 added to the direction the
            optimizer steps with (one value, or one per parameter).
        rho (float): Perturbation radius.
        eps (float): Added to the gradient norm of the perturbation.
    """

    def __init__(self,
                 params: Sequence[Tensor],
                 lrs: Sequence[float],
                 momentum: float,
                 weight_decay,
                 rho: float,
                 eps: float = 1e-12) -> None:
        self.w = [p.detach().clone() for p in params]
        self.lrs = list(lrs)
        if isinstance(weight_decay, (int, float)):
            weight_decay = [float(weight_decay)] * len(self.w)
        self.weight_decays = list(weight_decay)
        self.momentum = momentum
        self.rho = rho
        self.eps = eps
        self.buf: Dict[int, Tensor] = {}
        self.t = 0

    @staticmethod
    def dot(a: List[Tensor], b: List[Tensor]) -> float:
        total = 0.0
        for x, y in zip(a, b):
            for u, v in zip(x.flatten().tolist(), y.flatten().tolist()):
                total += u * v
        return total

    @classmethod
    def norm(cls, a: List[Tensor]) -> float:
        return math.sqrt(cls.dot(a, a))

    def sam_gradient(self, grad_fn: FullGradFn,
                     g: List[Tensor]) -> List[Tensor]:
        """``g_s``: the gradient at ``w + rho * g / ||g||``."""
        scale = self.rho / (self.norm(g) + self.eps)
        return grad_fn([w + scale * gi for w, gi in zip(self.w, g)])

    def apply(self, direction: List[Tensor]) -> None:
        """One step of momentum SGD along ``direction``."""
        for i, d in enumerate(direction):
            d = d + self.weight_decays[i] * self.w[i]
            if self.momentum != 0:
                if i in self.buf:
                    self.buf[i] = self.momentum * self.buf[i] + d
                else:
                    self.buf[i] = d.clone()
                d = self.buf[i]
            self.w[i] = self.w[i] - self.lrs[i] * d


class ReferenceLookSAM(_ReferenceFamilyMember):
    """LookSAM (Liu et al., CVPR 2022), the paper's global formula.

    Step t (from 0) with ``t % interval == 0`` is a SAM step that steps with
    ``g_s`` and keeps ``g_v = g_s - (<g_s, g> / ||g||^2) g``; any other step
    steps with ``g + alpha * (||g|| / ||g_v||) * g_v``.
    """

    def __init__(self, *args, interval: int, alpha: float,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.interval = interval
        self.alpha = alpha
        self.g_v: Optional[List[Tensor]] = None

    def step(self, grad_fn: FullGradFn) -> bool:
        """One iteration; returns whether it was a SAM step."""
        sam = self.t % self.interval == 0
        self.t += 1
        g = grad_fn(self.w)
        if sam:
            g_s = self.sam_gradient(grad_fn, g)
            g_sq = self.dot(g, g)
            c = self.dot(g_s, g) / g_sq if g_sq > 0 else 0.0
            self.g_v = [gs - c * gi for gs, gi in zip(g_s, g)]
            self.apply(g_s)
            return True
        gv_norm = self.norm(self.g_v)
        if gv_norm == 0:
            self.apply(g)
            return False
        weight = self.alpha * self.norm(g) / gv_norm
        self.apply([gi + weight * v for gi, v in zip(g, self.g_v)])
        return False


class ReferenceRandomSAM(_ReferenceFamilyMember):
    """Randomized SAM (RST with a constant schedule): every step draws
    ``u = torch.rand(())`` from a generator seeded with ``seed`` (one draw
    per step, whatever ``prob`` is) and is a SAM step iff ``u < prob``; the
    other steps are plain steps with ``g``."""

    def __init__(self, *args, prob: float, seed: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prob = prob
        self.generator = torch.Generator().manual_seed(seed)

    def step(self, grad_fn: FullGradFn) -> bool:
        """One iteration; returns whether it was a SAM step."""
        self.t += 1
        u = float(torch.rand((), generator=self.generator))
        sam = u < self.prob
        g = grad_fn(self.w)
        self.apply(self.sam_gradient(grad_fn, g) if sam else g)
        return sam


class ReferenceGSAM(_ReferenceFamilyMember):
    """GSAM (Zhuang et al., ICLR 2022, Alg. 1 with a constant rho): a SAM
    step steps with ``g_s - alpha * g_perp``, ``g_perp = g - (<g, g_s> /
    ||g_s||^2) g_s``; on every ``interval``-th step (from the first), plain
    steps with ``g`` between."""

    def __init__(self, *args, alpha: float, interval: int = 1,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.alpha = alpha
        self.interval = interval

    def step(self, grad_fn: FullGradFn) -> bool:
        """One iteration; returns whether it was a SAM step."""
        sam = self.t % self.interval == 0
        self.t += 1
        g = grad_fn(self.w)
        if not sam:
            self.apply(g)
            return False
        g_s = self.sam_gradient(grad_fn, g)
        gs_sq = self.dot(g_s, g_s)
        c = self.dot(g, g_s) / gs_sq if gs_sq > 0 else 0.0
        g_perp = [gi - c * gs for gi, gs in zip(g, g_s)]
        self.apply([gs - self.alpha * p for gs, p in zip(g_s, g_perp)])
        return True


def reference_sam_loop(
    model: torch.nn.Module,
    batches: Sequence[Tuple[Tensor, Tensor]],
    rho: float,
    lr: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    forward: Optional[Callable[[torch.nn.Module, Tensor], Tensor]] = None,
    sam: Optional[Callable[[int, float], bool]] = None,
    clip: Optional[float] = None,
    restart_at: Optional[int] = None,
) -> Tuple[List[List[Tensor]], List[bool]]:
    """SAM written out by hand (Foret et al., ICLR 2021, Alg. 1), on a copy
    of ``model``, with ``torch.optim.SGD`` as the base optimizer.

    Step ``t`` takes ``g``, the gradient of the cross-entropy of
    ``forward(model, x)`` at the weights ``w``; on a SAM step it takes the
    gradient at ``w + rho * g / (||g|| + 1e-12)`` instead and restores ``w``
    exactly; then it optionally clips that gradient to total norm ``clip``
    (mmengine's ``clip_grad`` with ``max_norm=clip``: factor ``clip /
    (norm + 1e-6)`` when below 1) and steps from ``w`` with SGD.

    Args:
        model (nn.Module): The model at its initial weights (not changed).
        batches (Sequence[tuple[Tensor, Tensor]]): ``(inputs, labels)``
            per step, already preprocessed.
        rho (float): Perturbation radius.
        lr, momentum, weight_decay (float): SGD's.
        forward (Callable, optional): ``(model, inputs) -> logits``.
            Defaults to ``model(inputs)``.
        sam (Callable, optional): ``(t, ||g||^2) -> bool``: whether step
            ``t`` is a SAM step. Defaults to every step.
        clip (float, optional): Gradient-norm clip. Defaults to None.
        restart_at (int, optional): Step before which a fresh SGD (no
            momentum) replaces the old one. Defaults to None.

    Returns:
        tuple[list[list[Tensor]], list[bool]]: The weights after every step
        (in ``model.parameters()`` order) and whether each step was a SAM
        step.
    """
    import copy

    from torch.nn import functional as F

    net = copy.deepcopy(model)
    params = list(net.parameters())
    forward = forward or (lambda module, x: module(x))

    def fresh() -> torch.optim.Optimizer:
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def grad(x: Tensor, y: Tensor) -> List[Tensor]:
        loss = F.cross_entropy(forward(net, x), y)
        return list(torch.autograd.grad(loss, params))

    opt = fresh()
    history: List[List[Tensor]] = []
    decisions: List[bool] = []
    for t, (x, y) in enumerate(batches):
        if t == restart_at:
            opt = fresh()
        g = grad(x, y)
        sq = sum((gi * gi).sum() for gi in g)
        take = True if sam is None else bool(sam(t, float(sq)))
        if take:
            norm = torch.sqrt(sq)
            e = [rho * gi / (norm + 1e-12) for gi in g]
            w = [p.detach().clone() for p in params]
            with torch.no_grad():
                for p, ei in zip(params, e):
                    p.add_(ei)
            g = grad(x, y)
            with torch.no_grad():
                for p, wi in zip(params, w):
                    p.copy_(wi)
        if clip is not None:
            total = torch.sqrt(sum((gi * gi).sum() for gi in g))
            factor = min(1.0, clip / (float(total) + 1e-6))
            g = [gi * factor for gi in g]
        for p, gi in zip(params, g):
            p.grad = gi
        opt.step()
        history.append([p.detach().clone() for p in params])
        decisions.append(take)
    return history, decisions
