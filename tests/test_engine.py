"""Optimizer wrappers driven through an unmodified mmengine train_step."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper, build_optim_wrapper

import arsam_mm  # noqa: F401  (registers the wrappers)
from tests._reference import reference_sam_loop
from tests._toy import ToyModel, make_batches


def build(model, **cfg):
    cfg.setdefault('optimizer', dict(type='SGD', lr=0.1, momentum=0.9))
    return build_optim_wrapper(model, cfg)


def train(model, wrapper, batches):
    plans = []
    for data in batches:
        model.train_step(data, wrapper)
        plans.append(wrapper.sharpness.plan)
    return plans


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize('cfg', [
    dict(type='SAMOptimWrapper', rho=0.05),
    dict(type='ARSAMOptimWrapper', rho=0.05, warmup_iters=20, seed=0),
])
def test_wrapper_equals_hand_written_sam(cfg):
    torch.manual_seed(0)
    model = ToyModel().double()
    start = copy.deepcopy(model)
    wrapper = build(model, **cfg)
    batches = [{k: v.double() if v.is_floating_point() else v
                for k, v in b.items()} for b in make_batches(20)]
    model.record = True
    train(model, wrapper, batches)
    # Each iteration ran two forwards on the same (randomly augmented) batch.
    assert len(model.seen) == 40
    firsts, seconds = model.seen[0::2], model.seen[1::2]
    assert all(torch.equal(a, b) for a, b in zip(firsts, seconds))
    assert not torch.equal(firsts[0], batches[0]['inputs'])  # augmented
    history, _ = reference_sam_loop(
        start, list(zip(firsts, [b['labels'] for b in batches])), rho=0.05,
        lr=0.1, momentum=0.9, forward=ToyModel.logits)
    expected = history[-1]
    for got, exp in zip(model.parameters(), expected):
        torch.testing.assert_close(got.detach(), exp, rtol=1e-10, atol=1e-12)
    assert wrapper.inner_count == 20
    assert wrapper.sharpness.grad_evals == 40


def test_reuse_steps_run_one_pass_and_mix():
    torch.manual_seed(0)
    model = ToyModel()
    wrapper = build(
        model,
        type='ARSAMOptimWrapper',
        warmup_iters=2,
        window=10,
        max_reuse_steps=3,
        seed=0)
    model.record = True
    plans = train(model, wrapper, make_batches(30))
    passes = sum(2 if p.sam else 1 for p in plans)
    assert len(model.seen) == passes == wrapper.sharpness.grad_evals
    assert any(p.mix_weight > 0 for p in plans)
    assert 2 < sum(p.sam for p in plans) < 30


def test_reuse_step_update_is_g_plus_weighted_psf():
    """One reuse step equals a base step with g + lam * v, by hand."""
    torch.manual_seed(0)
    model = ToyModel(noise=0.0).double()
    wrapper = build(
        model, type='ARSAMOptimWrapper', warmup_iters=1, window=50, seed=0,
        optimizer=dict(type='SGD', lr=0.1))
    batches = [{k: v.double() if v.is_floating_point() else v
                for k, v in b.items()} for b in make_batches(2)]
    model.train_step(batches[0], wrapper)
    v = [wrapper.sharpness.store.buffers[i].clone() for i in range(4)]
    before = weights(model)
    twin = copy.deepcopy(model)
    twin.zero_grad()
    loss = twin(**batches[1])['loss']
    loss.backward()
    model.train_step(batches[1], wrapper)
    plan = wrapper.sharpness.plan
    assert not plan.sam and plan.mix_weight == pytest.approx(0.7)
    for p, w, t, vi in zip(model.parameters(), before, twin.parameters(), v):
        expected = w - 0.1 * (t.grad + 0.7 * vi)
        torch.testing.assert_close(p.detach(), expected)


@pytest.mark.parametrize('kind', ['SAMOptimWrapper', 'ARSAMOptimWrapper'])
def test_accumulation_equals_concatenated_batch(kind):
    torch.manual_seed(0)
    model = ToyModel(noise=0.0).double()
    twin = copy.deepcopy(model)
    extra = dict(warmup_iters=100, seed=0) if kind.startswith('AR') else {}
    acc = build(model, type=kind, accumulative_counts=2, **extra)
    full = build(twin, type=kind, **extra)
    acc.initialize_count_status(model, 0, 20)
    batches = [{k: v.double() if v.is_floating_point() else v
                for k, v in b.items()} for b in make_batches(10, batch=16)]
    for data in batches:
        halves = [{k: v[:8] for k, v in data.items()},
                  {k: v[8:] for k, v in data.items()}]
        for half in halves:
            model.train_step(half, acc)
        twin.train_step(data, full)
    assert acc.inner_count == 20
    assert acc.sharpness.iters == 10 and acc.sharpness.sam_steps == 10
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_clipping_applies_to_the_sam_gradient_and_is_logged():
    torch.manual_seed(0)
    model = ToyModel(noise=0.0).double()
    start = copy.deepcopy(model)
    wrapper = build(
        model, type='SAMOptimWrapper', clip_grad=dict(max_norm=0.05))
    batches = [{k: v.double() if v.is_floating_point() else v
                for k, v in b.items()} for b in make_batches(5)]
    train(model, wrapper, batches)
    history, _ = reference_sam_loop(
        start, [(b['inputs'], b['labels']) for b in batches], rho=0.05,
        lr=0.1, momentum=0.9, forward=ToyModel.logits, clip=0.05)
    expected = history[-1]
    for got, exp in zip(model.parameters(), expected):
        torch.testing.assert_close(got.detach(), exp, rtol=1e-9, atol=1e-11)
    assert wrapper.message_hub.get_scalar('train/grad_norm').current() > 0.05


def test_batchnorm_running_stats_untouched_by_pass_two():
    torch.manual_seed(0)
    model = ToyModel(bn=True)
    twin = copy.deepcopy(model)
    sam = build(model, type='SAMOptimWrapper')
    base = build(twin, type='OptimWrapper')
    data = make_batches(1)[0]
    torch.manual_seed(1)
    model.train_step(data, sam)
    torch.manual_seed(1)
    twin.train_step(data, base)
    assert torch.equal(model.bn.running_mean, twin.bn.running_mean)
    assert torch.equal(model.bn.running_var, twin.bn.running_var)
    assert int(model.bn.num_batches_tracked) == 1
    assert model.bn.momentum == twin.bn.momentum == 0.1


def test_dropout_masks_replayed_in_pass_two():
    torch.manual_seed(0)
    model = ToyModel(dropout=0.5, noise=0.0)
    masks = []
    model.drop.register_forward_hook(
        lambda m, i, o: masks.append((o[0] == 0).clone()))
    wrapper = build(model, type='SAMOptimWrapper')
    model.train_step(make_batches(1)[0], wrapper)
    assert len(masks) == 2 and torch.equal(masks[0], masks[1])
    # The global stream continues as if pass 2 drew nothing.
    torch.manual_seed(5)
    model.train_step(make_batches(1)[0], wrapper)
    after_sam = torch.rand(3)
    plain = build(model, type='OptimWrapper')
    torch.manual_seed(5)
    model.train_step(make_batches(1)[0], plain)
    assert torch.equal(after_sam, torch.rand(3))


@pytest.mark.parametrize('optimizer', [
    dict(type='Adam', lr=1e-2),
    dict(type='AdamW', lr=1e-2, weight_decay=0.01),
    dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True),
])
def test_any_base_optimizer_and_paramwise_groups(optimizer):
    torch.manual_seed(0)
    model = ToyModel()
    wrapper = build(
        model,
        type='ARSAMOptimWrapper',
        warmup_iters=2,
        window=5,
        seed=0,
        optimizer=optimizer,
        paramwise_cfg=dict(bias_lr_mult=2.0, custom_keys={
            'fc2': dict(lr_mult=0.5)
        }))
    groups = wrapper.optimizer.param_groups
    assert len(groups) == 4
    assert all(g['rho'] == 0.05 for g in groups)
    before = weights(model)
    losses = []
    for data in make_batches(15) * 2:
        losses.append(float(model.train_step(data, wrapper)['loss']))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not all(torch.equal(a, b) for a, b in zip(before,
                                                     weights(model)))
    assert sum(losses[-5:]) < sum(losses[:5])
    # Adam's lazily created state is untouched by our own keys.
    for state in wrapper.optimizer.state.values():
        assert not any(k in state for k in ('psf', 'e_w', 'old_p'))


def test_rho_zero_is_the_base_optimizer_through_the_wrapper():
    torch.manual_seed(0)
    model = ToyModel(noise=0.0)
    twin = copy.deepcopy(model)
    arsam = build(model, type='ARSAMOptimWrapper', rho=0.0, warmup_iters=3,
                  window=4, seed=0)
    base = build(twin, type='OptimWrapper')
    for data in make_batches(12):
        model.train_step(data, arsam)
        twin.train_step(data, base)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_interval_takes_sam_every_kth_step():
    torch.manual_seed(0)
    model = ToyModel()
    wrapper = build(model, type='SAMOptimWrapper', interval=3)
    plans = train(model, wrapper, make_batches(9))
    assert [p.sam for p in plans] == [True, False, False] * 3
    assert all(p.mix_weight == 0 for p in plans)


def test_adaptive_sam_perturbation_is_elementwise():
    torch.manual_seed(0)
    model = ToyModel(noise=0.0).double()
    wrapper = build(model, type='SAMOptimWrapper', adaptive=True, rho=0.5)
    w = weights(model)
    data = {k: v.double() if v.is_floating_point() else v
            for k, v in make_batches(1)[0].items()}
    model.zero_grad()
    model(**data)['loss'].backward()
    g = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    seen = []
    model.fc2.register_forward_pre_hook(
        lambda m, i: seen.append(m.weight.detach().clone()))
    model.train_step(data, wrapper)
    norm = torch.sqrt(sum(((wi * gi)**2).sum() for wi, gi in zip(w, g)))
    e_fc2 = 0.5 * w[2]**2 * g[2] / norm
    torch.testing.assert_close(seen[1], w[2] + e_fc2)


@pytest.mark.parametrize('cfg, exc, match', [
    (dict(type='SAMOptimWrapper', rho=-1.0), ValueError, 'rho'),
    (dict(type='ARSAMOptimWrapper', rho=-0.5), ValueError, 'rho'),
    (dict(type='ARSAMOptimWrapper', window=0), ValueError, 'window'),
    (dict(type='ARSAMOptimWrapper', max_sam_ratio=0), ValueError,
     'max_sam_ratio'),
    (dict(type='ARSAMOptimWrapper', max_sam_ratio=1.2), ValueError,
     'max_sam_ratio'),
    (dict(type='ARSAMOptimWrapper', beta=1.0), ValueError, 'beta'),
    (dict(type='ARSAMOptimWrapper', max_reuse_steps=-2), ValueError,
     'max_reuse_steps'),
    (dict(type='ARSAMOptimWrapper', stat_tensors=0), ValueError,
     'stat_tensors'),
    (dict(type='ARSAMOptimWrapper', alpha=0.13), TypeError, 'alpha'),
    (dict(type='ARSAMOptimWrapper', alpha=(0.1, 'x')), TypeError, 'alpha'),
    (dict(type='ARSAMOptimWrapper', windw=5), TypeError, 'windw'),
    (dict(type='SAMOptimWrapper', interval=0), ValueError, 'interval'),
    (dict(type='SAMOptimWrapper', adaptive='yes'), TypeError, 'adaptive'),
    (dict(type='SAMOptimWrapper', replay_random=1), TypeError,
     'replay_random'),
])
def test_bad_arguments_fail_at_build(cfg, exc, match):
    with pytest.raises(exc, match=match):
        build(ToyModel(), **cfg)


def test_bypassing_optim_context_is_refused_before_any_update():
    model = ToyModel()
    wrapper = build(model, type='ARSAMOptimWrapper', seed=0)
    before = weights(model)
    loss = model(**make_batches(1)[0])['loss']
    with pytest.raises(RuntimeError, match='optim_context'):
        wrapper.update_params(loss)
    assert all(torch.equal(a, b) for a, b in zip(before, weights(model)))


def test_plain_optim_wrapper_untouched():
    """Registering ours leaves mmengine's OptimWrapper as it was."""
    wrapper = build(ToyModel(), type='OptimWrapper')
    assert type(wrapper) is OptimWrapper
    assert 'rho' not in wrapper.optimizer.param_groups[0]


