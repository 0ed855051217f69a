"""Late-phase SAM (``LateSAMOptimWrapper``, ``LateSchedule``).

* The switch is exact: of ``T`` optimizer steps, the last
  ``target_ratio * T`` rounded half up are SAM steps, for several ``(T, r)``
  pairs (counts written out by hand, halves included), through the schedule
  and through ``train_step``.
* A hand-written loop (one ``torch.optim.SGD`` with momentum and weight
  decay: plain steps, then textbook SAM steps) equals the wrapper: bit for
  bit before the switch, to 1e-12 in float64 after it; the paper script's
  fresh optimizer at the switch gives other weights (momentum carries
  over here).
* Limits, bit for bit: ``target_ratio=0`` is the base optimizer, ``1`` is
  ``SAMOptimWrapper``.
* Under gradient accumulation ``T`` counts optimizer steps.
* Resume through a Runner from a checkpoint before (and after) the switch
  ends with the uninterrupted run's weights, bit for bit.
* Bad arguments are refused at build, naming them; the run length is
  required.
"""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper

import arsam_mm  # noqa: F401  (registers the wrappers)
from arsam_mm.core import LateSchedule
from tests._reference import reference_sam_loop
from tests._runner import assert_bit_identical, load_ckpt, recorded_run
from tests._runner import weights as state_weights
from tests._toy import ToyModel, make_batches

SGD = dict(type='SGD', lr=0.1, momentum=0.9)
SGD_WD = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-3)

#: (T, target_ratio, SAM steps), the counts written out by hand.
SWITCHES = [
    (10, 0.0, 0),
    (10, 1.0, 10),
    (10, 0.3, 3),
    (5, 0.5, 3),  # 2.5 rounds up
    (7, 0.5, 4),  # 3.5 rounds up
    (30, 0.1, 3),
    (3, 0.1, 0),
    (1, 0.6, 1),
]


def build(model, steps, **cfg):
    """A wrapper given the run length a Runner would give."""
    cfg.setdefault('optimizer', dict(SGD))
    wrapper = build_optim_wrapper(model, cfg)
    wrapper.initialize_count_status(model, 0, steps)
    return wrapper


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


# --------------------------------------------------------------------------
# 1. the switch
# --------------------------------------------------------------------------


@pytest.mark.parametrize('steps, ratio, sam_steps', SWITCHES)
def test_schedule_switch_is_exact(steps, ratio, sam_steps):
    sched = LateSchedule(ratio)
    sched.set_run_length(steps)
    assert (sched.budget, sched.switch) == (sam_steps, steps - sam_steps)
    pattern = [sched.plan() for _ in range(steps)]
    assert pattern == [False] * (steps - sam_steps) + [True] * sam_steps
    assert sched.plan()  # past the run's end: still the late phase


@pytest.mark.parametrize('steps, ratio, sam_steps',
                         [s for s in SWITCHES if s[0] <= 10])
def test_wrapper_switch_is_exact(steps, ratio, sam_steps):
    """Through ``train_step``: one forward per plain step, two per SAM
    step, and the counters agree."""
    torch.manual_seed(0)
    model = ToyModel(noise=0.1)
    wrapper = build(model, steps, type='LateSAMOptimWrapper',
                    target_ratio=ratio)
    model.record = True
    forwards = []
    for data in make_batches(steps):
        before = len(model.seen)
        model.train_step(data, wrapper)
        forwards.append(len(model.seen) - before)
    assert forwards == [1] * (steps - sam_steps) + [2] * sam_steps
    sa = wrapper.sharpness
    assert (sa.iters, sa.sam_steps, sa.grad_evals) == (
        steps, sam_steps, steps + sam_steps)


# --------------------------------------------------------------------------
# 2. a hand-written loop
# --------------------------------------------------------------------------


def hand_written(start, inputs, labels, switch, rho, fresh_at_switch=False):
    """Plain momentum-SGD steps for ``t < switch``, then textbook SAM steps
    with the same ``torch.optim.SGD``, in float64
    (:func:`tests._reference.reference_sam_loop`). ``fresh_at_switch``: a
    new optimizer at the switch, as the paper's script builds.

    Returns the weights after every step.
    """
    sgd = {k: v for k, v in SGD_WD.items() if k != 'type'}
    history, _ = reference_sam_loop(
        start, list(zip(inputs, labels)), rho, forward=ToyModel.logits,
        sam=lambda t, _: t >= switch,
        restart_at=switch if fresh_at_switch else None, **sgd)
    return history


