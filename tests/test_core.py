"""The torch-only core against the literal reference and exact limits."""
import copy
import math

import pytest
import torch
from torch import nn

from arsam_mm.core import (ARSAMSchedule, PeriodicSchedule, PSFReuse,
                           SharpnessAware, StepPlan)
from arsam_mm.core import kernels as K
from tests._reference import (ReferenceARSAM, ReferenceSchedule,
                              reference_sam_loop)

SHAPES = [(3, 4), (5, ), (2, 3, 2), (7, ), (4, 4), (1, ), (6, ), (3, 3),
          (2, ), (5, 2), (3, )]
DT = torch.float64


def oracle(ws, step, shapes=SHAPES):
    """Deterministic nonlinear 'gradient' of step ``step`` at ``ws``."""
    gen = torch.Generator().manual_seed(1000 + step)
    out = []
    for w, shape in zip(ws, shapes):
        c = torch.rand(shape, generator=gen, dtype=DT) + 0.5
        b = torch.randn(shape, generator=gen, dtype=DT)
        out.append(c * torch.tanh(3 * w) + 0.3 * w**3 + 0.1 * b)
    return out


def make_params(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [
        nn.Parameter(torch.randn(s, generator=gen, dtype=DT)) for s in SHAPES
    ]


def make_optimizer(params, lr=0.05, momentum=0.9, weight_decay=1e-3):
    # Two groups with different learning rates.
    return torch.optim.SGD([{
        'params': params[:5]
    }, {
        'params': params[5:],
        'lr': lr * 0.5
    }],
                           lr=lr,
                           momentum=momentum,
                           weight_decay=weight_decay)


def lrs_of(optimizer):
    return [g['lr'] for g in optimizer.param_groups for _ in g['params']]


def closure_for(params, step, shapes=SHAPES):

    def closure():
        gs = oracle([p.detach() for p in params], step, shapes)
        for p, g in zip(params, gs):
            if p.grad is None:
                p.grad = g.clone()
            else:
                p.grad.add_(g)

    return closure


SCHED_KW = dict(
    warmup_iters=5,
    window=8,
    num_blocks=3,
    max_sam_ratio=0.75,
    alpha=(0.5, 0.5),
    beta=0.7,
    max_reuse_steps=3)
REUSE_KEYS = ('beta', 'max_reuse_steps')


def split_kw(kw):
    """ARSAM's arguments: (schedule's, PSFReuse's)."""
    reuse = {k: v for k, v in kw.items() if k in REUSE_KEYS}
    sched = {k: v for k, v in kw.items() if k not in REUSE_KEYS}
    return sched, reuse


def arsam_parts(**kw):
    sched_kw, reuse_kw = split_kw(kw)
    return ARSAMSchedule(**sched_kw), PSFReuse(**reuse_kw)


def make_arsam(params, foreach, stat_tensors=4, seed=7, rho=0.05, **kw):
    opt = make_optimizer(params)
    sched, reuse = arsam_parts(
        stat_tensors=stat_tensors, seed=seed, **dict(SCHED_KW, **kw))
    return SharpnessAware(
        opt, rho=rho, schedule=sched, correction=reuse, foreach=foreach)


def make_reference(params, optimizer, stat_tensors=4, seed=7, rho=0.05,
                   **kw):
    sched_kw = dict(SCHED_KW, **kw)
    sched = ReferenceSchedule(seed=seed, **sched_kw)
    return ReferenceARSAM(
        params,
        lrs_of(optimizer),
        momentum=0.9,
        weight_decay=1e-3,
        rho=rho,
        schedule=sched,
        stat_tensors=stat_tensors)


def schedule_state(s):
    return (s.iter, s.n, s.taken, list(s.a_hist), list(s.r_hist),
            list(s.s_hist))


def test_single_foreach_reference_agree_for_100_steps():
    runs = {}
    for foreach in (False, True):
        params = make_params()
        sa = make_arsam(params, foreach)
        runs[foreach] = (params, sa)
    ref = make_reference(make_params(), runs[False][1].optimizer)
    sam_steps = 0
    for step in range(100):
        for params, sa in runs.values():
            sa.step(closure_for(params, step))
        ref.step(lambda ws, s=step: oracle(ws, s))
        (p_a, sa_a), (p_b, sa_b) = runs[False], runs[True]
        assert sa_a.plan == sa_b.plan
        sam_steps += sa_a.plan.sam
        for a, b, r in zip(p_a, p_b, ref.w):
            assert torch.equal(a, b), 'single-tensor and foreach differ'
            torch.testing.assert_close(a.detach(), r, rtol=1e-10, atol=1e-12)
        sa_a.schedule._flush()
        sa_b.schedule._flush()
        assert schedule_state(sa_a.schedule) == schedule_state(sa_b.schedule)
        rs = ref.schedule
        assert sa_a.schedule.taken == rs.taken
        assert sa_a.schedule.n == pytest.approx(rs.n, rel=1e-9)
        assert list(sa_a.schedule.a_hist) == pytest.approx(
            rs.a_values[-8:], rel=1e-9)
        assert list(sa_a.schedule.s_hist) == pytest.approx(
            rs.s_values[-8:], rel=1e-9, abs=1e-15)
    # The run must have exercised both kinds of step and moved n.
    assert 5 < sam_steps < 100
    assert runs[False][1].schedule.n != 1.0


class TinyNet(nn.Module):

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def batches(n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 4, generator=gen, dtype=DT),
             torch.randint(0, 3, (16, ), generator=gen)) for _ in range(n)]


