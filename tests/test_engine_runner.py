"""Runner-level integration of the SAM/ARSAM optimizer wrappers and hook.

Every case trains the toy model of ``_toy.py`` with a real mmengine
:class:`~mmengine.runner.Runner` for a few iterations on the CPU.
"""
import copy
import glob
import inspect

import pytest
import torch
from mmengine.hooks import EMAHook, Hook
from mmengine.optim import OptimWrapper, OptimWrapperDict, build_optim_wrapper
from mmengine.registry import DefaultScope

import arsam_mm
from arsam_mm import ARSAMHook, ARSAMOptimWrapper, SAMOptimWrapper
from arsam_mm.engine.optim_wrappers import checkpoint
from tests._runner import (ARSAM, SGD, Recorder, assert_bit_identical,
                           load_ckpt, log_text, make_runner, toy, weights)
from tests._toy import ToyDataset, ToyModel

# --------------------------------------------------------------------------
# 1. checkpoint and resume
# --------------------------------------------------------------------------


def test_arsam_resume_is_bit_identical(tmp_path):
    total, warmup, window, max_reuse = 30, 3, 5, 3
    # Uninterrupted, no checkpoints.
    ref = make_runner(tmp_path / 'ref', toy(), ARSAM, max_iters=total)
    ref.train()
    final = weights(ref.model)
    ref_sa = ref.optim_wrapper.sharpness
    assert 0 < ref_sa.sam_steps < total  # a mix of SAM and one-pass steps

    # The same run, checkpointed after every iteration.
    ckpt_dir = tmp_path / 'ckpt'
    run = make_runner(ckpt_dir, toy(), ARSAM, max_iters=total,
                      ckpt_interval=1)
    run.train()
    assert_bit_identical(weights(run.model), final)

    ckpts = {k: load_ckpt(ckpt_dir / f'iter_{k}.pth')
             for k in range(1, total + 1)}
    opt = ckpts[10]['optimizer']
    assert set(opt) == {'state', 'param_groups', 'arsam_mm'}
    assert len(opt['state']) == 4
    assert all('momentum_buffer' in s for s in opt['state'].values())
    assert all(g['rho'] == 0.05 for g in opt['param_groups'])
    sam = opt['arsam_mm']
    assert set(sam) == {'format', 'wrapper', 'driver', 'schedule',
                        'correction'}
    assert sam['format'] == 1
    assert sam['wrapper'] == dict(type='ARSAMOptimWrapper',
                                  grad_evals=10 + sam['driver']['sam_runs'],
                                  cycle=None)
    assert set(sam['driver']) == {'schedule_type', 'iters', 'passes',
                                  'sam_runs', 'sam_failed', 'plan', 'store'}
    assert sam['driver']['schedule_type'] == 'ARSAMSchedule'
    assert len(sam['driver']['store']) == 4
    assert sam['schedule']['iter'] == 10
    sched = {k: c['optimizer']['arsam_mm']['schedule']
             for k, c in ckpts.items()}
    reuse = {k: c['optimizer']['arsam_mm']['correction']
             for k, c in ckpts.items()}

    # A stop right before a reuse step: iteration k + 1 is a one-pass step
    # that mixes the PSF saved in checkpoint k with weight beta ** s > 0.
    def before_reuse(k):
        s = reuse[k]['since']
        return (k > warmup and s is not None and 1 <= s < max_reuse
                and reuse[k + 1]['since'] == s + 1)

    # A stop inside a window whose SAM step is still to be drawn, past the
    # reuse stretch (the next steps are plain until the generator picks).
    def mid_window(k):
        return (k > warmup and (k - warmup) % window != 0
                and sched[k]['taken'] == 0
                and reuse[k]['since'] > max_reuse)

    k_reuse = next(k for k in range(1, total - 1) if before_reuse(k))
    k_window = next(k for k in range(1, total - 1) if mid_window(k))
    assert k_reuse != k_window
    psf = ckpts[k_reuse]['optimizer']['arsam_mm']['driver']['store']
    assert any(v.abs().sum() > 0 for v in psf.values())
    assert reuse[k_reuse + 1]['lam'] > 0

    for k in (k_reuse, k_window):
        resumed = make_runner(
            tmp_path / f'resume_{k}',
            toy(seed=123),  # overwritten by the checkpoint
            ARSAM,
            max_iters=total,
            load_from=str(ckpt_dir / f'iter_{k}.pth'),
            resume=True)
        resumed.train()
        assert resumed.iter == total
        sa = resumed.optim_wrapper.sharpness
        assert (sa.iters, sa.sam_steps) == (ref_sa.iters, ref_sa.sam_steps)
        assert sa.schedule.n == ref_sa.schedule.n
        assert_bit_identical(weights(resumed.model), final)