def test_equals_hand_written_loop_across_the_switch():
    steps, ratio, rho = 14, 0.3, 0.1  # round(4.2) = 4 SAM steps: 10..13
    switch = 10
    torch.manual_seed(0)
    model = ToyModel(noise=0.1).double()
    start = copy.deepcopy(model)
    wrapper = build(model, steps, type='LateSAMOptimWrapper', rho=rho,
                    target_ratio=ratio, optimizer=dict(SGD_WD))
    model.record = True
    batches = [{k: v.double() if v.is_floating_point() else v
                for k, v in b.items()} for b in make_batches(steps)]
    inputs, got, forwards = [], [], []
    for data in batches:
        before = len(model.seen)
        model.train_step(data, wrapper)
        seen = model.seen[before:]
        forwards.append(len(seen))
        if len(seen) == 2:  # pass 2 saw pass 1's (noisy) batch
            assert torch.equal(seen[0], seen[1])
        inputs.append(seen[0])
        got.append(weights(model))
    assert forwards == [1] * switch + [2] * (steps - switch)
    labels = [b['labels'] for b in batches]
    want = hand_written(start, inputs, labels, switch, rho)
    for t in range(steps):
        for a, b in zip(got[t], want[t]):
            if t < switch:  # plain steps: the base optimizer's, exactly
                assert torch.equal(a, b), t
            else:
                torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # The paper's script restarts momentum at the switch; this wrapper
    # does not, and the difference shows.
    paper = hand_written(start, inputs, labels, switch, rho,
                         fresh_at_switch=True)
    assert all(torch.equal(a, b) for a, b in zip(paper[switch - 1],
                                                 got[switch - 1]))
    gap = max(float((a - b).abs().max())
              for a, b in zip(paper[-1], got[-1]))
    assert gap > 1e-3


def run_plain(cfg, iters=12):
    """float32 ToyModel with input noise, seeded alike for every cfg."""
    torch.manual_seed(0)
    model = ToyModel(noise=0.1)
    wrapper = build(model, iters, **copy.deepcopy(cfg))
    model.record = True
    torch.manual_seed(1)
    for data in make_batches(iters):
        model.train_step(data, wrapper)
    return weights(model), len(model.seen)


@pytest.mark.parametrize('ratio, same_as', [
    (0.0, dict(type='OptimWrapper')),
    (1.0, dict(type='SAMOptimWrapper')),
])
def test_limits_are_bit_identical(ratio, same_as):
    got, forwards = run_plain(dict(type='LateSAMOptimWrapper',
                                   target_ratio=ratio))
    exp, exp_forwards = run_plain(same_as)
    assert forwards == exp_forwards
    assert all(torch.equal(a, b) for a, b in zip(got, exp))
    # ... and a ratio in between is neither.
    mid, mid_forwards = run_plain(dict(type='LateSAMOptimWrapper',
                                       target_ratio=0.5))
    assert mid_forwards == 12 + 6
    assert not torch.equal(mid[0], got[0])


# --------------------------------------------------------------------------
# 3. gradient accumulation: T counts optimizer steps
# --------------------------------------------------------------------------


def test_accumulation_counts_optimizer_steps():
    """11 iterations with ``accumulative_counts=3`` are 4 optimizer steps
    (the last cycle holds 2): ``target_ratio=0.5`` makes the last 2 of them
    SAM steps, pass 2 replaying each cycle's micro-batches. Counting
    iterations instead (T = 11) would plan 6 SAM steps (5.5 rounded up)."""
    torch.manual_seed(0)
    model = ToyModel(noise=0.1)
    wrapper = build(model, 11, type='LateSAMOptimWrapper', target_ratio=0.5,
                    accumulative_counts=3)
    model.record = True
    forwards = []
    for data in make_batches(11):
        before = len(model.seen)
        model.train_step(data, wrapper)
        forwards.append(len(model.seen) - before)
    sa = wrapper.sharpness
    assert sa.schedule.run_length == 4
    assert forwards == [1] * 8 + [1 + 3] + [1, 1 + 2]
    assert (sa.iters, sa.sam_steps) == (4, 2)


# --------------------------------------------------------------------------
# 4. resume across the switch
# --------------------------------------------------------------------------


