"""The efficient-SAM family beside ARSAM.

* LookSAM, randomized SAM and GSAM, driven through an unmodified mmengine
  ``BaseModel.train_step`` in float64, equal their literal references
  (:mod:`tests._reference`), one-pass steps included.
* Limits: LookSAM with ``interval=1`` (or ``alpha=0``), GSAM with
  ``alpha=0`` and randomized SAM with ``prob`` 1 or 0 are SAM, periodic SAM
  or the base optimizer, bit for bit.
* ARSAM's ``target_ratio``: the run's share of SAM steps meets the target,
  the count still follows ``n``, an impossible target is refused before
  training.
* ARSAM, AE-SAM and late-phase SAM turn a target into the same count of SAM
  steps (rounded half up).
* Resume through a Runner is exact for every member.
* Bad arguments are refused naming them; the AMP twins are registered.
"""
import copy
import math

import pytest
import torch
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

import arsam_mm  # noqa: F401  (registers the wrappers)
from arsam_mm.core import ARSAMSchedule
from arsam_mm.engine.optim_wrappers import (AMP_TWINS, ARSAMOptimWrapper,
                                            GSAMOptimWrapper,
                                            LateSAMOptimWrapper,
                                            LookSAMOptimWrapper,
                                            RandomSAMOptimWrapper,
                                            SAMOptimWrapper)
from tests._reference import (ReferenceGSAM, ReferenceLookSAM,
                              ReferenceRandomSAM)
from tests._runner import (assert_bit_identical, load_ckpt, make_runner,
                           recorded_run, toy)
from tests._runner import weights as state_weights
from tests._toy import ToyModel, make_batches

SGD = dict(type='SGD', lr=0.1, momentum=0.9)
SGD_WD = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-3)
GROUPS = dict(bias_lr_mult=2.0, bias_decay_mult=0.0)


def build(model, **cfg):
    cfg.setdefault('optimizer', dict(SGD))
    return build_optim_wrapper(model, cfg)


def double_batches(n, seed=0):
    return [{k: v.double() if v.is_floating_point() else v
             for k, v in b.items()} for b in make_batches(n, seed=seed)]


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


# --------------------------------------------------------------------------
# 1. every member equals its literal reference (float64, train_step)
# --------------------------------------------------------------------------


def drive(cfg, iters, noise=0.1, seed=0):
    """Train a float64 ToyModel through ``model.train_step``.

    Returns the model, its initial copy, the wrapper, the (augmented) inputs
    of each iteration's first forward and whether it ran two.
    """
    torch.manual_seed(seed)
    model = ToyModel(noise=noise).double()
    start = copy.deepcopy(model)
    wrapper = build(model, **copy.deepcopy(cfg))
    model.record = True
    firsts, sams = [], []
    for data in double_batches(iters):
        before = len(model.seen)
        model.train_step(data, wrapper)
        forwards = model.seen[before:]
        assert len(forwards) in (1, 2)
        if len(forwards) == 2:  # pass 2 saw pass 1's augmented batch
            assert torch.equal(forwards[0], forwards[1])
        firsts.append(forwards[0])
        sams.append(len(forwards) == 2)
    return model, start, wrapper, firsts, sams


def grads_at(start):
    """``fn(x, y)(weights)``: the loss gradient of ``start``'s architecture
    at ``weights`` on one batch (torch.autograd.grad on a private copy)."""
    fmodel = copy.deepcopy(start)
    params = list(fmodel.parameters())

    def on(x, y):

        def fn(ws):
            with torch.no_grad():
                for p, w in zip(params, ws):
                    p.copy_(w)
            loss = nn.functional.cross_entropy(fmodel.logits(x), y)
            return [g.detach() for g in torch.autograd.grad(loss, params)]

        return fn

    return on


def per_param(wrapper, model, key):
    by_id = {
        id(p): group[key]
        for group in wrapper.optimizer.param_groups for p in group['params']
    }
    return [by_id[id(p)] for p in model.parameters()]


