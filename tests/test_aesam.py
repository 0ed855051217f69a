"""AE-SAM: the schedule against a literal transcription of the rule, the
wrapper against a hand-written AE-SAM loop, ``target_ratio``, resume, bad
arguments and the AMP twin."""
import copy
import io
import math
import random

import pytest
import torch
from mmengine.optim import AmpOptimWrapper, build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

import arsam_mm  # noqa: F401  (registers the wrappers)
from arsam_mm import AESAMSchedule, SharpnessAware
from arsam_mm.engine.optim_wrappers import (AMP_TWINS, AESAMOptimWrapper,
                                            AmpAESAMOptimWrapper)
from tests._reference import reference_sam_loop
from tests._toy import ToyModel, make_batches

SGD = dict(type='SGD', lr=0.1, momentum=0.9)


class ReferenceAESAMRule:
    """AE-SAM's policy, literally, with Python floats (Jiang et al., ICLR
    2023): EMA mean and variance of ``||g_t||^2`` including step ``t``,
    ``c_t = (t/T) l1 + (1 - t/T) l2`` with ``t = 0, 1, ...``, SAM iff
    ``||g_t||^2 >= mu_t + c_t sigma_t``; a non-finite value is no SAM step
    and leaves the statistics alone."""

    def __init__(self, delta=0.9, lambda1=-1.0, lambda2=1.0, total=100):
        self.delta = delta
        self.l1 = lambda1
        self.l2 = lambda2
        self.total = total
        self.t = 0
        self.mu = 0.0
        self.var = 0.0

    def step(self, sq):
        t = self.t
        self.t += 1
        if math.isnan(sq) or math.isinf(sq):
            return False
        self.mu = self.delta * self.mu + (1 - self.delta) * sq
        self.var = self.delta * self.var + (1 - self.delta) * (sq -
                                                               self.mu)**2
        c = (t / self.total) * self.l1 + (1 - t / self.total) * self.l2
        return sq >= self.mu + c * math.sqrt(self.var)


def synthetic(length, seed=0):
    """A ``||g||^2`` sequence: a decaying trend, log-normal noise, spikes."""
    rng = random.Random(seed)
    out = []
    for t in range(length):
        trend = 1 + 3 * math.exp(-t / (length / 5))
        value = trend * math.exp(0.5 * rng.gauss(0, 1))
        if rng.random() < 0.01:
            value *= 5
        out.append(value)
    return out


def drive(schedule, values):
    decisions = []
    for value in values:
        schedule.plan()
        decisions.append(schedule.decide(value))
    return decisions


# --------------------------------------------------------------------------
# 1. the rule
# --------------------------------------------------------------------------


@pytest.mark.parametrize('kw', [
    dict(),
    dict(delta=0.5, lambda1=0.0, lambda2=2.0),
    dict(delta=0.99, lambda1=1.0, lambda2=-1.0),
])
def test_schedule_equals_reference(kw):
    total = 400
    values = synthetic(total, seed=3)
    values[10] = math.nan
    values[11] = math.inf
    values[50] = 0.0
    sched = AESAMSchedule(**kw)
    assert sched.late
    sched.set_run_length(total)
    ref = ReferenceAESAMRule(total=total, **kw)
    got, want = [], []
    for value in values:
        assert sched.plan() is None
        got.append(sched.decide(value))
        want.append(ref.step(value))
        assert (sched.mu, sched.var) == (ref.mu, ref.var)
    assert got == want
    assert 0 < sum(got) < total
    assert not got[10] and not got[11]
    assert sched.taken == sum(got) and sched.iter == total


def test_non_finite_keeps_statistics_and_counts_the_step():
    sched = AESAMSchedule()
    sched.set_run_length(10)
    drive(sched, [1.0, 2.0])
    mu, var = sched.mu, sched.var
    sched.plan()
    assert sched.decide(math.nan) is False
    assert (sched.mu, sched.var, sched.iter) == (mu, var, 3)
    # The core driver skips decide() for a non-finite norm: the next plan
    # still counts that step.
    sched.plan()
    sched.plan()
    sched.decide(1.5)
    ref = ReferenceAESAMRule(total=10)
    for value in (1.0, 2.0, math.nan, math.nan, 1.5):
        ref.step(value)
    assert (sched.mu, sched.var, sched.iter) == (ref.mu, ref.var, 5)


def test_driver_decides_late_from_the_squared_norm():
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(5, dtype=torch.float64))
    sa = SharpnessAware(torch.optim.SGD([w], lr=0.1), schedule=AESAMSchedule())
    sa.schedule.set_run_length(5)
    ref = ReferenceAESAMRule(total=5)
    for _ in range(5):
        plan = sa.begin()
        assert plan.sam is None
        w.grad = torch.randn(5, dtype=torch.float64)
        expected = ref.step(float(w.grad.norm())**2)
        assert sa.decide().sam is expected