@pytest.mark.parametrize('k', [4, 8])
def test_resume_across_the_switch_is_bit_identical(tmp_path, k):
    """12 iterations at 0.5: SAM from iteration 6. Checkpointed at 4
    (resume crosses the switch) or 8 (resume inside the late phase)."""
    cfg = dict(type='LateSAMOptimWrapper', rho=0.05, target_ratio=0.5,
               optimizer=SGD)
    total = 12
    ref, plans = recorded_run(tmp_path / 'ref', cfg, total)
    assert plans == [False] * 6 + [True] * 6
    final = state_weights(ref.model)
    stop, stop_plans = recorded_run(tmp_path / 'stop', cfg, total,
                                    ckpt_interval=k)
    assert stop_plans == plans
    assert_bit_identical(state_weights(stop.model), final)
    path = tmp_path / 'stop' / f'iter_{k}.pth'
    ckpt = load_ckpt(path)
    arsam = ckpt['optimizer']['arsam_mm']
    assert arsam['wrapper']['type'] == 'LateSAMOptimWrapper'
    assert arsam['schedule']['iter'] == k
    assert arsam['schedule']['run_length'] == total
    # The momentum the resumed run continues with is in the checkpoint.
    assert all('momentum_buffer' in s
               for s in ckpt['optimizer']['state'].values())
    resumed, resumed_plans = recorded_run(
        tmp_path / 'resume', cfg, total, load_from=str(path), resume=True)
    assert resumed.iter == total
    assert resumed_plans == plans[k:]
    sa, ref_sa = resumed.optim_wrapper.sharpness, ref.optim_wrapper.sharpness
    assert (sa.iters, sa.sam_steps, sa.grad_evals) == (
        ref_sa.iters, ref_sa.sam_steps, ref_sa.grad_evals) == (12, 6, 18)
    assert_bit_identical(state_weights(resumed.model), final)


def test_schedule_state_round_trip():
    sched = LateSchedule(0.25)
    sched.set_run_length(8)
    first = [sched.plan() for _ in range(3)]
    state = copy.deepcopy(sched.state_dict())
    rest = [sched.plan() for _ in range(5)]
    again = LateSchedule(0.25)
    again.load_state_dict(state)  # no set_run_length: the state has it
    assert first + [again.plan() for _ in range(5)] == first + rest \
        == [False] * 6 + [True] * 2


# --------------------------------------------------------------------------
# 5. arguments
# --------------------------------------------------------------------------


@pytest.mark.parametrize('value, exc, match', [
    (1.5, ValueError, r'target_ratio must be in \[0, 1\], got 1\.5'),
    (-0.1, ValueError, r'target_ratio must be in \[0, 1\], got -0\.1'),
    (float('nan'), ValueError, r'target_ratio must be finite, got nan'),
    ('half', TypeError, r"target_ratio must be a number, got 'half'"),
    (True, TypeError, r'target_ratio must be a number, got True'),
    (None, TypeError, r'target_ratio must be a number, got None'),
])
def test_bad_target_ratio_fails_at_build(value, exc, match):
    with pytest.raises(exc, match=match):
        build_optim_wrapper(ToyModel(), dict(
            type='LateSAMOptimWrapper', target_ratio=value,
            optimizer=dict(SGD)))


def test_bad_rho_and_typo_fail_at_build():
    with pytest.raises(ValueError, match='rho'):
        build_optim_wrapper(ToyModel(), dict(
            type='LateSAMOptimWrapper', rho=-1.0, optimizer=dict(SGD)))
    with pytest.raises(TypeError, match="did you mean 'target_ratio'"):
        build_optim_wrapper(ToyModel(), dict(
            type='LateSAMOptimWrapper', target_ration=0.2,
            optimizer=dict(SGD)))


def test_needs_the_run_length():
    model = ToyModel()
    wrapper = build_optim_wrapper(model, dict(
        type='LateSAMOptimWrapper', optimizer=dict(SGD)))
    with pytest.raises(RuntimeError, match='run length'):
        model.train_step(make_batches(1)[0], wrapper)
    with pytest.raises(ValueError, match='run length must be >= 1'):
        LateSchedule().set_run_length(0)


def test_built_as_configured():
    model = ToyModel()
    wrapper = build(model, 40, type='LateSAMOptimWrapper', rho=0.1,
                    target_ratio=0.2)
    assert wrapper.rho == 0.1
    sched = wrapper.sharpness.schedule
    assert isinstance(sched, LateSchedule) and sched.target_ratio == 0.2
    assert type(wrapper.sharpness.correction).__name__ == 'NoCorrection'
    default = build_optim_wrapper(model, dict(type='LateSAMOptimWrapper',
                                              optimizer=dict(SGD)))
    assert default.rho == 0.05
    assert default.sharpness.schedule.target_ratio == 0.1