def test_sam_resume_is_bit_identical(tmp_path):
    cfg = dict(type='SAMOptimWrapper', rho=0.05, interval=3, optimizer=SGD)
    total, k = 12, 7
    ref = make_runner(tmp_path / 'ref', toy(), cfg, max_iters=total)
    ref.train()
    final = weights(ref.model)

    stop = make_runner(tmp_path / 'stop', toy(), cfg, max_iters=k,
                       ckpt_interval=k)
    stop.train()
    opt = load_ckpt(tmp_path / 'stop' / f'iter_{k}.pth')['optimizer']
    assert opt['arsam_mm']['schedule'] == {'iter': k, 'interval': 3}
    assert 'store' not in opt['arsam_mm']['driver']  # SAM keeps no vector
    assert all(g['rho'] == 0.05 for g in opt['param_groups'])

    resumed = make_runner(
        tmp_path / 'resume',
        toy(seed=5),
        cfg,
        max_iters=total,
        load_from=str(tmp_path / 'stop' / f'iter_{k}.pth'),
        resume=True)
    resumed.train()
    assert resumed.optim_wrapper.sharpness.sam_steps == 4  # iterations 0,3,6,9
    assert_bit_identical(weights(resumed.model), final)


#: The figures the wrappers log every iteration (ARSAM's included).
LOGGED = ('sam_step', 'sam_fraction', 'grad_evals', 'rho', 'sam_count',
          'psf_norm')


def _counts_and_scalars(runner):
    """A Recorder's rows: iteration -> the driver's and the wrapper's
    counters and the logged figures, after each iteration."""
    rows = {}

    def record(runner):
        wrapper, hub = runner.optim_wrapper, runner.message_hub
        sa = wrapper.sharpness
        rows[runner.iter + 1] = dict(
            iters=sa.iters, grad_evals=sa.grad_evals,
            sam_steps=sa.sam_steps, wrapper_passes=wrapper.passes,
            **{key: buffer.current()
               for key, buffer in hub.log_scalars.items()
               if key[len('train/'):] in LOGGED})

    return rows, Recorder(record)


def unversioned(sam):
    """The layout wrappers wrote before the format (key ``'arsam'``), from
    a format-1 ``sam`` state: the driver's state with its schedule and
    correction, the writer's name, the cycle, and the wrapper's pass count
    written over the driver's (``'passes'``)."""
    old = dict(sam['driver'], schedule=sam['schedule'],
               correction=sam['correction'], wrapper=sam['wrapper']['type'],
               passes=sam['wrapper']['grad_evals'])
    if sam['wrapper']['cycle'] is not None:
        old['cycle'] = sam['wrapper']['cycle']
    return old


@pytest.mark.parametrize('layout', ['format 1', 'unversioned'])
def test_resume_with_accumulation_keeps_every_count(tmp_path, layout):
    """The driver's pass count (``grad_evals``: one pass per optimizer step
    plus one per second pass) and the wrapper's (every micro-batch and
    every replayed one) are different numbers under gradient accumulation;
    a resume restores both, at a cycle's end and inside one, also from the
    unversioned layout, where the wrapper's count overwrote the driver's."""
    cfg = dict(ARSAM, accumulative_counts=2)
    total = 16
    want, recorder = _counts_and_scalars(None)
    ref = make_runner(tmp_path / 'ref', toy(), cfg, max_iters=total,
                      ckpt_interval=1, custom_hooks=[recorder])
    ref.train()
    final = weights(ref.model)
    ref_sa = ref.optim_wrapper.sharpness
    assert 0 < ref_sa.sam_steps < total // 2
    # The two counts differ: 8 optimizer steps of 2 micro-batches each.
    assert ref_sa.grad_evals == ref_sa.iters + ref_sa.sam_steps
    assert ref.optim_wrapper.passes == total + 2 * ref_sa.sam_steps
    for k in (6, 9):  # a cycle's end, inside a cycle
        path = tmp_path / 'ref' / f'iter_{k}.pth'
        if layout == 'unversioned':
            ckpt = load_ckpt(path)
            sam = ckpt['optimizer'].pop('arsam_mm')
            assert (sam['wrapper']['cycle'] is not None) == (k % 2 == 1)
            ckpt['optimizer']['arsam'] = unversioned(sam)
            path = tmp_path / f'unversioned_{k}.pth'
            torch.save(ckpt, path)
        got, recorder = _counts_and_scalars(None)
        resumed = make_runner(
            tmp_path / f'resume_{k}',
            toy(seed=7),
            cfg,
            max_iters=total,
            load_from=str(path),
            resume=True,
            custom_hooks=[recorder])
        resumed.train()
        assert_bit_identical(weights(resumed.model), final)
        assert sorted(got) == list(range(k + 1, total + 1))
        for i, row in got.items():
            assert row == want[i], (k, i)