def train_driver(model, data, sa, steps):
    for x, y in data[:steps]:
        sa.step(lambda x=x, y=y: nn.functional.cross_entropy(
            model(x), y).backward())
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize('kind', ['periodic', 'arsam_all_sam'])
def test_all_sam_schedule_is_sam(kind):
    torch.manual_seed(0)
    model = TinyNet().double()
    data = batches(20)
    expected = reference_sam_loop(model, data[:20], rho=0.05, lr=0.1,
                                  momentum=0.9)[0][-1]
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    if kind == 'periodic':
        sched = PeriodicSchedule(1)
    else:
        sched = ARSAMSchedule(warmup_iters=20, seed=0)
    sa = SharpnessAware(opt, rho=0.05, schedule=sched)
    got = train_driver(model, data, sa, 20)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    assert sa.sam_steps == 20 and sa.grad_evals == 40


def test_rho_zero_is_base_optimizer():
    torch.manual_seed(0)
    model = TinyNet().double()
    base = copy.deepcopy(model)
    data = batches(15)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sa = SharpnessAware(
        opt,
        rho=0.0,
        schedule=ARSAMSchedule(warmup_iters=3, window=4, seed=1))
    got = train_driver(model, data, sa, 15)
    base_opt = torch.optim.SGD(base.parameters(), lr=0.1, momentum=0.9)
    for x, y in data:
        base_opt.zero_grad()
        nn.functional.cross_entropy(base(x), y).backward()
        base_opt.step()
    for a, b in zip(got, base.parameters()):
        assert torch.equal(a, b.detach())


@pytest.mark.parametrize('kw', [dict(beta=0.0), dict(max_reuse_steps=0)])
def test_no_reuse_makes_reuse_steps_plain(kw):
    """Each reuse step equals a base step from the same state."""
    params = make_params()
    sa = make_arsam(params, foreach=False, **kw)
    reuse = 0
    for step in range(40):
        before_w = [p.detach().clone() for p in params]
        before_opt = copy.deepcopy(sa.optimizer.state_dict())
        sa.step(closure_for(params, step))
        if sa.plan.sam:
            continue
        reuse += 1
        assert sa.plan.mix_weight == 0
        twin = [nn.Parameter(w.clone()) for w in before_w]
        twin_opt = make_optimizer(twin)
        twin_opt.load_state_dict(before_opt)
        closure_for(twin, step)()
        twin_opt.step()
        for a, b in zip(params, twin):
            assert torch.equal(a, b)
    assert reuse > 10