CASES = {
    'looksam': (dict(type='LookSAMOptimWrapper', rho=0.05, interval=5,
                     alpha=0.7), ReferenceLookSAM,
                dict(interval=5, alpha=0.7), 30),
    'looksam_wd_groups': (dict(type='LookSAMOptimWrapper', rho=0.1,
                               interval=3, alpha=0.1, optimizer=SGD_WD,
                               paramwise_cfg=GROUPS), ReferenceLookSAM,
                          dict(interval=3, alpha=0.1), 24),
    'randomsam': (dict(type='RandomSAMOptimWrapper', rho=0.05, prob=0.4,
                       seed=11), ReferenceRandomSAM,
                  dict(prob=0.4, seed=11), 30),
    'randomsam_wd': (dict(type='RandomSAMOptimWrapper', rho=0.1, prob=0.7,
                          seed=3, optimizer=SGD_WD), ReferenceRandomSAM,
                     dict(prob=0.7, seed=3), 24),
    'gsam': (dict(type='GSAMOptimWrapper', rho=0.05, alpha=0.4),
             ReferenceGSAM, dict(alpha=0.4), 20),
    'gsam_periodic_wd_groups': (dict(type='GSAMOptimWrapper', rho=0.1,
                                     alpha=0.2, interval=3,
                                     optimizer=SGD_WD, paramwise_cfg=GROUPS),
                                ReferenceGSAM, dict(alpha=0.2, interval=3),
                                21),
}


@pytest.mark.parametrize('name', list(CASES))
def test_member_equals_literal_reference(name):
    cfg, ref_cls, ref_kw, iters = CASES[name]
    model, start, wrapper, firsts, sams = drive(cfg, iters)
    ref = ref_cls(
        list(start.parameters()),
        per_param(wrapper, model, 'lr'),
        momentum=0.9,
        weight_decay=per_param(wrapper, model, 'weight_decay'),
        rho=cfg['rho'],
        **ref_kw)
    on = grads_at(start)
    labels = [b['labels'] for b in double_batches(iters)]
    ref_sams = [ref.step(on(x, y)) for x, y in zip(firsts, labels)]
    # The same decisions (two forwards exactly on the reference's SAM
    # steps), and the run covered both kinds of step unless SAM throughout.
    assert sams == ref_sams
    assert wrapper.sharpness.sam_steps == sum(sams)
    if ref_kw.get('interval', 1) != 1:
        assert 0 < sum(sams) < iters
    for got, exp in zip(model.parameters(), ref.w):
        torch.testing.assert_close(got.detach(), exp, rtol=1e-9, atol=1e-9)
    assert not torch.equal(model.fc1.weight, start.fc1.weight)


def test_looksam_one_pass_step_adds_the_rescaled_gv():
    """After one SAM step, a one-pass step's gradient is exactly
    ``g + alpha * ||g|| / ||g_v|| * g_v`` (read back from the optimizer)."""
    torch.manual_seed(0)
    model = ToyModel(noise=0.0).double()
    wrapper = build(model, type='LookSAMOptimWrapper', interval=3, alpha=0.5,
                    optimizer=dict(type='SGD', lr=0.1))
    b0, b1 = double_batches(2)
    twin = copy.deepcopy(model)
    on = grads_at(twin)
    w0 = weights(model)
    g = on(b0['inputs'], b0['labels'])(w0)
    norm = torch.sqrt(sum((t * t).sum() for t in g))
    g_s = on(b0['inputs'], b0['labels'])(
        [w + 0.05 * t / norm for w, t in zip(w0, g)])
    c = sum((a * b).sum() for a, b in zip(g_s, g)) / norm**2
    g_v = [a - c * b for a, b in zip(g_s, g)]
    model.train_step(b0, wrapper)
    assert wrapper.sharpness.plan.sam
    for buf, exp in zip(wrapper.sharpness.store.buffers.values(), g_v):
        torch.testing.assert_close(buf, exp, rtol=1e-10, atol=1e-12)
    w1 = weights(model)
    g1 = on(b1['inputs'], b1['labels'])(w1)
    model.train_step(b1, wrapper)
    assert not wrapper.sharpness.plan.sam
    assert wrapper.sharpness.plan.mix_weight == 0.5
    gn = torch.sqrt(sum((t * t).sum() for t in g1))
    gvn = torch.sqrt(sum((t * t).sum() for t in g_v))
    for p, w, gi, v in zip(model.parameters(), w1, g1, g_v):
        expected = w - 0.1 * (gi + 0.5 * gn / gvn * v)
        torch.testing.assert_close(p.detach(), expected, rtol=1e-10,
                                   atol=1e-12)


# --------------------------------------------------------------------------
# 2. limiting cases, bit for bit
# --------------------------------------------------------------------------