# --------------------------------------------------------------------------
# 2. a checkpoint without SAM state, or in the unversioned layout
# --------------------------------------------------------------------------


def test_checkpoint_without_sam_state(tmp_path, monkeypatch):
    plain = make_runner(
        tmp_path / 'plain',
        toy(),
        dict(type='OptimWrapper', optimizer=SGD),
        max_iters=6,
        ckpt_interval=6,
        custom_hooks=[])
    plain.train()
    path = tmp_path / 'plain' / 'iter_6.pth'
    opt_state = load_ckpt(path)['optimizer']
    assert 'arsam_mm' not in opt_state

    # Directly: the base state loads, rho is filled in, a warning is given.
    logged = []
    monkeypatch.setattr(checkpoint, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    model = toy(seed=3)
    cfg = {k: v for k, v in ARSAM.items() if k not in ('type', 'optimizer')}
    wrapper = ARSAMOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        **cfg)
    wrapper.load_state_dict(copy.deepcopy(opt_state))
    assert len(logged) == 1
    assert "no 'arsam_mm' state" in logged[0][0]
    assert logged[0][1]['level'] == 30
    for i, p in enumerate(model.parameters()):
        assert torch.equal(wrapper.optimizer.state[p]['momentum_buffer'],
                           opt_state['state'][i]['momentum_buffer'])
    assert wrapper.optimizer.param_groups[0]['rho'] == 0.05
    assert wrapper.sharpness.iters == 0
    assert wrapper.sharpness.schedule.iter == 0
    monkeypatch.undo()

    # Through a Runner: resume warns (in the text log) and trains on.
    resumed = make_runner(
        tmp_path / 'resume',
        toy(seed=4),
        ARSAM,
        max_iters=10,
        load_from=str(path),
        resume=True)
    resumed.train()
    assert resumed.iter == 10
    sa = resumed.optim_wrapper.sharpness
    assert sa.iters == 4 and sa.schedule.iter == 4  # schedule started afresh
    assert sa.sam_steps == 3  # warm-up of 3
    assert "has no 'arsam_mm' state" in log_text(resumed)
    assert not torch.equal(resumed.model.fc1.weight,
                           plain.model.fc1.weight)


def _equal(a, b):
    """Nested containers of tensors and plain values, equal."""
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b) and a.dtype == b.dtype
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(
            _equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_unversioned_layout_migrates_to_format_1(tmp_path):
    """``migrate_unversioned`` gives back the format-1 state, the driver's
    pass count included (``iters + sam_runs``), inside a cycle too; a
    layout older than the unversioned one, or another format, is refused
    by name."""
    cfg = dict(ARSAM, accumulative_counts=2)
    run = make_runner(tmp_path, toy(), cfg, max_iters=10, ckpt_interval=1,
                      custom_hooks=[])
    run.train()
    for k in (4, 7):
        sam = load_ckpt(tmp_path / f'iter_{k}.pth')['optimizer']['arsam_mm']
        assert sam['driver']['passes'] != sam['wrapper']['grad_evals']
        assert (sam['wrapper']['cycle'] is None) == (k == 4)
        assert _equal(checkpoint.migrate_unversioned(unversioned(sam)), sam)

    model = toy()
    wrapper = ARSAMOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), window=5)
    state = wrapper.state_dict()
    old = dict(state, arsam=unversioned(state['arsam_mm']))
    del old['arsam_mm']
    del old['arsam']['schedule_type'], old['arsam']['sam_failed']
    with pytest.raises(ValueError, match='lacks schedule_type, sam_failed'):
        wrapper.load_state_dict(old)
    state['arsam_mm']['format'] = 2
    with pytest.raises(ValueError, match='has format 2'):
        wrapper.load_state_dict(state)