def test_perturbed_state_dict_is_refused_and_weights_restored_on_error():
    torch.manual_seed(0)
    model = ToyModel()
    wrapper = build(model, type='SAMOptimWrapper')
    before = weights(model)
    data = make_batches(1)[0]
    calls = []

    def failing_forward(module, args, kwargs):
        calls.append(1)
        if len(calls) == 2:  # pass 2
            with pytest.raises(RuntimeError, match='perturbed'):
                wrapper.state_dict()
            raise KeyError('boom')

    handle = model.register_forward_pre_hook(failing_forward,
                                             with_kwargs=True)
    with pytest.raises(KeyError):
        model.train_step(data, wrapper)
    handle.remove()
    assert not wrapper.sharpness.perturbed
    for a, b in zip(before, weights(model)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)


def test_schedules_say_whether_they_have_a_seed_to_share():
    """``StepSchedule.seed`` is None for a schedule that draws nothing; the
    randomized ones restart their draws from another seed with ``reseed``
    (what the wrappers do with rank 0's seed in a distributed run)."""
    from arsam_mm.core import (AESAMSchedule, ARSAMSchedule, LateSchedule,
                               PeriodicSchedule, RandomSchedule)
    from arsam_mm.engine.optim_wrappers.seed_broadcast import broadcast_seed
    for plain in (PeriodicSchedule(2), AESAMSchedule(), LateSchedule(0.5)):
        assert plain.seed is None
        broadcast_seed(plain)  # nothing to share
        with pytest.raises(NotImplementedError, match='draws no random'):
            plain.reseed(1)
    for make in (lambda seed: RandomSchedule(0.5, seed=seed),
                 lambda seed: ARSAMSchedule(window=4, seed=seed)):
        reseeded, fresh = make(3), make(5)
        reseeded.reseed(5)
        assert reseeded.seed == 5
        assert [reseeded.plan() for _ in range(12)] == \
            [fresh.plan() for _ in range(12)]
        broadcast_seed(reseeded)  # a single process keeps its seed
        assert reseeded.seed == 5