def run_plain(cfg, iters=12):
    """float32 ToyModel with input noise, seeded alike for every cfg."""
    torch.manual_seed(0)
    model = ToyModel(noise=0.1)
    wrapper = build(model, **copy.deepcopy(cfg))
    model.record = True
    torch.manual_seed(1)
    for data in make_batches(iters):
        model.train_step(data, wrapper)
    return weights(model), len(model.seen)


@pytest.mark.parametrize('cfg, same_as', [
    (dict(type='LookSAMOptimWrapper', interval=1, alpha=0.7),
     dict(type='SAMOptimWrapper')),
    (dict(type='LookSAMOptimWrapper', interval=4, alpha=0.0),
     dict(type='SAMOptimWrapper', interval=4)),
    (dict(type='GSAMOptimWrapper', alpha=0.0), dict(type='SAMOptimWrapper')),
    (dict(type='GSAMOptimWrapper', alpha=0.0, interval=3),
     dict(type='SAMOptimWrapper', interval=3)),
    (dict(type='RandomSAMOptimWrapper', prob=1.0, seed=5),
     dict(type='SAMOptimWrapper')),
    (dict(type='RandomSAMOptimWrapper', prob=0.0, seed=5),
     dict(type='OptimWrapper')),
])
def test_limits_are_bit_identical(cfg, same_as):
    got, forwards = run_plain(cfg)
    exp, exp_forwards = run_plain(same_as)
    assert forwards == exp_forwards
    assert all(torch.equal(a, b) for a, b in zip(got, exp))


def test_limits_differ_away_from_them():
    """The limits are not vacuous: alpha > 0 and 0 < prob < 1 change the
    weights."""
    sam, _ = run_plain(dict(type='SAMOptimWrapper', interval=4))
    for cfg in (dict(type='LookSAMOptimWrapper', interval=4, alpha=0.3),
                dict(type='GSAMOptimWrapper', alpha=0.3, interval=4)):
        got, _ = run_plain(cfg)
        assert not torch.equal(got[0], sam[0])
    _, forwards = run_plain(dict(type='RandomSAMOptimWrapper', prob=0.5,
                                 seed=5))
    assert 12 < forwards < 24


# --------------------------------------------------------------------------
# 3. ARSAM's target_ratio
# --------------------------------------------------------------------------


def drive_schedule(steps, target, warmup, window, slope=3.0, seed=0, **kw):
    """ARSAMSchedule over a run, with a PSF norm that grows over the run
    (so ``n`` grows). Returns the SAM pattern and, per window after the
    warm-up, ``(n, SAM steps)`` (the last may be partial)."""
    sched = ARSAMSchedule(
        warmup_iters=warmup, window=window, target_ratio=target, seed=seed,
        **kw)
    sched.set_run_length(steps)
    pattern, ns = [], []
    one = torch.tensor(1.0, dtype=torch.float64)
    for t in range(steps):
        sam = sched.plan()
        if t >= warmup and (t - warmup) % window == 0:
            ns.append(sched.n)
        pattern.append(sam)
        if sam:
            psf = torch.tensor(1.0 + slope * t / steps, dtype=torch.float64)
            sched.record(psf, one)
    post = pattern[warmup:]
    counts = [sum(post[i:i + window]) for i in range(0, len(post), window)]
    return pattern, list(zip(ns, counts)), sched


RUNS = [(300, 6, 20), (3000, 30, 50)]


@pytest.mark.parametrize('steps, warmup, window', RUNS)
@pytest.mark.parametrize('target', [0.1, 0.2, 0.3, 0.5])
def test_target_ratio_is_met_and_count_follows_n(steps, warmup, window,
                                                 target):
    pattern, windows, sched = drive_schedule(steps, target, warmup, window)
    share = sum(pattern) / steps
    assert abs(share - target) <= 0.03
    assert sum(pattern) == round(target * steps)  # in fact exactly
    assert sched.planned == sum(pattern)
    assert all(pattern[:warmup])
    assert all(c <= sched.max_n for _, c in windows)
    # n's shape: the statistics grow, n grows, later windows hold more SAM
    # steps than earlier ones.
    full = windows[:-1] if (steps - warmup) % window else windows
    assert full[-1][0] > full[0][0]
    third = len(full) // 3
    early = sum(c for _, c in full[:third]) / third
    late = sum(c for _, c in full[-third:]) / third
    assert late > early