# --------------------------------------------------------------------------
# 3. EMAHook sees only the updated weights
# --------------------------------------------------------------------------


def test_ema_hook_never_sees_perturbed_weights(tmp_path):
    momentum, lr, iters = 0.5, 0.1, 12
    model = toy(noise=0.1)
    params = dict(model.named_parameters())
    before, after = [], []

    class Trajectory(Hook):
        priority = 'VERY_HIGH'  # before EMAHook (NORMAL) after each iter

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            before.append({k: p.detach().clone() for k, p in params.items()})

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            wrapper = runner.optim_wrapper
            assert not wrapper.sharpness.perturbed
            now = {k: p.detach().clone() for k, p in params.items()}
            # The weights the hooks see are exactly w - lr * buf of SGD's
            # step (a leaked perturbation would add rho-sized offsets).
            for k, p in params.items():
                buf = wrapper.optimizer.state[p]['momentum_buffer']
                assert torch.allclose(
                    now[k], before[-1][k] - lr * buf, rtol=0, atol=1e-6), k
            after.append(now)

    cfg = dict(ARSAM, warmup_iters=2, window=3, max_reuse_steps=1)
    runner = make_runner(
        tmp_path,
        model,
        cfg,
        max_iters=iters,
        custom_hooks=[
            dict(type='EMAHook', momentum=momentum),
            dict(type='ARSAMHook'),
            Trajectory()
        ])
    runner.train()
    sa = runner.optim_wrapper.sharpness
    assert len(after) == iters and 0 < sa.sam_steps < iters
    ema_hook = next(h for h in runner.hooks if isinstance(h, EMAHook))

    expected = dict(after[0])
    for snap in after[1:]:
        for k in expected:
            expected[k] = (1 - momentum) * expected[k] + momentum * snap[k]
    ema_params = dict(ema_hook.ema_model.module.named_parameters())
    for k, v in expected.items():
        assert torch.allclose(ema_params[k], v, rtol=0, atol=1e-6), k
    # ... and the EMA differs from the last weights (it does average).
    assert not torch.allclose(ema_params['fc1.weight'],
                              after[-1]['fc1.weight'])


# --------------------------------------------------------------------------
# 4. what the wrappers log by themselves, and the optional ARSAMHook
# --------------------------------------------------------------------------


def test_wrapper_logs_scalars_without_a_hook(tmp_path):
    iters = 14
    model = toy()
    model.record = True
    rows = []

    def record(runner):
        hub = runner.message_hub
        rows.append(
            dict(
                forwards=len(model.seen),
                n=runner.optim_wrapper.sharpness.schedule.n,
                **{
                    name: hub.get_scalar(f'train/{name}').current()
                    for name in ('sam_step', 'sam_fraction', 'grad_evals',
                                 'rho', 'sam_count', 'psf_norm')
                }))

    cfg = dict(ARSAM, warmup_iters=2, window=4, max_reuse_steps=2)
    runner = make_runner(
        tmp_path,
        model,
        cfg,
        max_iters=iters,
        custom_hooks=[Recorder(record)])
    runner.train()
    sa = runner.optim_wrapper.sharpness
    assert len(rows) == iters
    sam_total, prev_forwards = 0, 0
    for i, row in enumerate(rows, 1):
        passes = row['forwards'] - prev_forwards  # counted independently
        prev_forwards = row['forwards']
        assert passes in (1, 2)
        assert row['sam_step'] == passes - 1
        sam_total += row['sam_step']
        assert row['grad_evals'] == row['forwards'] == i + sam_total
        assert row['sam_fraction'] == pytest.approx(sam_total / i)
        assert row['rho'] == 0.05
        assert row['sam_count'] == row['n']
    assert [r['sam_step'] for r in rows[:2]] == [1, 1]  # warm-up
    assert 2 < sam_total < iters
    assert sam_total == sa.sam_steps and sa.iters == iters
    assert sa.grad_evals == iters + sam_total
    psf = torch.sqrt(
        sum((b.double()**2).sum() for b in sa.store.buffers.values()))
    assert rows[-1]['psf_norm'] == pytest.approx(float(psf), rel=1e-5)
    assert rows[-1]['psf_norm'] > 0
    text = log_text(runner)
    for name in ('sam_fraction', 'grad_evals', 'sam_count', 'psf_norm'):
        assert name in text