def test_reuse_step_adds_weighted_psf():
    params = make_params()
    sa = make_arsam(params, foreach=False)
    for step in range(6):  # warm-up: SAM steps, PSF stored
        sa.step(closure_for(params, step))
    plan = StepPlan(sam=False, mix_weight=0.49)
    closure_for(params, 6)()
    g = [p.grad.clone() for p in params]
    v = [sa.store.buffers[i].clone() for i in range(len(params))]
    sa.mix(plan.mix_weight)
    for p, gi, vi in zip(params, g, v):
        torch.testing.assert_close(p.grad, gi + 0.49 * vi)
    assert any(vi.abs().sum() > 0 for vi in v)


def decisions(schedule, count, reuse=None):
    """StepPlans of ``count`` steps of a schedule (and its PSFReuse)."""
    reuse = reuse or PSFReuse()
    out = []
    for _ in range(count):
        if schedule.plan():
            reuse.start()
            out.append(StepPlan(sam=True))
        else:
            out.append(StepPlan(sam=False, mix_weight=reuse.weight()))
    return out


def test_warmup_is_all_sam_and_windows_hold_floor_n():
    sched = ARSAMSchedule(warmup_iters=12, window=10, seed=3)
    plans = decisions(sched, 12)
    assert all(p.sam for p in plans)
    gen = torch.Generator().manual_seed(0)
    for w in range(30):
        plans = []
        for i in range(10):
            plans.append(StepPlan(sam=sched.plan()))
            if i == 0:  # n is updated when the window opens
                count = math.floor(sched.n)
            if plans[-1].sam:
                a = torch.rand((), generator=gen, dtype=DT) * (1 + w)
                sched.record(a, torch.tensor(1.0, dtype=DT))
        assert sum(p.sam for p in plans) == count
    assert 1 <= sched.n <= 8
    assert sched.n > 1  # the growing PSF raised the count


def feed(sched, windows, ratio_fn):
    """Run windows, recording a PSF norm given by ratio_fn(k) per SAM step."""
    k = 0
    for _ in range(windows * sched.window):
        if sched.plan():
            sched.record(torch.tensor(ratio_fn(k)), torch.tensor(1.0))
            k += 1
    sched._flush()


def test_count_rises_with_ratio_and_falls_when_it_falls():
    sched = ARSAMSchedule(warmup_iters=4, window=10, seed=0, num_blocks=2)
    feed(sched, 12, lambda k: 1.0 + 0.3 * k)
    high = sched.n
    assert high > 2
    assert high <= math.floor(10 * 0.8)
    feed(sched, 12, lambda k: max(1e-3, 0.5**k))
    assert sched.n < high
    flat = ARSAMSchedule(warmup_iters=4, window=10, seed=0)
    feed(flat, 6, lambda k: 1.0)
    assert flat.n == 1.0


def test_count_clipped_to_bounds():
    sched = ARSAMSchedule(
        warmup_iters=2, window=5, max_sam_ratio=0.6, alpha=(5.0, 5.0))
    feed(sched, 20, lambda k: 2.0**k)
    assert sched.n == math.floor(5 * 0.6)
    feed(sched, 20, lambda k: 2.0**-k)
    assert sched.n == 1.0


