"""AmpSAMOptimWrapper / AmpARSAMOptimWrapper (and late-phase SAM's twin) on
CUDA (skipped without it).

``AmpOptimWrapper`` asserts an accelerator at construction, so every wrapper
here is built inside a test. What is checked: fp16 and bf16 runs train and
stay close to the fp32 wrappers; pass 2 runs under autocast; the stored PSF
is unscaled (independent of the loss scale); a step whose pass-1 gradients
are not finite skips pass 2, leaves the weights and the optimizer state
alone, lowers the dynamic scale and clears the PSF.
"""
import copy

import pytest
import torch

from tests._toy import ToyModel, make_batches

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
]

LR = 0.1
MOMENTUM = 0.9
#: Iterations of the comparison runs: the warm-up plus less than a window,
#: so ARSAM's decisions depend on its generator alone (no statistics) and
#: the fp32 and AMP runs take the same ones.
ITERS = 8
ARSAM_KW = dict(warmup_iters=3, window=6, max_reuse_steps=3, rho=0.05, seed=3)


def wrappers():
    from arsam_mm.engine.optim_wrappers import (AmpARSAMOptimWrapper,
                                                AmpSAMOptimWrapper,
                                                ARSAMOptimWrapper,
                                                SAMOptimWrapper)
    return dict(
        sam=(SAMOptimWrapper, AmpSAMOptimWrapper, dict(rho=0.05)),
        arsam=(ARSAMOptimWrapper, AmpARSAMOptimWrapper, ARSAM_KW))


def make_model(**kw) -> ToyModel:
    torch.manual_seed(0)
    return ToyModel(**kw).cuda()


def build(cls, model, **kw):
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    return cls(optimizer=optimizer, **kw)


def train(model, wrapper, iters=ITERS, seed=1):
    """``model.train_step`` on fixed batches; returns the decisions."""
    torch.manual_seed(seed)  # the preprocessor's noise
    decisions = []
    for data in make_batches(iters, seed=7):
        model.train_step(data, wrapper)
        plan = wrapper.sharpness.plan
        decisions.append((bool(wrapper.is_sam_step), float(plan.mix_weight)))
    return decisions