def test_target_ratio_count_is_flat_while_n_sits_at_its_cap():
    """Once the rule's ``n`` is pinned at ``max_n``, every window holds
    about the same number of SAM steps: the budget is not starved early
    and piled into the last windows by an extrapolation of ``n`` past the
    cap the rule itself enforces."""
    _, windows, sched = drive_schedule(3000, 0.2, 0, 20)
    full = windows[:-1] if 3000 % 20 else windows
    pinned = [c for n, c in full if n == sched.max_n]
    assert len(pinned) >= 30
    assert max(pinned) - min(pinned) <= 2
    # ... and no window after the first is left without a SAM step for
    # long while n grows towards the cap.
    assert sum(c == 0 for _, c in full[1:]) <= len(full) // 10


@pytest.mark.parametrize('window, max_sam_ratio, steps',
                         [(7, 0.5, 300), (50, 0.75, 3000)])
def test_target_ratio_bound_is_what_the_windows_can_hold(
        window, max_sam_ratio, steps):
    """The highest target accepted is what ``floor(window *
    max_sam_ratio)`` SAM steps per window can reach, and it is met."""
    cap = int(window * max_sam_ratio)
    full, part = divmod(steps, window)
    capacity = full * cap + min(part, cap)
    highest = capacity / steps
    assert highest < max_sam_ratio
    with pytest.raises(ValueError, match=f'and {highest:.3f}'):
        ARSAMSchedule(window=window, max_sam_ratio=max_sam_ratio,
                      target_ratio=max_sam_ratio).set_run_length(steps)
    target = math.floor(highest * 100 + 1e-9) / 100
    pattern, _, _ = drive_schedule(steps, target, 0, window,
                                   max_sam_ratio=max_sam_ratio)
    assert sum(pattern) == round(target * steps)


@pytest.mark.parametrize('kw, target, low, high', [
    # 60 + 4 windows of 40 + a last (partial) one of 40: 260 of 300.
    (dict(warmup_iters=60), 0.1, '0.200', '0.867'),
    # 6 + 5 windows of 25 + min(44, 25): 156 of 300.
    (dict(warmup_iters=6, max_sam_ratio=0.5), 0.7, '0.020', '0.520'),
])
def test_impossible_target_ratio_is_refused(kw, target, low, high):
    sched = ARSAMSchedule(window=50, target_ratio=target, **kw)
    with pytest.raises(ValueError) as info:
        sched.set_run_length(300)
    text = str(info.value)
    assert 'target_ratio' in text and str(target) in text
    assert f'between {low} and {high}' in text
    # Either end is accepted and met.
    for end in (float(low), float(high)):
        pattern, _, _ = drive_schedule(300, end, kw['warmup_iters'], 50,
                                       **{k: v for k, v in kw.items()
                                          if k != 'warmup_iters'})
        assert sum(pattern) == round(end * 300)


def test_impossible_target_ratio_fails_before_training(tmp_path):
    model = toy()
    model.record = True
    initial = state_weights(model)
    cfg = dict(type='ARSAMOptimWrapper', warmup_iters=3, window=5,
               target_ratio=0.1, seed=0, optimizer=SGD)
    runner = make_runner(tmp_path, model, cfg, max_iters=10,
                         ckpt_interval=1)
    with pytest.raises(ValueError, match=r'target_ratio 0\.1 .*between '
                       r'0\.300 and'):
        runner.train()
    assert model.seen == []
    assert list(tmp_path.glob('**/*.pth')) == []
    assert_bit_identical(state_weights(model), initial)


@pytest.mark.parametrize('ratio, steps, count', [
    (0.5, 5, 3), (0.5, 7, 4), (0.3, 5, 2), (0.1, 25, 3), (0.009, 1500, 14)])
def test_budgets_round_half_up_alike(ratio, steps, count):
    """ARSAM, AE-SAM and late-phase SAM plan the same count of SAM steps
    for a target, ``ratio * steps`` rounded half up (2.5 -> 3, where
    Python's round gives 2), on the ratio as written: ``0.009 * 1500`` is
    13.499999999999998 in floats and plans 14."""
    from arsam_mm.core import AESAMSchedule, LateSchedule
    from arsam_mm.core.schedules.budget import budget_steps
    assert budget_steps(ratio, steps) == count
    arsam = ARSAMSchedule(window=5, max_sam_ratio=1.0, target_ratio=ratio,
                          seed=0)
    aesam = AESAMSchedule(target_ratio=ratio)
    late = LateSchedule(target_ratio=ratio)
    planned = {}
    for name, sched in (('arsam', arsam), ('aesam', aesam), ('late', late)):
        sched.set_run_length(steps)
        sams = 0
        for t in range(steps):
            sam = sched.plan()
            if sam is None:  # AE-SAM decides from ||g||^2 after pass 1
                sam = sched.decide(1.0 + (t % 3))
            sams += bool(sam)
        planned[name] = sams
    assert planned == dict(arsam=count, aesam=count, late=count)