def test_mixing_weights_decay_then_stop():
    sched, reuse = arsam_parts(
        warmup_iters=1, window=40, beta=0.6, max_reuse_steps=4, seed=5)
    plans = decisions(sched, 30, reuse)
    assert plans[0].sam
    # n = 1: one SAM step somewhere in the first window.
    for start in [0] + [i for i, p in enumerate(plans) if p.sam]:
        weights = [p.mix_weight for p in plans[start + 1:start + 8]
                   if not p.sam]
        expected = [0.6**k for k in range(1, 5)] + [0.0] * 3
        if len(weights) == 7:
            assert weights == pytest.approx(expected)
    assert [p.mix_weight for p in plans[1:6]] == pytest.approx(
        [0.6, 0.36, 0.216, 0.1296, 0.0])


def _run_schedule(parts, start, count):
    sched, reuse = parts
    out = []
    for i in range(start, start + count):
        plan = decisions(sched, 1, reuse)[0]
        out.append(plan)
        if plan.sam:
            sched.record(
                torch.tensor(1.0 + 0.1 * i + 0.01 * i * i), torch.tensor(2.0))
    return out


@pytest.mark.parametrize('where', ['mid_reuse', 'after_sam', 'boundary'])
def test_state_dict_resumes_exactly(where):
    kw = dict(warmup_iters=4, window=10, beta=0.7, max_reuse_steps=6, seed=9)
    expected = _run_schedule(arsam_parts(**kw), 0, 300)
    candidates = []
    for stop in range(5, 100):
        pos = (stop - 4) % 10
        last = expected[stop - 1]
        if where == 'mid_reuse':
            ok = pos != 0 and not last.sam and last.mix_weight > 0
        elif where == 'after_sam':
            ok = pos != 0 and last.sam
        else:
            ok = pos == 0
        if ok:
            candidates.append(stop)
    assert candidates
    stop = candidates[len(candidates) // 2]
    first = arsam_parts(**kw)
    _run_schedule(first, 0, stop)
    state = copy.deepcopy([part.state_dict() for part in first])
    resumed = arsam_parts(**dict(kw, seed=123))
    for part, part_state in zip(resumed, state):
        part.load_state_dict(part_state)
    assert _run_schedule(resumed, stop, 200) == expected[stop:stop + 200]


@pytest.mark.parametrize('kwargs, exc, match', [
    (dict(warmup_iters=-1), ValueError, 'warmup_iters'),
    (dict(warmup_iters=1.5), TypeError, 'warmup_iters'),
    (dict(window=0), ValueError, 'window'),
    (dict(num_blocks=0), ValueError, 'num_blocks'),
    (dict(max_sam_ratio=0.0), ValueError, 'max_sam_ratio'),
    (dict(max_sam_ratio=1.5), ValueError, 'max_sam_ratio'),
    (dict(max_sam_ratio='a'), TypeError, 'max_sam_ratio'),
    (dict(alpha=0.1), TypeError, 'alpha'),
    (dict(alpha=(0.1, )), TypeError, 'alpha'),
    (dict(alpha=(0.1, float('nan'))), ValueError, r'alpha\[1\]'),
    (dict(beta=1.0), ValueError, 'beta'),
    (dict(beta=-0.1), ValueError, 'beta'),
    (dict(max_reuse_steps=-1), ValueError, 'max_reuse_steps'),
    (dict(stat_tensors=0), ValueError, 'stat_tensors'),
    (dict(seed=-3), ValueError, 'seed'),
])
def test_schedule_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        arsam_parts(**kwargs)


def test_driver_rejects_bad_arguments():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.1)
    with pytest.raises(ValueError, match=r'rho.*-0\.1'):
        SharpnessAware(opt, rho=-0.1)
    with pytest.raises(TypeError, match='rho'):
        SharpnessAware(opt, rho='big')
    with pytest.raises(TypeError, match='optimizer'):
        SharpnessAware(object())
    with pytest.raises(TypeError, match='schedule'):
        SharpnessAware(opt, schedule='arsam')
    with pytest.raises(ValueError, match='adaptive'):
        SharpnessAware(opt, adaptive=True, correction=PSFReuse())
    with pytest.raises(ValueError, match='interval'):
        PeriodicSchedule(0)


