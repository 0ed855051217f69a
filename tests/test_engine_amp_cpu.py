"""Every Amp twin's loss-scaler logic, on a CPU (no CUDA needed).

Parametrized over :data:`AMP_TWINS`, so a new member of the family is
covered as soon as it gets its twin. ``AmpOptimWrapper`` runs here with
``torch.amp.GradScaler('cpu')`` and a recording no-op ``autocast`` (the
``cpu_amp`` fixture of ``conftest.py``); the toy model computes in float64,
so the scaled steps (loss scale ``2**16``, a power of two) compare with the
fp32 wrappers' steps to rounding. Checked for each twin:

* a finite run takes the fp32 wrapper's decisions and steps: weights and
  kept vectors equal after every step, pass 2 under ``autocast``;
* an overflow in pass 1 (of a SAM step) skips pass 2 and the update, keeps
  the optimizer state, halves the scale and drops the kept vector;
* an overflow in pass 2 skips the update the same way (weights restored,
  not counted as a SAM step);
* ``state_dict``/``load_state_dict`` through the wrapper restore the scale
  (and its growth tracker): the resumed run continues bit-identically.

Building a family wrapper with ``AmpOptimWrapper``'s arguments builds the
twin (the switched fp16 config), with a warning.
"""
import copy
import logging

import pytest
import torch
from mmengine.optim import AmpOptimWrapper

from arsam_mm.engine.optim_wrappers import (AMP_ARGUMENTS, AMP_TWINS,
                                            SAMOptimWrapper)
from arsam_mm.engine.optim_wrappers.amp_sam_optim_wrapper import _TWIN_CLASSES
from tests._toy import ToyModel, make_batches

#: The family: every wrapper with an Amp twin but mmengine's own.
FAMILY = sorted((plain, amp) for plain, amp in AMP_TWINS.items()
                if plain != 'OptimWrapper')
#: Arguments that make each member take at least two SAM steps and a
#: one-pass step within ITERS steps. A new member runs with its defaults and
#: must add an entry if they do not.
MEMBER_KWARGS = {
    'SAMOptimWrapper': dict(interval=2),
    'ARSAMOptimWrapper': dict(warmup_iters=1, window=4, max_reuse_steps=3,
                              seed=3),
    'LookSAMOptimWrapper': dict(interval=2),
    'RandomSAMOptimWrapper': dict(prob=0.5, seed=0),
    'GSAMOptimWrapper': dict(interval=2),
    'AESAMOptimWrapper': dict(target_ratio=0.5),
    'LateSAMOptimWrapper': dict(target_ratio=0.5),
}
ITERS = 6
LR, MOMENTUM = 0.1, 0.9
#: Float64 steps, the loss scaled by a power of two: equal but for the
#: ``eps`` (1e-12) added to norms of scaled gradients (LookSAM's projection)
#: and ARSAM's mix weight times the float32 scale (lam rounded to float32);
#: both move the weights by about 1e-11. A broken twin is off by far more.
TOL = dict(rtol=1e-7, atol=1e-9)


@pytest.fixture
def amp(cpu_amp):
    return cpu_amp


def classes(plain_name, amp_name):
    by_name = {cls.__name__: (cls, twin)
               for cls, twin in _TWIN_CLASSES.items()}
    plain, twin = by_name[plain_name]
    assert twin.__name__ == amp_name
    return plain, twin


def build(cls, model, total=ITERS, **kw):
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    wrapper = cls(optimizer=optimizer, rho=0.05,
                  **MEMBER_KWARGS.get(cls.__name__.replace('Amp', '', 1), {}),
                  **kw)
    wrapper.initialize_count_status(model, 0, total)
    return wrapper


def make_model(**kw):
    torch.manual_seed(0)
    return ToyModel(**kw).double()


def batches(n=ITERS):
    return [dict(inputs=b['inputs'].double(), labels=b['labels'])
            for b in make_batches(n, seed=7)]