def test_target_ratio_through_the_wrapper_300_steps():
    torch.manual_seed(0)
    model = ToyModel(noise=0.0)
    wrapper = build(model, type='ARSAMOptimWrapper', warmup_iters=6,
                    window=20, target_ratio=0.3, seed=0)
    wrapper.initialize_count_status(model, 0, 300)  # the Runner's call
    model.record = True
    batches = make_batches(30)
    for i in range(300):
        model.train_step(batches[i % 30], wrapper)
    sa = wrapper.sharpness
    assert sa.iters == 300 and sa.schedule.run_length == 300
    assert abs(sa.sam_steps / 300 - 0.3) <= 0.03
    assert sa.sam_steps == sa.schedule.planned == 90
    assert len(model.seen) == sa.grad_evals == 390


def test_target_ratio_needs_the_run_length():
    model = ToyModel()
    wrapper = build(model, type='ARSAMOptimWrapper', target_ratio=0.3,
                    seed=0)
    with pytest.raises(RuntimeError, match='run length'):
        model.train_step(make_batches(1)[0], wrapper)


# --------------------------------------------------------------------------
# 4. resume through a Runner is exact for every member
# --------------------------------------------------------------------------

RESUME = {
    'looksam': (dict(type='LookSAMOptimWrapper', rho=0.05, interval=4,
                     alpha=0.3, optimizer=SGD), 14),
    'randomsam': (dict(type='RandomSAMOptimWrapper', rho=0.05, prob=0.5,
                       optimizer=SGD), 16),
    'gsam': (dict(type='GSAMOptimWrapper', rho=0.05, alpha=0.3, interval=3,
                  optimizer=SGD), 12),
    'arsam_target': (dict(type='ARSAMOptimWrapper', rho=0.05, warmup_iters=3,
                          window=5, max_reuse_steps=3, target_ratio=0.4,
                          seed=1, optimizer=SGD), 30),
}