def test_rho_lands_in_param_groups_and_defaults():
    p = nn.Parameter(torch.zeros(2))
    q = nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{'params': [p]}, {'params': [q], 'rho': 0.2}],
                          lr=0.1)
    SharpnessAware(opt, rho=0.05)
    assert opt.defaults['rho'] == 0.05
    assert [g['rho'] for g in opt.param_groups] == [0.05, 0.2]


def test_edge_cases_no_grad_frozen_empty_group():
    torch.manual_seed(0)
    used = nn.Parameter(torch.randn(3, dtype=DT))
    unused = nn.Parameter(torch.randn(3, dtype=DT))
    frozen = nn.Parameter(torch.randn(3, dtype=DT), requires_grad=False)
    opt = torch.optim.SGD([{
        'params': [used, unused, frozen]
    }, {
        'params': []
    }],
                          lr=0.1)
    sa = SharpnessAware(
        opt, rho=0.1, schedule=ARSAMSchedule(warmup_iters=2, seed=0))
    before = (unused.detach().clone(), frozen.detach().clone())
    for _ in range(6):
        sa.step(lambda: (used**2).sum().backward())
    assert torch.equal(unused, before[0]) and torch.equal(frozen, before[1])
    assert unused.grad is None and frozen.grad is None
    assert set(sa.store.buffers) == {0}
    assert torch.isfinite(used).all()


def test_zero_gradient_gives_no_nan():
    p = nn.Parameter(torch.ones(4))
    opt = torch.optim.SGD([p], lr=0.1)
    sa = SharpnessAware(opt, schedule=ARSAMSchedule(warmup_iters=3, seed=0),
                        correction=PSFReuse())
    for _ in range(5):
        sa.step(lambda: (p * 0).sum().backward())
    assert torch.equal(p.detach(), torch.ones(4))
    assert torch.equal(sa.store.buffers[0], torch.zeros(4))


def test_non_finite_gradient_skips_perturbation_and_flags():
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=0.1)
    sa = SharpnessAware(opt, schedule=ARSAMSchedule(warmup_iters=3, seed=0),
                        correction=PSFReuse())
    sa.begin()
    p.grad = torch.tensor([1.0, float('inf'), 2.0])
    finite = sa.perturb()
    assert finite.dtype == torch.bool and not bool(finite)
    seen = p.detach().clone()
    p.grad.add_(torch.tensor([float('nan'), 1.0, 1.0]))  # pass 2
    sa.restore()
    assert torch.equal(p.detach(), torch.ones(3))
    assert torch.equal(sa.store.buffers[0], torch.zeros(3))
    assert float(sa.store_norm) == 0.0
    # The finite coordinates were not moved either.
    assert seen[0] == 1.0 and seen[2] == 1.0
    # A finite step afterwards perturbs again.
    sa.begin()
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    assert bool(sa.perturb())
    torch.testing.assert_close(
        p.detach(), torch.ones(3) + 0.05 * torch.tensor([0.6, 0.8, 0.0]))
    p.grad.add_(torch.ones(3))
    sa.restore()
    torch.testing.assert_close(p.detach(), torch.ones(3))


class Watching(PeriodicSchedule):
    """A periodic schedule that notes the stages it observes."""

    def __init__(self, interval):
        super().__init__(interval)
        self.seen = []

    def observe(self, step):
        self.seen.append((self.iter, step.stage))


@pytest.mark.parametrize('adaptive', [False, True])
def test_a_schedule_observes_each_sam_step(adaptive):
    """The driver hands every SAM step to the schedule's observe hook
    (after pass 1, after pass 2, at the end), nothing else."""
    p = nn.Parameter(torch.ones(3, dtype=DT))
    sched = Watching(interval=2)
    sa = SharpnessAware(torch.optim.SGD([p], lr=0.1), adaptive=adaptive,
                        schedule=sched)
    for _ in range(4):
        sa.step(lambda: (p**2).sum().backward())
    stages = ['pass1'] if adaptive else ['pass1', 'pass2', 'end']
    assert sched.seen == [(i, s) for i in (1, 3) for s in stages]