def _sam_pattern_runner(tmp_path, hook, warmup_ratio=None,
                        warmup_epochs=None, **kwargs):
    pattern = []

    def record(runner):
        pattern.append(int(runner.optim_wrapper.sharpness.plan.sam))

    cfg = dict(ARSAM, warmup_iters=0, window=4, max_reuse_steps=2,
               warmup_ratio=warmup_ratio, warmup_epochs=warmup_epochs)
    runner = make_runner(
        tmp_path, toy(), cfg, custom_hooks=[hook, Recorder(record)],
        **kwargs)
    runner.train()
    return runner, pattern


@pytest.mark.parametrize('where', ['wrapper', 'hook'])
def test_warmup_epochs(tmp_path, where):
    hook = dict(type='ARSAMHook', warmup_epochs=1) if where == 'hook' \
        else dict(type='EmptyCacheHook')
    runner, pattern = _sam_pattern_runner(
        tmp_path,
        hook,
        by_epoch=True,
        max_epochs=2,
        dataset_size=32,
        **({} if where == 'hook' else dict(warmup_epochs=1)))
    assert len(runner.train_dataloader) == 4
    assert runner.optim_wrapper.sharpness.schedule.warmup_iters == 4
    # 4 warm-up SAM steps, then one window of 4 with n = 1 SAM step.
    assert pattern[:4] == [1, 1, 1, 1]
    assert len(pattern) == 8 and sum(pattern[4:]) == 1


@pytest.mark.parametrize('where', ['wrapper', 'hook'])
def test_warmup_ratio(tmp_path, where):
    hook = dict(type='ARSAMHook', warmup_ratio=0.5) if where == 'hook' \
        else dict(type='EmptyCacheHook')
    runner, pattern = _sam_pattern_runner(
        tmp_path, hook, max_iters=10,
        **({} if where == 'hook' else dict(warmup_ratio=0.5)))
    assert runner.optim_wrapper.sharpness.schedule.warmup_iters == 5
    assert pattern[:5] == [1] * 5
    assert len(pattern) == 10
    assert sum(pattern[5:9]) == 1  # the first window after warm-up


def test_state_dict_refused_while_perturbed():
    model = toy()
    wrapper = SAMOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    wrapper.sharpness.begin()
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    wrapper.state_dict()  # not perturbed: fine
    wrapper.sharpness.perturb()
    with pytest.raises(RuntimeError, match='perturbed'):
        wrapper.state_dict()
    wrapper.sharpness.restore()
    wrapper.state_dict()


@pytest.mark.parametrize('kwargs', [
    dict(warmup_iters=3, warmup_ratio=0.1),
    dict(warmup_epochs=1, warmup_ratio=0.1),
    dict(warmup_epochs=-1),
    dict(warmup_ratio=1.5),
])
def test_wrapper_rejects_bad_warmup(kwargs):
    with pytest.raises(ValueError, match='warmup'):
        ARSAMOptimWrapper(
            optimizer=torch.optim.SGD(toy().parameters(), lr=0.1), **kwargs)


@pytest.mark.parametrize('kwargs', [
    dict(warmup_epochs=1, warmup_ratio=0.1),
    dict(warmup_epochs=-1),
    dict(warmup_ratio=1.5),
])
def test_hook_rejects_bad_warmup(kwargs):
    with pytest.raises(ValueError, match='warmup'):
        ARSAMHook(**kwargs)


# --------------------------------------------------------------------------
# 5. mmengine param schedulers drive lr and rho
# --------------------------------------------------------------------------