def params(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def psf(wrapper):
    return {k: v.detach().float().clone()
            for k, v in wrapper.sharpness.store.buffers.items()}


def flat(tensors: dict) -> torch.Tensor:
    return torch.cat([tensors[k].flatten() for k in sorted(tensors)])


def assert_finite_and_trained(model, init):
    for name, value in model.named_parameters():
        assert torch.isfinite(value).all(), name
    assert any(not torch.equal(v, init[k]) for k, v in params(model).items())


def assert_near(got: dict, want: dict, rel: float) -> None:
    """Close in norm, relative to the norm of ``want``."""
    assert got.keys() == want.keys()
    g, w = flat(got), flat(want)
    assert torch.isfinite(g).all()
    assert float((g - w).norm()) <= rel * float(w.norm()), \
        (float((g - w).norm()), float(w.norm()))


@pytest.mark.parametrize('kind', ['sam', 'arsam'])
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_trains_close_to_fp32(kind, dtype):
    if dtype == 'bfloat16' and not torch.cuda.is_bf16_supported():
        pytest.skip('bf16 not supported on this GPU')
    plain, amp, kw = wrappers()[kind]
    ref_model = make_model()
    init = params(ref_model)
    ref = build(plain, ref_model, **kw)
    ref_decisions = train(ref_model, ref)

    model = make_model()
    wrapper = build(amp, model, loss_scale='dynamic', dtype=dtype, **kw)
    # Pass 2 runs under autocast too (it runs outside optim_context).
    dtypes = []
    model.fc1.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    decisions = train(model, wrapper)

    assert decisions == ref_decisions
    sam_steps = sum(s for s, _ in decisions)
    if kind == 'arsam':
        assert 3 <= sam_steps < ITERS
        assert any(w > 0 for s, w in decisions if not s)
    assert len(dtypes) == ITERS + sam_steps
    assert set(dtypes) == {getattr(torch, dtype)}
    # The dynamic scaler never had to skip a step on this toy problem.
    if dtype == 'float16':
        assert wrapper.loss_scaler.get_scale() == 2.**16
    assert_finite_and_trained(model, init)
    rel = 0.02 if dtype == 'float16' else 0.1
    assert_near(params(model), params(ref_model), rel)
    if kind == 'arsam':
        # The stored PSF is unscaled: near the fp32 run's, not 2**16 times
        # it (PSF = g_s - g loses relative precision; bf16 more so).
        ratio = float(flat(psf(wrapper)).norm() / flat(psf(ref)).norm())
        assert 0.5 < ratio < 2, ratio
        if dtype == 'float16':
            assert_near(psf(wrapper), psf(ref), 0.5)


def test_amp_latesam_switches_and_trains_close_to_fp32():
    """Late-phase SAM's twin: plain steps, then SAM steps on the run's
    second half as in fp32, pass 2 under autocast, weights close to the
    fp32 wrapper's."""
    from arsam_mm.engine.optim_wrappers import (AmpLateSAMOptimWrapper,
                                                LateSAMOptimWrapper)
    kw = dict(rho=0.05, target_ratio=0.5)
    ref_model = make_model()
    init = params(ref_model)
    ref = build(LateSAMOptimWrapper, ref_model, **kw)
    ref.initialize_count_status(ref_model, 0, ITERS)
    ref_decisions = train(ref_model, ref)
    assert ref_decisions == [(False, 0.0)] * 4 + [(True, 0.0)] * 4

    model = make_model()
    wrapper = build(AmpLateSAMOptimWrapper, model, loss_scale='dynamic',
                    dtype='float16', **kw)
    wrapper.initialize_count_status(model, 0, ITERS)
    dtypes = []
    model.fc1.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    assert train(model, wrapper) == ref_decisions
    assert dtypes == [torch.float16] * (ITERS + 4)
    assert wrapper.loss_scaler.get_scale() == 2.**16
    assert_finite_and_trained(model, init)
    assert_near(params(model), params(ref_model), 0.02)


def test_reuse_step_mixes_unscaled_psf():
    """On a reuse step the update uses ``g + lam * v`` (unscaled), checked
    against an fp32 ``g`` at the same weights on the same batch."""
    _, amp, kw = wrappers()['arsam']
    model = make_model(noise=0.0)  # the batch is the data, no randomness
    wrapper = build(amp, model, loss_scale='dynamic', **kw)
    used = []

    def keep(optimizer, args, kwargs):
        # After GradScaler.unscale_: the gradient the update really uses.
        used.append([p.grad.detach().clone() for p in model.parameters()])

    wrapper.optimizer.register_step_pre_hook(keep)
    checked = 0
    for data in make_batches(ITERS, seed=7):
        before = copy.deepcopy(model)
        v = psf(wrapper)
        model.train_step(data, wrapper)
        lam = wrapper.sharpness.plan.mix_weight
        if wrapper.is_sam_step or not lam:
            continue
        batch = before.data_preprocessor(data, True)
        loss = before(**batch, mode='loss')['loss']
        g = torch.autograd.grad(loss, list(before.parameters()))
        got = {i: u - gi for i, (u, gi) in enumerate(zip(used[-1], g))}
        want = {i: lam * v[i] for i in got}
        assert_near(got, want, 0.1)
        checked += 1
    assert len(used) == ITERS  # no step was skipped
    assert checked >= 2


@pytest.mark.parametrize('kind', ['sam', 'arsam'])
def test_stored_psf_independent_of_loss_scale(kind):
    _, amp, kw = wrappers()[kind]
    results = []
    for scale in (2.**10, 2.**16):
        model = make_model()
        wrapper = build(amp, model, loss_scale=scale, **kw)
        train(model, wrapper, iters=4)
        assert wrapper.loss_scaler.get_scale() == scale
        results.append((params(model), psf(wrapper)))
    (p_lo, v_lo), (p_hi, v_hi) = results
    # Powers of two scale fp16 gradients exactly (barring under/overflow).
    assert_near(p_lo, p_hi, 1e-3)
    assert v_lo and v_hi
    if kind == 'arsam':
        assert flat(v_hi).norm() > 0
        assert_near(v_lo, v_hi, 1e-2)
    else:
        # SAM stores the perturbation e (norm rho), unscaled as well.
        for v in (v_lo, v_hi):
            torch.testing.assert_close(
                float(flat(v).norm()), 0.05, rtol=1e-3, atol=0)


@pytest.mark.parametrize('kind', ['sam', 'arsam'])
def test_non_finite_pass1_skips_pass2(kind):
    _, amp, kw = wrappers()[kind]
    if kind == 'arsam':
        kw = dict(kw, warmup_iters=4)  # all four steps are SAM steps
    model = make_model()
    wrapper = build(amp, model, loss_scale='dynamic', **kw)
    batches = make_batches(4, seed=7)
    torch.manual_seed(1)
    for data in batches[:2]:  # SAM steps (ARSAM: warm-up)
        model.train_step(data, wrapper)
    if kind == 'arsam':
        assert flat(psf(wrapper)).norm() > 0
    scale = wrapper.loss_scaler.get_scale()
    before = params(model)
    momentum = {
        k: v['momentum_buffer'].clone()
        for k, v in wrapper.optimizer.state.items()
    }

    fired = []

    def poison(grad):
        fired.append(1)
        return torch.full_like(grad, float('inf'))

    handle = model.fc2.weight.register_hook(poison)
    model.record = True
    try:
        model.train_step(batches[2], wrapper)
    finally:
        handle.remove()
        model.record = False
    assert wrapper.is_sam_step
    assert len(fired) == 1
    assert len(model.seen) == 1  # pass 1 only
    after = params(model)
    for name in before:
        assert torch.equal(after[name], before[name]), name
    for k, v in wrapper.optimizer.state.items():
        assert torch.equal(v['momentum_buffer'], momentum[k])
    assert wrapper.loss_scaler.get_scale() < scale
    assert not wrapper.sharpness.perturbed
    if kind == 'arsam':  # the PSF is dropped, never mixed in
        assert all(not v.any()
                   for v in wrapper.sharpness.store.buffers.values())
    for p in model.parameters():  # zeroed for the next step
        assert p.grad is None or not p.grad.any()

    # Training goes on normally: two passes, finite weights that move.
    model.seen.clear()
    model.record = True
    model.train_step(batches[3], wrapper)
    assert wrapper.is_sam_step
    assert len(model.seen) == 2
    assert torch.equal(model.seen[0], model.seen[1])
    assert_finite_and_trained(model, after)


def test_bf16_wrappers_run_with_batchnorm_and_dropout():
    if not torch.cuda.is_bf16_supported():
        pytest.skip('bf16 not supported on this GPU')
    for kind, (_, amp, kw) in wrappers().items():
        model = make_model(bn=True, dropout=0.2)
        init = params(model)
        wrapper = build(amp, model, dtype='bfloat16', **kw)
        train(model, wrapper, iters=12)
        assert_finite_and_trained(model, init)
        assert torch.isfinite(model.bn.running_mean).all()
        assert int(model.bn.num_batches_tracked) == 12  # pass 1 only