def test_a_sam_step_the_plan_did_not_ask_for_is_observed():
    """perturb and restore on a step planned as a one-pass step (a plain
    loop may call them) still show the schedule all three stages."""
    p = nn.Parameter(torch.ones(3, dtype=DT))
    sched = Watching(interval=2)
    sa = SharpnessAware(torch.optim.SGD([p], lr=0.1), schedule=sched)
    sa.step(lambda: (p**2).sum().backward())
    assert not sa.begin().sam
    p.grad = torch.ones(3, dtype=DT)
    sa.perturb()
    p.grad = torch.ones(3, dtype=DT)
    assert bool(sa.restore())
    assert sched.seen == [(1, 'pass1'), (1, 'pass2'), (1, 'end'),
                          (2, 'pass1'), (2, 'pass2'), (2, 'end')]


@pytest.mark.parametrize('parts', ['gsam', 'looksam'])
def test_failed_pass_two_falls_back_to_g_exactly(parts):
    """A non-finite pass 2 (no loss scaler) leaves ``g`` itself in the
    grads, whatever the direction (GSAM's is applied before the fallback),
    and a kept vector of zeros."""
    from arsam_mm.core import GSAMDirection, LookSAMReuse
    p = nn.Parameter(torch.ones(3, dtype=DT))
    kw = dict(direction=GSAMDirection(alpha=0.3)) if parts == 'gsam' else \
        dict(correction=LookSAMReuse())
    sa = SharpnessAware(torch.optim.SGD([p], lr=0.1), **kw)
    g = torch.tensor([0.5, -2.0, 1.0], dtype=DT)
    sa.begin()
    p.grad = g.clone()
    sa.perturb()
    p.grad = torch.tensor([1.0, float('nan'), 2.0], dtype=DT)
    assert not bool(sa.restore())
    assert torch.equal(p.grad, g)
    if sa.stores:
        assert torch.equal(sa.store.buffers[0], torch.zeros(3, dtype=DT))
        assert float(sa.store_norm) == 0.0


def test_stat_tensors_are_the_last_in_optimizer_order():
    """Pins the order: groups in order, params in order, with a grad."""
    a, b, c = (nn.Parameter(torch.zeros(1)) for _ in range(3))
    opt = torch.optim.SGD([{'params': [a, b]}, {'params': [c]}], lr=0.1)
    sched = ARSAMSchedule(warmup_iters=2, stat_tensors=2, seed=0)
    sa = SharpnessAware(opt, rho=1.0, schedule=sched)
    grads = {a: 100.0, b: 3.0, c: 4.0}

    def closure():
        for p, g in grads.items():
            p.grad = torch.full((1, ), g) if p.grad is None else \
                p.grad + g
    sa.step(closure)
    sched._flush()
    # ||g||_N over (b, c) = 5; v = 0 because the loss is linear.
    assert sched.r_hist[-1] == 0.0
    assert sched._grad_norm.item() == pytest.approx(5.0)


def test_restore_is_exact_inverse_of_perturb_with_reuse():
    torch.manual_seed(0)
    ps = [nn.Parameter(torch.randn(50)) for _ in range(3)]
    opt = torch.optim.SGD(ps, lr=0.1)
    for foreach in (False, True):
        sa = SharpnessAware(
            opt,
            rho=0.3,
            schedule=ARSAMSchedule(warmup_iters=1, seed=0),
            foreach=foreach)
        before = [p.detach().clone() for p in ps]
        sa.begin()
        for p in ps:
            p.grad = torch.randn(50)
        sa.perturb()
        perturbed = [p.detach().clone() for p in ps]
        sa.restore()
        for b, x, p in zip(before, perturbed, ps):
            assert not torch.equal(b, x)
            torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-6)