def test_param_schedulers_drive_lr_and_rho(tmp_path):
    iters, rho, lr = 12, 0.05, 0.1
    model = toy()
    snaps = []
    model.register_forward_pre_hook(
        lambda m, args: snaps.append(
            [p.detach().clone() for p in m.parameters()]))
    rows = []
    runner = make_runner(
        tmp_path,
        model,
        dict(type='SAMOptimWrapper', rho=rho, optimizer=SGD),
        max_iters=iters,
        param_scheduler=[
            dict(
                type='LinearLR',
                start_factor=0.5,
                by_epoch=False,
                begin=0,
                end=10),
            dict(
                type='LinearParamScheduler',
                param_name='rho',
                start_factor=1.0,
                end_factor=0.1,
                by_epoch=False,
                begin=0,
                end=10)
        ],
        custom_hooks=[
            dict(type='ARSAMHook'),
            # after ARSAMHook (NORMAL), before ParamSchedulerHook (LOW)
            Recorder(
                lambda r: rows.append(
                    (r.message_hub.get_scalar('train/rho').current(),
                     r.optim_wrapper.optimizer.param_groups[0]['lr'])),
                priority='BELOW_NORMAL')
        ])
    runner.train()
    group = runner.optim_wrapper.optimizer.param_groups[0]
    assert group['rho'] == pytest.approx(rho * 0.1, rel=1e-6)
    assert group['lr'] == pytest.approx(lr, rel=1e-6)
    assert len(rows) == iters and len(snaps) == 2 * iters
    for i, (logged_rho, used_lr) in enumerate(rows):
        t = min(i, 9) / 9  # mmengine: total_iters = end - begin - 1
        assert logged_rho == pytest.approx(rho * (1 - 0.9 * t), rel=1e-6)
        assert used_lr == pytest.approx(lr * (0.5 + 0.5 * t), rel=1e-6)
        # The scheduled rho is the radius pass 2 actually used.
        w, w_e = snaps[2 * i], snaps[2 * i + 1]
        radius = torch.sqrt(sum(((b - a)**2).sum() for a, b in zip(w, w_e)))
        assert float(radius) == pytest.approx(logged_rho, rel=1e-3)


# --------------------------------------------------------------------------
# 6. registries of downstream toolboxes
# --------------------------------------------------------------------------