def params(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def kept(wrapper):
    return {k: v.detach().clone()
            for k, v in wrapper.sharpness.store.buffers.items()}


def momenta(wrapper):
    return {k: v['momentum_buffer'].clone()
            for k, v in wrapper.optimizer.state.items()}


def assert_equal_dicts(got, want, **tol):
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(
            got[key], want[key], **tol, msg=lambda m, key=key: f'{key}: {m}')


def run(model, wrapper, data, seed=1):
    """Train on ``data``; per step (SAM step?, mix weight, weights, kept
    vectors)."""
    torch.manual_seed(seed)  # the preprocessor's noise
    out = []
    for batch in data:
        model.train_step(batch, wrapper)
        plan = wrapper.sharpness.plan
        out.append((bool(plan.sam), float(plan.mix_weight), params(model),
                    kept(wrapper)))
    return out


class Poison:
    """Turn the ``which``-th backward (1: pass 1, 2: pass 2) of the next
    step into infs, through a hook on ``fc2.weight``."""

    def __init__(self, model, which):
        self.which, self.calls, self.fired = which, 0, False
        self.handle = model.fc2.weight.register_hook(self)

    def __call__(self, grad):
        self.calls += 1
        if self.calls == self.which:
            self.fired = True
            return torch.full_like(grad, float('inf'))
        return grad


def test_family_is_covered():
    """Every registered member has a twin (AMP_TWINS is what the tests
    below loop over)."""
    names = {plain for plain, _ in FAMILY}
    assert set(MEMBER_KWARGS) <= names
    assert len(_TWIN_CLASSES) == len(FAMILY)


@pytest.mark.parametrize('plain_name,amp_name', FAMILY)
def test_twin_steps_equal_fp32_steps(plain_name, amp_name, amp):
    """A finite run: the twin's decisions, weights and (unscaled) kept
    vectors equal the fp32 wrapper's after every step; both passes run
    under the twin's autocast; no step is skipped."""
    plain, twin = classes(plain_name, amp_name)
    data = batches()
    ref_model = make_model()
    ref = run(ref_model, build(plain, ref_model), data)
    assert not amp  # the fp32 wrapper enters no autocast
    model = make_model()
    wrapper = build(twin, model, loss_scale='dynamic', dtype='float64')
    assert type(wrapper) is twin and wrapper.loss_scaler.is_enabled()
    got = run(model, wrapper, data)
    sam = [s for s, *_ in ref]
    assert sum(sam) >= 2 and not all(sam), \
        f'{plain_name}: give MEMBER_KWARGS that mix both kinds of step'
    if wrapper.sharpness.stores:  # the kept vector is mixed in
        assert any(w > 0 for s, w, *_ in ref if not s)
    for step, ((s, w, p, v), (s2, w2, p2, v2)) in enumerate(zip(ref, got)):
        assert (s2, w2) == (s, w), step
        assert_equal_dicts(p2, p, **TOL)
        if wrapper.sharpness.stores:  # else scratch (scaled g of pass 2)
            assert_equal_dicts(v2, v, **TOL)
    assert amp == [torch.float64] * (ITERS + sum(sam))
    assert wrapper.loss_scaler.get_scale() == 2.**16  # no step skipped
    assert wrapper.sharpness.sam_steps == sum(sam)


def first_sam_steps(plain):
    """Indices of the fp32 run's SAM steps (the twin decides alike)."""
    model = make_model()
    return [i for i, (s, *_) in enumerate(
        run(model, build(plain, model), batches())) if s]


@pytest.mark.parametrize('which', [1, 2], ids=['pass1', 'pass2'])
@pytest.mark.parametrize('plain_name,amp_name', FAMILY)
def test_overflow_skips_step_and_lowers_scale(plain_name, amp_name, which,
                                              amp):
    """An inf in pass 1 of a SAM step (pass 2 then never runs) or in its
    pass 2: no update (weights back, momentum kept), the scale halves, the
    kept vector is dropped, no SAM step is counted; training goes on."""
    plain, twin = classes(plain_name, amp_name)
    index = first_sam_steps(plain)[1]  # a SAM step after a SAM step
    model = make_model()
    wrapper = build(twin, model, loss_scale='dynamic')
    data = batches()
    run(model, wrapper, data[:index])
    if wrapper.sharpness.stores:
        assert any(v.any() for v in kept(wrapper).values())
    before, state = params(model), momenta(wrapper)
    sam_steps = wrapper.sharpness.sam_steps
    scale = wrapper.loss_scaler.get_scale()

    poison = Poison(model, which)
    model.record = True
    try:
        run(model, wrapper, data[index:index + 1], seed=5)
    finally:
        poison.handle.remove()
        model.record = False
    assert poison.fired
    assert len(model.seen) == which  # pass 1 overflow: no pass 2
    assert not wrapper.sharpness.perturbed
    if which == 1:
        assert_equal_dicts(params(model), before, rtol=0, atol=0)
    else:  # restored as (w + e) - e
        assert_equal_dicts(params(model), before, **TOL)
    assert_equal_dicts(momenta(wrapper), state, rtol=0, atol=0)
    assert wrapper.loss_scaler.get_scale() == scale / 2
    assert wrapper.sharpness.sam_steps == sam_steps
    if wrapper.sharpness.stores:
        assert not any(v.any() for v in kept(wrapper).values())
    for p in model.parameters():
        assert p.grad is None or not p.grad.any()

    after = params(model)
    run(model, wrapper, data[index + 1:index + 2], seed=6)
    moved = params(model)
    assert all(torch.isfinite(v).all() for v in moved.values())
    assert any(not torch.equal(moved[k], after[k]) for k in after)
    assert wrapper.loss_scaler.get_scale() == scale / 2


@pytest.mark.parametrize('plain_name,amp_name', FAMILY)
def test_resume_restores_the_scale(plain_name, amp_name, amp):
    """Saved after an overflow (scale 2**15, growth tracker reset) and
    loaded into a fresh twin through the wrapper: the same scale, and the
    next steps equal the uninterrupted run's bit for bit."""
    plain, twin = classes(plain_name, amp_name)
    total = ITERS + 2
    data = batches(total)
    model = make_model()
    wrapper = build(twin, model, total=total, loss_scale='dynamic')
    run(model, wrapper, data[:1])
    poison = Poison(model, 1)
    run(model, wrapper, data[1:2], seed=2)
    poison.handle.remove()
    run(model, wrapper, data[2:4], seed=3)
    assert wrapper.loss_scaler.get_scale() == 2.**15
    assert wrapper.loss_scaler._get_growth_tracker() == 2
    state = copy.deepcopy(wrapper.state_dict())
    assert 'loss_scaler' in state and 'arsam_mm' in state

    resumed_model = copy.deepcopy(model)
    optimizer = torch.optim.SGD(resumed_model.parameters(), lr=LR,
                                momentum=MOMENTUM)
    resumed = twin(optimizer=optimizer, rho=0.05, loss_scale='dynamic',
                   **MEMBER_KWARGS.get(plain_name, {}))
    assert resumed.loss_scaler.get_scale() == 2.**16
    resumed.load_state_dict(copy.deepcopy(state))
    resumed.initialize_count_status(resumed_model, 4, total)
    assert resumed.loss_scaler.get_scale() == 2.**15
    assert resumed.loss_scaler._get_growth_tracker() == 2
    want = run(model, wrapper, data[4:], seed=4)
    got = run(resumed_model, resumed, data[4:], seed=4)
    for (s, w, p, v), (s2, w2, p2, v2) in zip(want, got):
        assert (s2, w2) == (s, w)
        assert_equal_dicts(p2, p, rtol=0, atol=0)
        assert_equal_dicts(v2, v, rtol=0, atol=0)
    assert resumed.loss_scaler.get_scale() == \
        wrapper.loss_scaler.get_scale()


# ------------------------------------- fp16 arguments build the twin ---
@pytest.mark.parametrize('argument', AMP_ARGUMENTS)
@pytest.mark.parametrize('plain_name,amp_name', FAMILY)
def test_amp_arguments_build_the_twin(plain_name, amp_name, argument, amp,
                                      logged):
    """``<member>(loss_scale=...)`` (or ``dtype``, ``use_fsdp``) builds
    ``Amp<member>`` with that argument, and says so in the log."""
    plain, twin = classes(plain_name, amp_name)
    value = dict(loss_scale=512., dtype='float64', use_fsdp=False)[argument]
    model = make_model()
    with logged() as lines:
        wrapper = build(plain, model, **{argument: value})
    assert type(wrapper) is twin
    assert isinstance(wrapper, AmpOptimWrapper)
    assert lines == [(
        logging.WARNING,
        f"{plain_name} got AmpOptimWrapper's argument {argument!r} (an "
        'fp16 config switched by its type?): building its AMP twin '
        f'{amp_name} instead')]
    if argument == 'loss_scale':
        assert wrapper.loss_scaler.get_scale() == 512.
    assert type(copy.deepcopy(wrapper)) is twin
    with logged() as lines:
        wrapper = build(plain, make_model())
    assert type(wrapper) is plain and lines == []
    assert type(copy.deepcopy(wrapper)) is plain


def test_amp_argument_without_a_twin_is_refused(amp):

    class MySAM(SAMOptimWrapper):
        pass

    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    with pytest.raises(TypeError) as error:
        MySAM(optimizer=optimizer, loss_scale='dynamic', dtype='float16')
    assert str(error.value) == (
        "MySAM got AmpOptimWrapper's argument 'loss_scale', 'dtype' but has "
        'no AMP twin; make one with arsam_mm.engine.optim_wrappers.'
        'amp_twin(MySAM) and use its type')
    assert type(MySAM(optimizer=optimizer)) is MySAM