@pytest.mark.parametrize('fn', ['global_norm', 'mix_', 'psf_'])
def test_kernels_single_equals_foreach(fn):
    torch.manual_seed(0)
    xs = [torch.randn(s) for s in [(3, ), (4, 5), (2, )]]
    ys = [torch.randn_like(x) for x in xs]
    out = []
    for foreach in (False, True):
        a = [x.clone() for x in xs]
        b = [y.clone() for y in ys]
        if fn == 'global_norm':
            out.append([K.global_norm(a, foreach=foreach)])
        elif fn == 'mix_':
            K.mix_(a, b, 0.3, foreach=foreach)
            out.append(a)
        else:
            K.psf_(a, b, foreach=foreach)
            out.append(a)
    for u, v in zip(*out):
        assert torch.equal(u, v)
    if fn == 'global_norm':
        expected = torch.sqrt(sum((x * x).sum() for x in xs))
        torch.testing.assert_close(out[0][0], expected)


def _simulate_older_torch(monkeypatch, missing):
    """Take the named foreach overloads away from this torch, as an older
    release lacks them, and tell the kernels (as their probe would)."""
    norm, mul, mul_ = (torch._foreach_norm, torch._foreach_mul,
                       torch._foreach_mul_)

    def no_dtype_norm(tensors, ord=2, **kwargs):
        if 'dtype' in kwargs:
            raise TypeError("_foreach_norm() got an unexpected keyword "
                            "argument 'dtype'")
        return norm(tensors, ord)

    def list_only(op):
        def call(tensors, other, **kwargs):
            if isinstance(other, torch.Tensor):
                raise TypeError('no 0-d tensor overload')
            return op(tensors, other, **kwargs)
        return call

    for key in missing:
        monkeypatch.setitem(K.FOREACH_SUPPORT, key, False)
        if key == 'norm_dtype':
            monkeypatch.setattr(torch, '_foreach_norm', no_dtype_norm)
        elif key == 'copy':
            monkeypatch.delattr(torch, '_foreach_copy_')
        else:
            monkeypatch.setattr(torch, '_foreach_mul', list_only(mul))
            monkeypatch.setattr(torch, '_foreach_mul_', list_only(mul_))


def _kernel_calls(xs, ys, foreach):
    """Every list kernel once, on copies; returns what each produced."""
    out = {}
    a = [x.clone() for x in xs]
    out['global_norm'] = [K.global_norm(a, foreach=foreach)]
    out['global_norm_weighted'] = [
        K.global_norm(a, weights=ys, foreach=foreach)]
    for name, call in [
            ('perturb_', lambda a, b: K.perturb_(
                a, b, torch.tensor(0.3), foreach=foreach)),
            ('restore_', lambda a, b: K.restore_(
                a, b, torch.tensor(0.3), foreach=foreach)),
            ('psf_', lambda a, b: K.psf_(a, b, foreach=foreach)),
            ('mix_', lambda a, b: K.mix_(a, b, 0.3, foreach=foreach)),
            ('mix_tensor', lambda a, b: K.mix_(
                a, b, torch.tensor(0.3), foreach=foreach)),
            ('scale_', lambda a, b: K.scale_(
                a, torch.tensor(0.7), foreach=foreach)),
            ('copy_', lambda a, b: K.copy_(a, b, foreach=foreach)),
            ('zero_', lambda a, b: K.zero_(a, foreach=foreach)),
            ('add_', lambda a, b: K.add_(a, b, foreach=foreach)),
            ('combine_', lambda a, b: K.combine_(
                a, b, torch.tensor(0.5), torch.tensor(0.25),
                foreach=foreach)),
    ]:
        a = [x.clone() for x in xs]
        b = [y.clone() for y in ys]
        call(a, b)
        out[name] = a + b
    return out