@pytest.mark.parametrize('name', list(RESUME))
def test_resume_is_bit_identical(tmp_path, name):
    cfg, total = RESUME[name]
    ref, plans = recorded_run(tmp_path / 'ref', cfg, total)
    final = state_weights(ref.model)
    ref_sa = ref.optim_wrapper.sharpness
    # Stop where the next step is a one-pass step, after a SAM step and
    # before another (mid-stream), past ARSAM's warm-up.
    k = next(k for k in range(max(4, total // 3), total - 1)
             if not plans[k] and any(plans[:k]) and any(plans[k + 1:]))
    if name == 'arsam_target':
        assert abs(sum(plans) / total - 0.4) <= 0.03
    # The same run checkpointed at k (same run length: target_ratio's
    # budget depends on it) ends alike.
    stop, stop_plans = recorded_run(tmp_path / 'stop', cfg, total,
                                    ckpt_interval=k)
    assert stop_plans == plans
    assert_bit_identical(state_weights(stop.model), final)
    path = tmp_path / 'stop' / f'iter_{k}.pth'
    arsam = load_ckpt(path)['optimizer']['arsam_mm']
    assert arsam['schedule']['iter'] == k
    if name == 'looksam':
        assert arsam['correction']['built']
        assert any(v.abs().sum() > 0
                   for v in arsam['driver']['store'].values())
    resumed, resumed_plans = recorded_run(
        tmp_path / 'resume', cfg, total, load_from=str(path), resume=True)
    assert resumed.iter == total
    assert resumed_plans == plans[k:]
    sa = resumed.optim_wrapper.sharpness
    assert (sa.iters, sa.sam_steps, sa.grad_evals) == (
        ref_sa.iters, ref_sa.sam_steps, ref_sa.grad_evals)
    assert_bit_identical(state_weights(resumed.model), final)


# --------------------------------------------------------------------------
# 5. arguments and registration
# --------------------------------------------------------------------------


@pytest.mark.parametrize('cfg, exc, match', [
    (dict(type='LookSAMOptimWrapper', interval=0), ValueError, 'interval'),
    (dict(type='LookSAMOptimWrapper', interval=2.5), TypeError, 'interval'),
    (dict(type='LookSAMOptimWrapper', alpha=-1), ValueError, 'alpha'),
    (dict(type='LookSAMOptimWrapper', alpha='x'), TypeError, 'alpha'),
    (dict(type='LookSAMOptimWrapper', rho=-1.0), ValueError, 'rho'),
    (dict(type='GSAMOptimWrapper', interval=0), ValueError, 'interval'),
    (dict(type='GSAMOptimWrapper', alpha=-1), ValueError, 'alpha'),
    (dict(type='GSAMOptimWrapper', alpha=float('nan')),
     (TypeError, ValueError), 'alpha'),
    (dict(type='RandomSAMOptimWrapper', prob=1.5), ValueError, 'prob'),
    (dict(type='RandomSAMOptimWrapper', prob=-0.1), ValueError, 'prob'),
    (dict(type='RandomSAMOptimWrapper', prob=True), TypeError, 'prob'),
    (dict(type='RandomSAMOptimWrapper', seed=-1), ValueError, 'seed'),
    (dict(type='ARSAMOptimWrapper', target_ratio=2), ValueError,
     'target_ratio'),
    (dict(type='ARSAMOptimWrapper', target_ratio=-0.1), ValueError,
     'target_ratio'),
    (dict(type='ARSAMOptimWrapper', target_ratio='half'), TypeError,
     'target_ratio'),
])
def test_bad_arguments_fail_at_build(cfg, exc, match):
    with pytest.raises(exc, match=match):
        build(ToyModel(), **cfg)


@pytest.mark.parametrize('kind, typo, meant', [
    ('LookSAMOptimWrapper', 'intervall', 'interval'),
    ('GSAMOptimWrapper', 'intervall', 'interval'),
    ('RandomSAMOptimWrapper', 'probb', 'prob'),
    ('ARSAMOptimWrapper', 'target_ration', 'target_ratio'),
    ('AmpLookSAMOptimWrapper', 'intervall', 'interval'),
])
def test_unknown_argument_names_the_meant_one(kind, typo, meant):
    """Also for an AMP twin, whose check runs before AmpOptimWrapper asks
    for an accelerator (so it runs on the CPU)."""
    with pytest.raises(TypeError) as info:
        build(ToyModel(), type=kind, **{typo: 1})
    text = str(info.value)
    assert repr(typo) in text and f'did you mean {meant!r}' in text
    if kind.startswith('Amp'):
        assert 'loss_scale' in text  # AmpOptimWrapper's arguments count


@pytest.mark.parametrize('cls', [
    SAMOptimWrapper, ARSAMOptimWrapper, LookSAMOptimWrapper,
    RandomSAMOptimWrapper, GSAMOptimWrapper, LateSAMOptimWrapper
])
def test_members_and_amp_twins_registered(cls):
    from mmengine.optim import AmpOptimWrapper

    from arsam_mm.engine.optim_wrappers import amp_sam_optim_wrapper
    name = cls.__name__
    assert OPTIM_WRAPPERS.get(name) is cls
    twin_name = AMP_TWINS[name]
    assert twin_name == f'Amp{name}'
    twin = OPTIM_WRAPPERS.get(twin_name)
    assert twin is getattr(amp_sam_optim_wrapper, twin_name)
    assert twin is getattr(arsam_mm.engine.optim_wrappers, twin_name)
    assert issubclass(twin, cls) and issubclass(twin, AmpOptimWrapper)
    # The second pass's loss-scaler hooks come first in the MRO.
    assert twin.__mro__.index(amp_sam_optim_wrapper.AmpSecondPass) < \
        twin.__mro__.index(cls) < twin.__mro__.index(AmpOptimWrapper)


def test_family_members_are_built_as_configured():
    model = ToyModel()
    look = build(model, type='LookSAMOptimWrapper', interval=7, alpha=0.2)
    assert type(look) is LookSAMOptimWrapper
    assert look.sharpness.schedule.interval == 7
    assert look.sharpness.correction.alpha == 0.2
    rand = build(model, type='RandomSAMOptimWrapper', prob=0.25, seed=9)
    assert rand.sharpness.schedule.prob == 0.25
    assert rand.sharpness.schedule.seed == 9
    gsam = build(model, type='GSAMOptimWrapper', alpha=0.4)
    assert gsam.sharpness.direction.alpha == 0.4
    assert gsam.sharpness.schedule.interval == 1
    assert type(build(model, type='OptimWrapper')) is OptimWrapper
