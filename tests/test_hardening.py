"""The failures of issue 11, one case each: resume inside an accumulation
cycle, a non-finite second pass, BatchNorm statistics and inf activations,
the schedule seed drawn from the global generator, non-finite statistics
samples, the window/num_blocks combination, skipped SAM steps counted, the
plain-loop pass 2, and a checkpoint resumed by another wrapper.
"""
import copy

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.optim import build_optim_wrapper
from torch import nn

import arsam_mm  # noqa: F401  (registers the wrappers)
from arsam_mm import ARSAMSchedule, PeriodicSchedule, SharpnessAware
from arsam_mm.core.pass_context import frozen_batchnorm
from tests._runner import (ARSAM, SGD, assert_bit_identical, load_ckpt,
                           make_runner, toy, weights)
from tests._toy import ToyModel, make_batches

# --------------------------------------------------------------------------
# 1. resume inside a gradient-accumulation cycle
# --------------------------------------------------------------------------

ACC_CFGS = {
    'sam': dict(type='SAMOptimWrapper', rho=0.05, interval=2,
                optimizer=SGD, accumulative_counts=2),
    'arsam': dict(ARSAM, accumulative_counts=2),
}


@pytest.mark.parametrize('kind', sorted(ACC_CFGS))
def test_resume_inside_accumulation_cycle_is_bit_identical(tmp_path, kind):
    cfg = ACC_CFGS[kind]
    total = 16
    ref = make_runner(tmp_path / 'ref', toy(bn=True), cfg, max_iters=total,
                      custom_hooks=[])
    ref.train()
    final = weights(ref.model)
    ref_wrapper = ref.optim_wrapper

    ckpt_dir = tmp_path / 'ckpt'
    run = make_runner(ckpt_dir, toy(bn=True), cfg, max_iters=total,
                      ckpt_interval=1, custom_hooks=[])
    run.train()
    assert_bit_identical(weights(run.model), final)

    # Odd iterations end the first micro-batch of a cycle: the checkpoint
    # keeps the cycle, and on a SAM step the micro-batch pass 2 replays.
    odd = {k: load_ckpt(ckpt_dir / f'iter_{k}.pth')['optimizer']['arsam_mm']
           for k in range(1, total, 2)}
    cycles = {k: state['wrapper']['cycle'] for k, state in odd.items()}
    assert all(cycle['length'] == 1 for cycle in cycles.values())
    sam_k = [k for k, s in odd.items() if s['driver']['plan'][0]]
    one_pass_k = [k for k, s in odd.items() if not s['driver']['plan'][0]]
    assert sam_k and one_pass_k
    assert all(len(cycles[k]['batches']) == 1 for k in sam_k)
    assert all(cycle['grads'] for cycle in cycles.values())

    for k in (sam_k[-1], one_pass_k[-1]):
        resumed = make_runner(
            tmp_path / f'resume_{k}',
            toy(seed=99, bn=True),
            cfg,
            max_iters=total,
            load_from=str(ckpt_dir / f'iter_{k}.pth'),
            resume=True,
            custom_hooks=[])
        resumed.train()
        assert_bit_identical(weights(resumed.model), final)
        wrapper = resumed.optim_wrapper
        assert wrapper.sharpness.sam_steps == ref_wrapper.sharpness.sam_steps
        assert wrapper.passes == ref_wrapper.passes


# --------------------------------------------------------------------------
# 2 and 3. a non-finite second pass, inf activations and BatchNorm
# --------------------------------------------------------------------------