@pytest.mark.parametrize('scope', ['mmseg', 'mmpose'])
def test_registry_finds_wrappers_and_hook(scope, tmp_path):
    registry = pytest.importorskip(f'{scope}.registry')
    from mmengine.optim import build_optim_wrapper
    model = toy()
    with DefaultScope.overwrite_default_scope(scope):
        for name, cls in [('SAMOptimWrapper', SAMOptimWrapper),
                          ('ARSAMOptimWrapper', ARSAMOptimWrapper)]:
            assert registry.OPTIM_WRAPPERS.get(name) is cls
            built = registry.OPTIM_WRAPPERS.build(
                dict(
                    type=name,
                    rho=0.1,
                    optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
            assert type(built) is cls and built.rho == 0.1
            # mmengine's builder, as the Runner calls it, under the scope.
            built = build_optim_wrapper(model, dict(type=name, optimizer=SGD))
            assert type(built) is cls
        assert registry.HOOKS.get('ARSAMHook') is ARSAMHook
        hook = registry.HOOKS.build(dict(type='ARSAMHook', warmup_ratio=0.2))
        assert isinstance(hook, ARSAMHook) and hook.warmup_ratio == 0.2


def _compat_is_stub():
    return len(inspect.getsource(arsam_mm.compat).strip()) < 100


@pytest.mark.parametrize('scope', ['mmseg', 'mmpose'])
def test_runner_with_downstream_default_scope(scope, tmp_path):
    if _compat_is_stub():
        pytest.skip('arsam_mm.compat is a stub: mmseg/mmpose modules need '
                    'its mmcv-lite shim')
    pytest.importorskip(f'{scope}.registry')
    runner = make_runner(
        tmp_path, toy(), ARSAM, max_iters=4, default_scope=scope)
    runner.train()
    assert type(runner.optim_wrapper) is ARSAMOptimWrapper
    assert any(isinstance(h, ARSAMHook) for h in runner.hooks)
    assert runner.optim_wrapper.sharpness.iters == 4
    assert runner.message_hub.get_scalar('train/grad_evals').current() == 7


# --------------------------------------------------------------------------
# 7. bad configurations fail before training
# --------------------------------------------------------------------------


def _assert_nothing_trained(tmp_path, model, initial):
    assert model.seen == []
    assert glob.glob(str(tmp_path / '*.pth')) == []
    assert_bit_identical(weights(model), initial)


def test_bad_window_fails_before_training(tmp_path):
    model = toy()
    model.record = True
    initial = weights(model)
    runner = make_runner(tmp_path, model, dict(ARSAM, window=0),
                         ckpt_interval=1)
    with pytest.raises(ValueError, match='window'):
        runner.train()
    assert runner.iter == 0
    _assert_nothing_trained(tmp_path, model, initial)


def test_unknown_kwarg_fails_before_training(tmp_path):
    model = toy()
    model.record = True
    initial = weights(model)
    runner = make_runner(tmp_path, model, dict(ARSAM, windw=5),
                         ckpt_interval=1)
    with pytest.raises(TypeError, match='windw'):
        runner.train()
    _assert_nothing_trained(tmp_path, model, initial)


def test_optim_wrapper_dict_is_refused(tmp_path):
    model = toy()
    model.record = True
    initial = weights(model)
    wrappers = dict(
        fc1=SAMOptimWrapper(
            optimizer=torch.optim.SGD(model.fc1.parameters(), lr=0.1)),
        fc2=OptimWrapper(
            optimizer=torch.optim.SGD(model.fc2.parameters(), lr=0.1)))
    runner = make_runner(tmp_path, model, wrappers, ckpt_interval=1)
    assert isinstance(runner.build_optim_wrapper(wrappers), OptimWrapperDict)
    with pytest.raises(ValueError, match='OptimWrapperDict'):
        runner.train()
    _assert_nothing_trained(tmp_path, model, initial)


class OwnTrainStep(ToyModel):
    """Overrides train_step and bypasses optim_context."""

    def train_step(self, data, optim_wrapper):
        data = self.data_preprocessor(data, True)
        losses = self._run_forward(data, mode='loss')
        loss, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return log_vars


@pytest.mark.parametrize('hooks', [[], [dict(type='ARSAMHook')]])
def test_overridden_train_step_refused_before_training(tmp_path, hooks):
    torch.manual_seed(0)
    model = OwnTrainStep(noise=0.0)
    model.record = True
    initial = weights(model)
    runner = make_runner(tmp_path, model, ARSAM, ckpt_interval=1,
                         custom_hooks=hooks)
    with pytest.raises(ValueError, match='train_step'):
        runner.train()
    _assert_nothing_trained(tmp_path, model, initial)


@pytest.mark.parametrize('wrapper_type',
                         ['SAMOptimWrapper', 'ARSAMOptimWrapper'])
def test_bypassed_optim_context_fails_at_first_update(wrapper_type):
    """Outside a Runner (no check before training) the first update fails
    before changing anything."""
    torch.manual_seed(0)
    model = OwnTrainStep(noise=0.0)
    model.record = True
    initial = weights(model)
    wrapper = build_optim_wrapper(model, dict(type=wrapper_type,
                                              optimizer=SGD))
    data = next(iter(torch.utils.data.DataLoader(ToyDataset(8),
                                                 batch_size=8)))
    with pytest.raises(RuntimeError, match='optim_context'):
        model.train_step(data, wrapper)
    assert len(model.seen) == 1  # pass 1's forward ran, then the update
    assert all(p.grad is None for p in model.parameters())
    assert_bit_identical(weights(model), initial)


def test_missing_data_preprocessor_refused_before_training(tmp_path):
    model = toy()
    model.data_preprocessor = None
    initial = weights(model)
    runner = make_runner(tmp_path, model, ARSAM, ckpt_interval=1,
                         custom_hooks=[])
    with pytest.raises(ValueError, match='data_preprocessor'):
        runner.train()
    assert_bit_identical(weights(model), initial)


@pytest.mark.parametrize('cfg, name, close', [
    (dict(ARSAM, windw=20), 'windw', 'window'),
    (dict(type='SAMOptimWrapper', optimizer=SGD, rhoo=0.1), 'rhoo', 'rho'),
    (dict(type='SAMOptimWrapper', optimizer=SGD, accumulative_count=2),
     'accumulative_count', 'accumulative_counts'),
])
def test_typo_names_the_argument_and_the_valid_ones(cfg, name, close):
    with pytest.raises(TypeError) as info:
        build_optim_wrapper(toy(), copy.deepcopy(cfg))
    text = str(info.value)
    assert repr(name) in text and f'did you mean {close!r}' in text
    assert 'valid arguments' in text and 'clip_grad' in text