def test_run_length_is_required():
    sched = AESAMSchedule()
    sched.plan()
    with pytest.raises(RuntimeError, match='set_run_length'):
        sched.decide(1.0)
    torch.manual_seed(0)
    model = ToyModel(noise=0.0)
    wrapper = build_optim_wrapper(
        model, dict(type='AESAMOptimWrapper', optimizer=SGD))
    with pytest.raises(RuntimeError, match='initialize_count_status'):
        model.train_step(make_batches(1)[0], wrapper)


# --------------------------------------------------------------------------
# 2. the wrapper in mmengine's train_step equals a hand-written AE-SAM
# --------------------------------------------------------------------------


def hand_written_aesam(model, batches, total, lr, momentum, rho):
    """AE-SAM by hand: :func:`tests._reference.reference_sam_loop` with the
    reference rule deciding each step from ``||g||^2``. Returns the final
    weights and the decisions."""
    rule = ReferenceAESAMRule(total=total)
    history, decisions = reference_sam_loop(
        model, [(b['inputs'], b['labels']) for b in batches], rho, lr,
        momentum, forward=ToyModel.logits, sam=lambda t, sq: rule.step(sq))
    return history[-1], decisions


def test_wrapper_equals_hand_written_aesam():
    total = 60
    torch.manual_seed(0)
    model = ToyModel(noise=0.0).double()
    start = copy.deepcopy(model)
    wrapper = build_optim_wrapper(
        model, dict(type='AESAMOptimWrapper', rho=0.05, optimizer=SGD))
    assert isinstance(wrapper, AESAMOptimWrapper)
    wrapper.initialize_count_status(model, 0, total)
    batches = [{k: v.double() if v.is_floating_point() else v
                for k, v in b.items()} for b in make_batches(total)]
    model.record = True
    decisions = []
    for data in batches:
        model.train_step(data, wrapper)
        decisions.append(wrapper.is_sam_step)
    expected, want = hand_written_aesam(start, batches, total, lr=0.1,
                                        momentum=0.9, rho=0.05)
    assert decisions == want
    sam = sum(decisions)
    assert 0 < sam < total  # both kinds of step
    assert wrapper.sharpness.sam_steps == sam
    assert len(model.seen) == total + sam == wrapper.sharpness.grad_evals
    for got, exp in zip(model.parameters(), expected):
        torch.testing.assert_close(got.detach(), exp, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------
# 3. target_ratio
# --------------------------------------------------------------------------


def test_target_ratio_over_3000_steps_keeps_the_rules_placement():
    total = 3000
    values = synthetic(total, seed=1)
    natural = drive(_sized(AESAMSchedule(), total), values)
    share = sum(natural) / total
    assert 0.3 < share < 0.6
    for target in (0.1, 0.5, 0.8):
        got = drive(_sized(AESAMSchedule(target_ratio=target), total), values)
        assert abs(sum(got) / total - target) <= 0.03, target
        half = total // 2  # the paper's shape: more SAM steps late
        assert sum(got[:half]) < sum(got[half:]), target
    # At the rule's own share, the target moves few decisions.
    got = drive(
        _sized(AESAMSchedule(target_ratio=round(share, 3)), total), values)
    assert abs(sum(got) / total - share) <= 0.03
    agree = sum(a == b for a, b in zip(got, natural)) / total
    assert agree >= 0.9, agree


def test_target_ratio_exact_for_any_length():
    for total in (1, 7, 50, 301):
        values = synthetic(total, seed=total)
        for target in (0.0, 0.25, 0.5, 1.0):
            got = drive(_sized(AESAMSchedule(target_ratio=target), total),
                        values)
            assert sum(got) == math.floor(target * total + 0.5)


def test_target_ratio_picks_high_scores():
    total = 1000
    values = synthetic(total, seed=7)
    sched = _sized(AESAMSchedule(target_ratio=0.3), total)
    hi, lo = [], []
    for value in values:
        sched.plan()
        sam = sched.decide(value)
        (hi if sam else lo).append(sched.last_score)
    assert sum(hi) / len(hi) > sum(lo) / len(lo) + 0.5


def test_target_ratio_through_the_wrapper_300_steps():
    total, target = 300, 0.6  # above the rule's own share (about 0.45)
    torch.manual_seed(0)
    model = ToyModel(noise=0.0)
    wrapper = build_optim_wrapper(
        model,
        dict(type='AESAMOptimWrapper', target_ratio=target, optimizer=SGD))
    wrapper.initialize_count_status(model, 0, total)
    for data in make_batches(total, seed=5):
        model.train_step(data, wrapper)
    sa = wrapper.sharpness
    assert sa.iters == total
    assert abs(sa.sam_steps / total - target) <= 0.03
    assert set(sa.schedule.log_scalars()) == {
        'aesam_threshold', 'aesam_score'
    }


def test_target_that_cannot_be_met_is_refused():
    sched = _sized(AESAMSchedule(target_ratio=0.5), 100)
    drive(sched, synthetic(60))
    taken = sched.taken
    assert 0 < taken < 60
    # Resumed into a shorter run whose budget the run has already spent.
    with pytest.raises(ValueError, match='target_ratio 0.5 cannot be met') \
            as info:
        sched.set_run_length(2 * taken - 2)
    assert 'can end between' in str(info.value)
    sched.set_run_length(100)  # the run's own length still works


def _sized(schedule, total):
    schedule.set_run_length(total)
    return schedule


# --------------------------------------------------------------------------
# 4. resume
# --------------------------------------------------------------------------


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


@pytest.mark.parametrize('target', [None, 0.35])
def test_schedule_state_dict_continues_identically(target):
    total = 500
    values = synthetic(total, seed=11)
    ref = drive(_sized(AESAMSchedule(target_ratio=target), total), values)
    for stop in (1, 37, 260):
        for mid_step in (False, True):
            sched = _sized(AESAMSchedule(target_ratio=target), total)
            got = drive(sched, values[:stop])
            if mid_step:  # saved between plan() and decide()
                sched.plan()
            state = _roundtrip(sched.state_dict())
            fresh = AESAMSchedule(target_ratio=target)
            fresh.load_state_dict(state)
            if mid_step:  # decides before the wrapper gives T again
                got.append(fresh.decide(values[stop]))
                start = stop + 1
            else:
                fresh.set_run_length(total)
                start = stop
            got += drive(fresh, values[start:])
            assert got == ref, (stop, mid_step)


def test_runner_resume_is_bit_identical(tmp_path):
    from tests._runner import assert_bit_identical, make_runner, toy, weights
    cfg = dict(type='AESAMOptimWrapper', rho=0.05, target_ratio=0.4,
               optimizer=SGD)
    total, k = 20, 9
    ref = make_runner(tmp_path / 'ref', toy(), cfg, max_iters=total,
                      ckpt_interval=k)
    ref.train()
    final = weights(ref.model)
    ref_sa = ref.optim_wrapper.sharpness
    assert ref_sa.sam_steps == 8
    state = torch.load(tmp_path / 'ref' / f'iter_{k}.pth',
                       weights_only=False)['optimizer']['arsam_mm']
    assert state['wrapper']['type'] == 'AESAMOptimWrapper'
    assert state['schedule']['iter'] == k
    assert len(state['schedule']['scores']) > 0
    resumed = make_runner(
        tmp_path / 'resume',
        toy(seed=3),
        cfg,
        max_iters=total,
        load_from=str(tmp_path / 'ref' / f'iter_{k}.pth'),
        resume=True)
    resumed.train()
    sa = resumed.optim_wrapper.sharpness
    assert (sa.iters, sa.sam_steps) == (ref_sa.iters, ref_sa.sam_steps)
    assert sa.schedule.state_dict() == ref_sa.schedule.state_dict()
    assert_bit_identical(weights(resumed.model), final)


# --------------------------------------------------------------------------
# 5. arguments and registration
# --------------------------------------------------------------------------


@pytest.mark.parametrize('kwargs, error, name', [
    (dict(delta=0), ValueError, 'delta'),
    (dict(delta=1.0), ValueError, 'delta'),
    (dict(delta='0.9'), TypeError, 'delta'),
    (dict(lambda1=math.nan), ValueError, 'lambda1'),
    (dict(lambda2=None), TypeError, 'lambda2'),
    (dict(lambda2=True), TypeError, 'lambda2'),
    (dict(target_ratio=1.5), ValueError, 'target_ratio'),
    (dict(target_ratio=-0.1), ValueError, 'target_ratio'),
    (dict(target_ratio='half'), TypeError, 'target_ratio'),
    (dict(rho=-1), ValueError, 'rho'),
    (dict(replay_random=1), TypeError, 'replay_random'),
    (dict(lamda1=0.5), TypeError, "'lamda1'.*'lambda1'"),
])
def test_bad_arguments_are_refused_by_name(kwargs, error, name):
    model = ToyModel()
    with pytest.raises(error, match=name):
        build_optim_wrapper(
            model, dict(type='AESAMOptimWrapper', optimizer=SGD, **kwargs))


def test_bad_schedule_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match='window'):
        AESAMSchedule(window=0)
    with pytest.raises(ValueError, match='run length'):
        AESAMSchedule().set_run_length(0)
    with pytest.raises(TypeError, match='run length'):
        AESAMSchedule().set_run_length(10.0)
    with pytest.raises(RuntimeError, match='plan'):
        _sized(AESAMSchedule(), 5).decide(1.0)


def test_amp_twin_is_registered():
    assert AMP_TWINS['AESAMOptimWrapper'] == 'AmpAESAMOptimWrapper'
    assert OPTIM_WRAPPERS.get('AmpAESAMOptimWrapper') is AmpAESAMOptimWrapper
    assert issubclass(AmpAESAMOptimWrapper, AESAMOptimWrapper)
    assert issubclass(AmpAESAMOptimWrapper, AmpOptimWrapper)
    assert OPTIM_WRAPPERS.get('AESAMOptimWrapper') is AESAMOptimWrapper