class InfOnSecondForward:
    """Forward hook: an inf activation on every second forward (pass 2)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, module, args, output):
        self.calls += 1
        if self.calls % 2 == 0:
            output = output.clone()
            output[0, 0] = float('inf')
        return output


@pytest.mark.parametrize('cfg', [
    dict(type='SAMOptimWrapper', rho=0.05),
    dict(type='ARSAMOptimWrapper', rho=0.05, warmup_iters=5, seed=0),
])
def test_non_finite_second_pass_falls_back_to_the_base_step(cfg):
    torch.manual_seed(0)
    model = ToyModel(bn=True, noise=0.0)
    base_model = copy.deepcopy(model)
    wrapper = build_optim_wrapper(model, dict(cfg, optimizer=SGD))
    base = build_optim_wrapper(base_model,
                               dict(type='OptimWrapper', optimizer=SGD))
    data = make_batches(1)[0]
    model.train_step(data, wrapper)  # a good SAM step first
    base_model.load_state_dict(model.state_dict())
    base.optimizer.load_state_dict(
        copy.deepcopy(wrapper.optimizer.state_dict()))
    psf_before = {
        k: v.clone() for k, v in wrapper.sharpness.store.buffers.items()}
    if hasattr(wrapper.sharpness.schedule, 'a_hist'):
        wrapper.sharpness.schedule._flush()
    samples = len(getattr(wrapper.sharpness.schedule, 'a_hist', []))

    hook = model.fc1.register_forward_hook(InfOnSecondForward())
    try:
        data = make_batches(2)[1]
        model.train_step(data, wrapper)
    finally:
        hook.remove()
    base_model.train_step(data, base)

    assert wrapper.is_sam_step
    for name, value in model.state_dict().items():
        assert torch.isfinite(value.float()).all(), name
    # The update is SGD's on the same batch, BatchNorm statistics included
    # (pass 2's inf activations left no trace). The weights were restored
    # as (w + e) - e: equal up to one rounding.
    ours, theirs = model.state_dict(), base_model.state_dict()
    for name in ('bn.running_mean', 'bn.running_var',
                 'bn.num_batches_tracked'):
        assert torch.equal(ours[name], theirs[name]), name
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0,
                                   atol=1e-6)
    assert wrapper.sharpness.sam_steps == 1  # the good step only
    assert wrapper.sharpness.grad_evals == 4  # both passes of both steps ran
    assert wrapper.passes == 4
    if cfg['type'] == 'ARSAMOptimWrapper':
        # No garbage PSF (zeros) and no statistics sample.
        assert psf_before and all(
            not v.any() for v in wrapper.sharpness.store.buffers.values())
        wrapper.sharpness.schedule._flush()
        assert len(wrapper.sharpness.schedule.a_hist) == samples


def test_frozen_batchnorm_survives_inf_activations():
    layers = [nn.BatchNorm1d(3), nn.SyncBatchNorm(3), nn.BatchNorm2d(3)]
    for bn in layers:
        bn.train()
        x = torch.randn(4, 3, 2, 2) if isinstance(bn, nn.BatchNorm2d) \
            else torch.randn(4, 3)
        bn(x)
        state = copy.deepcopy(bn.state_dict())
        bad = x.clone()
        bad[0, 0] = float('inf')
        try:
            with frozen_batchnorm(bn):
                bn(bad)
        except (ValueError, RuntimeError) as err:  # SyncBN without a group
            assert isinstance(bn, nn.SyncBatchNorm), err
        for key, value in bn.state_dict().items():
            assert torch.equal(value, state[key]), (type(bn).__name__, key)


# --------------------------------------------------------------------------
# 4. ARSAM starts from the weights SGD and SAM start from
# --------------------------------------------------------------------------


def test_arsam_schedule_does_not_draw_from_the_global_generator():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    schedule = ARSAMSchedule()
    assert torch.equal(torch.rand(4), expected)
    torch.manual_seed(3)
    assert ARSAMSchedule().seed == schedule.seed  # reproducible
    torch.manual_seed(4)
    assert ARSAMSchedule().seed != schedule.seed


def test_runner_initial_weights_equal_for_every_wrapper(tmp_path):
    initial = {}
    for name, cfg in (('sgd', dict(type='OptimWrapper', optimizer=SGD)),
                      ('sam', dict(type='SAMOptimWrapper', optimizer=SGD)),
                      ('arsam', dict(type='ARSAMOptimWrapper',
                                     optimizer=SGD))):
        model = ToyModel(noise=0.0)
        model.init_cfg = dict(type='Normal', layer='Linear', std=0.5)

        class Grab(Hook):

            def before_train(self, runner, name=name):
                initial[name] = weights(runner.model)

        runner = make_runner(tmp_path / name, model, cfg, max_iters=1,
                             custom_hooks=[Grab()])
        runner.train()
    assert_bit_identical(initial['sgd'], initial['sam'])
    assert_bit_identical(initial['sgd'], initial['arsam'])


# --------------------------------------------------------------------------
# 5. statistics and schedule corner cases
# --------------------------------------------------------------------------


def _feed(schedule, samples):
    """Plan one window after warm-up, recording ``samples`` at SAM steps."""
    values = iter(samples)
    for _ in range(schedule.window):
        if schedule.plan():
            a, g = next(values, (1.0, 1.0))
            schedule.record(torch.tensor(a), torch.tensor(g))
    schedule._flush()


def test_non_finite_samples_do_not_enter_the_histories():
    clean = ARSAMSchedule(warmup_iters=6, window=10, seed=0)
    dirty = ARSAMSchedule(warmup_iters=6, window=10, seed=0)
    good = [(1.0 + 0.1 * i, 2.0) for i in range(6)]
    _feed(clean, good)
    with_failures = good[:3] + [(float('nan'), 2.0), (float('inf'), 2.0),
                                (1.0, float('nan'))] + good[3:]
    dirty.warmup_iters = clean.warmup_iters = 6
    _feed(dirty, with_failures)
    assert list(dirty.a_hist) == list(clean.a_hist)[:len(dirty.a_hist)]
    assert all(a > 0 for a in dirty.a_hist)
    assert all(r > 0 for r in dirty.r_hist)


def test_window_shorter_than_two_blocks_is_rejected():
    with pytest.raises(ValueError, match=r'window \(4\).*num_blocks'):
        ARSAMSchedule(window=4, num_blocks=5)
    assert ARSAMSchedule(window=4).num_blocks == 2  # the default adapts
    assert ARSAMSchedule(window=50).num_blocks == 5
    torch.manual_seed(0)
    model = ToyModel()
    with pytest.raises(ValueError, match='num_blocks'):
        build_optim_wrapper(
            model,
            dict(type='ARSAMOptimWrapper', window=6, num_blocks=4,
                 optimizer=SGD))


def test_skipped_second_pass_is_not_counted():
    """What the AMP wrappers do when pass 1 is not finite: no pass 2."""
    torch.manual_seed(0)
    model = ToyModel()
    wrapper = build_optim_wrapper(
        model, dict(type='SAMOptimWrapper', rho=0.05, optimizer=SGD))
    wrapper._sam_ready = lambda: False
    for data in make_batches(3):
        model.train_step(data, wrapper)
    assert wrapper.sharpness.iters == 3
    assert wrapper.sharpness.sam_steps == 0
    assert wrapper.sharpness.grad_evals == 3
    assert wrapper.passes == 3


# --------------------------------------------------------------------------
# smaller: the plain-PyTorch loop, another wrapper's checkpoint
# --------------------------------------------------------------------------


def test_plain_loop_step_freezes_batchnorm_and_replays_dropout():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5),
                          nn.Linear(8, 2))
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16, ))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sa = SharpnessAware(optimizer, rho=0.05, schedule=PeriodicSchedule(1))
    masks = []
    model[2].register_forward_hook(
        lambda m, args, out: masks.append(out.eq(0)))
    bn = model[1]

    def closure():
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    for step in range(3):
        masks.clear()
        with torch.no_grad():  # what pass 1 alone does to the statistics
            expected = copy.deepcopy(bn)
            expected(model[0](x))
        sa.step(closure, module=model)
        assert len(masks) == 2 and torch.equal(masks[0], masks[1])
        assert int(bn.num_batches_tracked) == step + 1
        assert torch.equal(bn.running_mean, expected.running_mean)
        assert torch.equal(bn.running_var, expected.running_var)


def test_resuming_a_sam_checkpoint_with_arsam_names_the_writer(tmp_path):
    sam = dict(type='SAMOptimWrapper', rho=0.05, optimizer=SGD)
    run = make_runner(tmp_path / 'sam', toy(), sam, max_iters=2,
                      ckpt_interval=2, custom_hooks=[])
    run.train()
    resumed = make_runner(
        tmp_path / 'arsam',
        toy(),
        ARSAM,
        max_iters=4,
        load_from=str(tmp_path / 'sam' / 'iter_2.pth'),
        resume=True,
        custom_hooks=[])
    with pytest.raises(ValueError, match='written by SAMOptimWrapper'):
        resumed.train()