@pytest.mark.parametrize('missing', [
    (), ('norm_dtype', ), ('copy', ), ('mul_tensor', ),
    ('norm_dtype', 'copy', 'mul_tensor')
])
def test_foreach_fallbacks_of_older_torch_give_the_same_bits(
        monkeypatch, missing):
    """torch < 2.4 has no ``_foreach_norm(dtype=)``, torch 2.0 no
    ``_foreach_copy_`` nor a 0-d tensor factor for ``_foreach_mul_``: with
    each overload switched off, the foreach path (what CUDA selects) still
    runs and equals the single-tensor loop bit for bit, in mixed precision
    too (half tensors take float32 norms)."""
    _simulate_older_torch(monkeypatch, missing)
    torch.manual_seed(0)
    dtypes = [torch.float32, torch.float16, torch.bfloat16, torch.float32]
    xs = [torch.randn(s).to(d) for s, d in zip(
        [(3, ), (4, 5), (7, ), (2, 2)], dtypes)]
    ys = [torch.randn_like(x) for x in xs]
    loop = _kernel_calls(xs, ys, foreach=False)
    fused = _kernel_calls(xs, ys, foreach=True)
    assert loop.keys() == fused.keys()
    for name in loop:
        for u, v in zip(loop[name], fused[name]):
            assert u.dtype == v.dtype, name
            assert torch.equal(u, v), name
    assert loop['global_norm'][0].dtype == torch.float32
    expected = torch.sqrt(sum((x.float()**2).sum() for x in xs))
    torch.testing.assert_close(loop['global_norm'][0], expected)


def test_driver_with_foreach_on_older_torch_equals_the_loop(monkeypatch):
    """The issue's reproduction: ``SharpnessAware(..., foreach=True)`` on a
    torch without the newer overloads trains exactly like the loop."""
    _simulate_older_torch(monkeypatch, tuple(K.FOREACH_SUPPORT))
    runs = {}
    for foreach in (False, True):
        params = make_params()
        sa = make_arsam(params, foreach)
        for step in range(30):
            sa.step(closure_for(params, step))
        runs[foreach] = params
    for a, b in zip(runs[False], runs[True]):
        assert torch.equal(a, b)


def test_foreach_override_variable_is_validated(monkeypatch):
    from arsam_mm.core import foreach as F
    monkeypatch.setenv('ARSAM_MM_FOREACH', 'yes')
    with pytest.raises(ValueError, match="ARSAM_MM_FOREACH.*'yes'"):
        F._forced_foreach()
    monkeypatch.setenv('ARSAM_MM_FOREACH', '1')
    assert F._forced_foreach() is True
    monkeypatch.setattr(F, '_FORCED_FOREACH', True)
    assert K.default_foreach([torch.zeros(1)])
    monkeypatch.setattr(F, '_FORCED_FOREACH', False)
    assert not K.default_foreach([torch.zeros(1)])
    monkeypatch.setattr(F, '_FORCED_FOREACH', None)
    assert not K.default_foreach([torch.zeros(1)])


def test_driver_state_dict_round_trip_continues_exactly():
    params = make_params()
    sa = make_arsam(params, foreach=False)
    for step in range(23):
        sa.step(closure_for(params, step))
    state = copy.deepcopy(sa.state_dict())
    opt_state = copy.deepcopy(sa.optimizer.state_dict())
    weights = [p.detach().clone() for p in params]
    for step in range(23, 60):
        sa.step(closure_for(params, step))
    expected = [p.detach().clone() for p in params]

    params2 = [nn.Parameter(w) for w in weights]
    sa2 = make_arsam(params2, foreach=True, seed=99)
    sa2.optimizer.load_state_dict(opt_state)
    sa2.load_state_dict(state)
    for step in range(23, 60):
        sa2.step(closure_for(params2, step))
    for a, b in zip(expected, params2):
        assert torch.equal(a, b.detach())
