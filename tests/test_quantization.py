"""LSQ quantization-aware training: quantizer, layers, conversion, configs.

The quantizer is checked against explicit formulas (values: round-to-nearest
with clamping; gradients: the LSQ paper's eq. 3 and 5 with the gradient
scale) on float64, the conversion on mmpretrain/mmpose models built from the
registries, and the config path end to end with mmengine's Runner on the UCI
digits (generated into ``tmp_path``) for each optimizer wrapper.
"""
import copy
import glob
import math
import os.path as osp
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import arsam_mm  # noqa: F401  (applies the compatibility layer first)
from arsam_mm.quantization import (SUPPORTED_BITS, LSQQuantizer, QConv2d,
                                   QConvTranspose2d, QLinear, quant_range,
                                   quantize_model, quantized_layers)

REPO = Path(__file__).resolve().parents[1]
BAD_BITS = [1, 5, 16, 0, -4, '4', 4.0, True, None]


def _sign_cases():
    return [(b, s) for b in SUPPORTED_BITS for s in (True, False)]


def _init(q: LSQQuantizer, x: torch.Tensor, step) -> LSQQuantizer:
    """Initialise ``q`` on ``x`` and then set its step size by hand."""
    q.initialize(x)
    with torch.no_grad():
        q.step_size.copy_(torch.as_tensor(step, dtype=q.step_size.dtype))
    return q


def lsq_reference(x, step, bits, signed, channel_axis=None):
    """Explicit numpy formula: ``round(clip(x / s, -Qn, Qp)) * s``."""
    qn, qp = quant_range(bits, signed)
    x = x.detach().numpy()
    s = step.detach().numpy()
    if channel_axis is not None:
        shape = [1] * x.ndim
        shape[channel_axis] = -1
        s = s.reshape(shape)
    return np.round(np.clip(x / s, -qn, qp)) * s


def lsq_grads(x, step, upstream, bits, signed, g, channel_axis=None):
    """The LSQ paper's gradients, element by element (numpy, float64)."""
    qn, qp = quant_range(bits, signed)
    x = x.detach().numpy()
    s = step.detach().numpy()
    up = upstream.numpy()
    shape = [1] * x.ndim
    if channel_axis is not None:
        shape[channel_axis] = -1
    r = x / s.reshape(shape)
    inside = (r > -qn) & (r < qp)
    ds = np.where(inside, np.round(r) - r, np.where(r <= -qn, -qn, qp))
    if channel_axis is None:
        grad_s = np.array([(up * ds).sum()]) * g
    else:
        axes = tuple(i for i in range(x.ndim) if i != channel_axis)
        grad_s = (up * ds).sum(axis=axes) * g
    return inside.astype(np.float64) * up, grad_s


# --------------------------------------------------------------------------
# the quantizer
# --------------------------------------------------------------------------
@pytest.mark.parametrize('bits,signed', _sign_cases())
def test_levels_at_most_2_pow_bits(bits, signed):
    torch.manual_seed(bits)
    q = LSQQuantizer(bits, signed=signed).double()
    step = 0.05 if bits == 8 else 0.4
    qn, qp = quant_range(bits, signed)
    # a dense sweep well past both ends, plus heavy-tailed noise
    x = torch.cat([
        torch.linspace(-(qn + 3) * step - 1, (qp + 3) * step + 1, 20000,
                       dtype=torch.float64),
        torch.randn(4096, dtype=torch.float64).pow(3) * 10
    ])
    _init(q, x, [step])
    out = q(x)
    levels = torch.unique(out)
    assert len(levels) <= 2**bits
    # ... and exactly the grid -Qn..Qp (every level is hit by the sweep)
    grid = torch.arange(-qn, qp + 1, dtype=torch.float64) * q.step_size
    assert len(levels) == 2**bits
    torch.testing.assert_close(levels, grid, rtol=0, atol=1e-12)


@pytest.mark.parametrize('bits', SUPPORTED_BITS)
def test_levels_per_channel(bits):
    torch.manual_seed(0)
    q = LSQQuantizer(
        bits, signed=True, channel_axis=0, num_channels=6).double()
    w = torch.randn(6, 3, 5, 5, dtype=torch.float64) * torch.arange(
        1, 7, dtype=torch.float64).view(6, 1, 1, 1)
    out = q(w)
    counts = [len(torch.unique(out[c])) for c in range(6)]
    assert max(counts) <= 2**bits
    assert len(torch.unique(out)) > max(counts)  # the channels' grids differ


@pytest.mark.parametrize('bits,signed', _sign_cases())
@pytest.mark.parametrize('channel_axis', [None, 1])
def test_forward_is_round_to_nearest_with_clamp(bits, signed, channel_axis):
    torch.manual_seed(1)
    channels = 5 if channel_axis is not None else 1
    q = LSQQuantizer(
        bits,
        signed=signed,
        channel_axis=channel_axis,
        num_channels=channels).double()
    x = torch.randn(7, 5, 9, dtype=torch.float64) * 2
    _init(q, x, torch.rand(channels, dtype=torch.float64) * 0.5 + 0.05)
    out = q(x)
    ref = lsq_reference(x, q.step_size, bits, signed, channel_axis)
    np.testing.assert_array_equal(out.detach().numpy(), ref)
    assert out.dtype == x.dtype


def test_forward_keeps_half_precision_input_dtype():
    q = LSQQuantizer(4)
    x = torch.randn(8, 8).half()
    assert q(x).dtype == torch.float16


@pytest.mark.parametrize('bits,signed', _sign_cases())
@pytest.mark.parametrize('kind', ['weight_layer', 'weight_channel', 'act'])
def test_gradients_match_lsq_formula(bits, signed, kind):
    """Step-size gradient (eq. 3 times g) and input STE (eq. 5)."""
    torch.manual_seed(2)
    if kind == 'act':
        q = LSQQuantizer(bits, signed=signed, batch_axis=0)
        x = torch.randn(6, 4, 5, 5, dtype=torch.float64) * 2
        n = 4 * 5 * 5  # features per example: N_F
        axis = None
    elif kind == 'weight_layer':
        q = LSQQuantizer(bits, signed=signed)
        x = torch.randn(8, 4, 3, 3, dtype=torch.float64) * 2
        n = x.numel()
        axis = None
    else:
        q = LSQQuantizer(bits, signed=signed, channel_axis=0, num_channels=8)
        x = torch.randn(8, 4, 3, 3, dtype=torch.float64) * 2
        n = 4 * 3 * 3  # elements per channel
        axis = 0
    q = q.double()
    channels = 8 if axis is not None else 1
    # steps chosen so that values land inside and on both clamped sides
    qn, qp = quant_range(bits, signed)
    _init(q, x,
          (torch.rand(channels, dtype=torch.float64) * 0.5 + 0.5) * 3 / qp)
    x.requires_grad_(True)
    upstream = torch.randn(x.shape, dtype=torch.float64)
    q(x).backward(upstream)
    g = 1 / math.sqrt(n * qp)
    assert q.grad_scale(x) == pytest.approx(g, rel=1e-15)
    grad_x, grad_s = lsq_grads(x, q.step_size, upstream, bits, signed, g,
                               axis)
    np.testing.assert_allclose(
        q.step_size.grad.numpy(), grad_s, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(x.grad.numpy(), grad_x)
    # STE: exactly 1 inside the range, 0 outside
    assert set(np.unique(x.grad.numpy() / upstream.numpy())) <= {0.0, 1.0}
    r = (x / q.step_size.view(-1, *([1] * (x.dim() - 1)))
         if axis is not None else x / q.step_size).detach()
    assert ((r <= -qn) | (r >= qp)).any()  # both regimes were exercised
    assert ((r > -qn) & (r < qp)).any()


def test_gradients_match_autograd_reference():
    """Against autograd through a float64 STE formulation of LSQ."""
    torch.manual_seed(3)
    bits, signed = 3, True
    qn, qp = quant_range(bits, signed)
    q = LSQQuantizer(bits, signed=signed, channel_axis=0,
                     num_channels=4).double()
    x = torch.randn(4, 3, 3, 3, dtype=torch.float64) * 2
    _init(q, x, [0.2, 0.3, 0.4, 0.5])
    x1 = x.clone().requires_grad_(True)
    q(x1).sum().backward()

    s = q.step_size.detach().clone().requires_grad_(True)
    x2 = x.clone().requires_grad_(True)
    g = 1 / math.sqrt(27 * qp)
    s_g = (s - s * g).detach() + s * g  # value s, gradient times g
    v = torch.clamp(x2 / s_g.view(-1, 1, 1, 1), -qn, qp)
    v = (v.round() - v).detach() + v  # round with STE
    (v * s_g.view(-1, 1, 1, 1)).sum().backward()
    torch.testing.assert_close(q.step_size.grad, s.grad, rtol=1e-12, atol=0)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=0, atol=0)


@pytest.mark.parametrize('bits,signed', _sign_cases())
def test_initial_step_size(bits, signed):
    torch.manual_seed(4)
    w = torch.randn(5, 3, 3, 3)
    q = LSQQuantizer(bits, signed=signed, channel_axis=0, num_channels=5)
    q(w)
    qp = quant_range(bits, signed)[1]
    expected = 2 * w.abs().mean(dim=(1, 2, 3)) / math.sqrt(qp)
    torch.testing.assert_close(q.step_size.detach(), expected)
    a = LSQQuantizer(bits, signed=signed, batch_axis=0)
    a(w)
    torch.testing.assert_close(a.step_size.detach(),
                               (2 * w.abs().mean() / math.sqrt(qp)).view(1))
    # initialised once: later inputs do not change the step size
    before = a.step_size.detach().clone()
    a(w * 10)
    torch.testing.assert_close(a.step_size.detach(), before)


def test_auto_sign_from_first_batch():
    relu = LSQQuantizer(2, signed=None, batch_axis=0)
    relu(torch.rand(4, 8))
    assert not relu.signed and (relu.qn, relu.qp) == (0, 3)
    assert relu.signed_mode.item() == 0
    signed = LSQQuantizer(2, signed=None, batch_axis=0)
    signed(torch.randn(4, 8))
    assert signed.signed and (signed.qn, signed.qp) == (2, 1)


@pytest.mark.parametrize('bits', BAD_BITS)
def test_bad_nbitsrejected(bits):
    err = TypeError if not isinstance(bits, int) or isinstance(
        bits, bool) else ValueError
    with pytest.raises(err, match=r'bits .*' + re.escape(repr(bits))):
        LSQQuantizer(bits)
    with pytest.raises(err, match='w_bits'):
        QConv2d(3, 4, 3, w_bits=bits)
    with pytest.raises(err, match='a_bits'):
        QLinear(3, 4, a_bits=bits)
    for name in ('w_bits', 'a_bits', 'first_last_bits'):
        if name == 'first_last_bits' and bits is None:
            continue  # None: no 8-bit exception
        model = nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
        with pytest.raises(err, match=name):
            quantize_model(model, **{name: bits})
        # nothing was converted
        assert not quantized_layers(model)


def test_bad_quantizer_arguments():
    with pytest.raises(TypeError, match='signed'):
        LSQQuantizer(4, signed='yes')
    with pytest.raises(ValueError, match='num_channels'):
        LSQQuantizer(4, num_channels=3)
    with pytest.raises(ValueError, match='channel_axis and batch_axis'):
        LSQQuantizer(4, channel_axis=0, num_channels=2, batch_axis=0)
    q = LSQQuantizer(4, channel_axis=0, num_channels=3)
    with pytest.raises(ValueError, match='expected 3 channels'):
        q(torch.randn(4, 2))


def _ddp_init_worker(rank, port, out_dir):
    import datetime

    import torch.distributed as dist
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=2,
        timeout=datetime.timedelta(seconds=60))
    try:
        torch.manual_seed(rank)
        # rank 0 sees non-negative data, rank 1 also negative values
        x = torch.rand(4, 16) * (rank + 1) - 0.5 * rank
        q = LSQQuantizer(4, signed=None, batch_axis=0)
        q(x)
        torch.save(
            dict(x=x, step=q.step_size.detach(), signed=q.signed),
            osp.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_activation_init_agrees_across_ranks(tmp_path):
    import socket

    import torch.distributed as dist
    import torch.multiprocessing as mp
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip('needs torch.distributed with gloo')
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    mp.spawn(_ddp_init_worker, args=(port, str(tmp_path)), nprocs=2)
    r0, r1 = (torch.load(tmp_path / f'rank{r}.pth') for r in (0, 1))
    # the sign from the global minimum, the step from the mean over ranks
    assert r0['signed'] is True and r1['signed'] is True
    mean_abs = (r0['x'].abs().mean() + r1['x'].abs().mean()) / 2
    expected = 2 * mean_abs / math.sqrt(quant_range(4, True)[1])
    torch.testing.assert_close(r0['step'], expected.view(1))
    assert torch.equal(r0['step'], r1['step'])


# --------------------------------------------------------------------------
# layers and conversion
# --------------------------------------------------------------------------
def _small_net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 4, 4, 2, 1), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 16 * 16, 5))


def test_quantized_layers_match_float_layers_in_state_and_output():
    net = _small_net()
    x = torch.randn(2, 3, 8, 8)
    ref = copy.deepcopy(net)
    float_keys = set(net.state_dict())
    quantize_model(net, w_bits=8, a_bits=8)
    assert float_keys < set(net.state_dict())
    extra = set(net.state_dict()) - float_keys
    assert all(
        re.search(r'\.(weight|input)_quantizer\.(step_size|initialized|'
                  r'signed_mode)$', k) for k in extra), extra
    assert isinstance(net[0], nn.Conv2d) and isinstance(net[0], QConv2d)
    assert isinstance(net[5], QConvTranspose2d)
    assert isinstance(net[8], QLinear)
    # the very same parameters, not copies
    assert net[0].weight is dict(net.named_parameters())['0.weight']
    net.eval()
    ref.eval()
    with torch.no_grad():
        out, want = net(x), ref(x)
    # 8 bits everywhere: close to the float model, not equal
    assert not torch.equal(out, want)
    torch.testing.assert_close(out, want, rtol=0.1, atol=0.1)


def test_conversion_keeps_first_and_last_layer_at_8_bits():
    net = quantize_model(_small_net(), w_bits=2, a_bits=3)
    bits = {n: (m.w_bits, m.a_bits) for n, m in quantized_layers(net).items()}
    assert bits == {'0': (8, 8), '3': (2, 3), '5': (2, 3), '8': (8, 8)}
    net = quantize_model(_small_net(), w_bits=4, a_bits=4,
                         first_last_bits=None)
    assert {(m.w_bits, m.a_bits)
            for m in quantized_layers(net).values()} == {(4, 4)}
    net = quantize_model(_small_net(), first_last=['3'], skip=['8'])
    bits = {n: (m.w_bits, m.a_bits) for n, m in quantized_layers(net).items()}
    assert bits == {'0': (4, 4), '3': (8, 8), '5': (4, 4)}
    assert type(net[8]) is nn.Linear


def test_activation_sign_rule_after_relu():
    net = quantize_model(_small_net())
    net(torch.randn(2, 3, 8, 8))
    signed = {n: m.input_quantizer.signed
              for n, m in quantized_layers(net).items()}
    # the image is signed; every later input comes after a ReLU
    assert signed == {'0': True, '3': False, '5': False, '8': False}
    net = quantize_model(_small_net(), a_signed=True)
    net(torch.randn(2, 3, 8, 8))
    assert all(m.input_quantizer.signed
               for m in quantized_layers(net).values())


@pytest.mark.parametrize('layers', [('Conv1d', ), ('Conv2d', 'LSTM'),
                                    ('Conv3d', ), ('BatchNorm2d', )])
def test_unsupported_layer_types_rejected(layers):
    with pytest.raises(ValueError, match='layers: unsupported layer type'):
        quantize_model(_small_net(), layers=layers)


def test_conversion_argument_errors():
    with pytest.raises(TypeError, match='layers'):
        quantize_model(_small_net(), layers='Conv2d')
    with pytest.raises(TypeError, match='model must be an nn.Module'):
        quantize_model('resnet18')
    with pytest.raises(ValueError, match="skip: pattern 'head'"):
        quantize_model(_small_net(), skip=['head'])
    with pytest.raises(ValueError, match="first_last: 'x'"):
        quantize_model(_small_net(), first_last=['x'])
    with pytest.raises(ValueError, match='no layer of types'):
        quantize_model(nn.Sequential(nn.Conv1d(2, 2, 1)))
    net = quantize_model(_small_net())
    with pytest.raises(ValueError, match='already quantized'):
        quantize_model(net)
    with pytest.raises(TypeError, match='per_channel'):
        quantize_model(_small_net(), per_channel=1)


def test_custom_forward_subclass_and_attention_stay_float():

    class Odd(nn.Conv2d):

        def forward(self, x):
            return super().forward(x) * 2

    net = nn.Sequential(
        nn.Conv2d(3, 3, 1), Odd(3, 3, 1), nn.Flatten(2),
        nn.Linear(4, 4))
    net.attn = nn.MultiheadAttention(4, 2)
    with pytest.warns(UserWarning, match=r'1 \(Odd\).*attn.out_proj'):
        quantize_model(net)
    assert type(net[1]) is Odd
    assert not isinstance(net.attn.out_proj, QLinear)
    assert set(quantized_layers(net)) == {'0', '3'}


def test_float_state_dict_loads_and_step_sizes_initialise_from_it():
    flt = _small_net()
    flt_state = copy.deepcopy(flt.state_dict())
    torch.manual_seed(9)
    net = quantize_model(_small_net().apply(_reinit))
    net(torch.randn(2, 3, 8, 8))  # initialised from other weights
    result = net.load_state_dict(flt_state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for layer in quantized_layers(net).values():
        assert not any(q.is_initialized for q in layer.quantizers())
    net(torch.randn(2, 3, 8, 8))
    conv = net[3]
    qp = quant_range(4, True)[1]
    expected = 2 * flt_state['3.weight'].abs().mean(dim=(1, 2, 3)) / (
        math.sqrt(qp))
    torch.testing.assert_close(conv.weight_quantizer.step_size.detach(),
                               expected)


def _reinit(m):
    if isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, std=1.0)


def test_quantized_state_dict_round_trip():
    net = quantize_model(_small_net())
    x = torch.randn(2, 3, 8, 8)
    net.eval()
    with torch.no_grad():
        net(x)
        out = net(x)
    other = quantize_model(_small_net().apply(_reinit)).eval()
    other.load_state_dict(net.state_dict(), strict=True)
    for layer in quantized_layers(other).values():
        assert all(q.is_initialized for q in layer.quantizers())
    assert not other[3].input_quantizer.signed
    with torch.no_grad():
        torch.testing.assert_close(other(x), out, rtol=0, atol=0)


# --------------------------------------------------------------------------
# registry: mmpretrain and mmpose models from their configs
# --------------------------------------------------------------------------
def _hub_model(name):
    from mmengine.hub import get_config
    return get_config(name).model


def test_registered_in_root_and_found_from_toolbox_scopes():
    from mmengine.registry import MODELS
    from mmpose.registry import MODELS as POSE_MODELS
    from mmpretrain.registry import MODELS as CLS_MODELS

    import arsam_mm.quantization.mm_model as mm_model
    builder = mm_model.build_lsq_quantized_model
    assert MODELS.get('LSQQuantizedModel') is builder
    assert CLS_MODELS.get('LSQQuantizedModel') is builder
    assert POSE_MODELS.get('LSQQuantizedModel') is builder


def test_mmpretrain_resnet18_cifar_converted_from_config():
    from mmengine.hub import get_config
    from mmengine.registry import DefaultScope
    from mmpretrain.models import ImageClassifier
    from mmpretrain.registry import MODELS
    cfg = get_config('mmpretrain::resnet/resnet18_8xb16_cifar10.py')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(
            dict(
                type='LSQQuantizedModel',
                model=cfg.model,
                w_bits=2,
                a_bits=2,
                data_preprocessor=cfg.data_preprocessor))
    # the task model itself, with its own data preprocessor and train_step
    assert type(model) is ImageClassifier
    assert type(model.data_preprocessor).__name__ == 'ClsDataPreprocessor'
    assert model.data_preprocessor.mean.flatten()[0] == pytest.approx(
        125.307)
    layers = quantized_layers(model)
    assert len(layers) == 21  # 17 3x3 convs, 3 downsample convs, the fc
    bits = {n: (m.w_bits, m.a_bits) for n, m in layers.items()}
    assert bits.pop('backbone.conv1') == (8, 8)
    assert bits.pop('head.fc') == (8, 8)
    assert set(bits.values()) == {(2, 2)}
    model.eval()
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32), mode='tensor')
    signed = [n for n, m in layers.items() if m.input_quantizer.signed]
    assert signed == ['backbone.conv1']  # all other inputs follow a ReLU


def test_mmpose_simplebaseline_converted_from_config():
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS

    cfg = copy.deepcopy(
        _hub_model('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                   'td-hm_res50_8xb64-210e_coco-256x192.py'))
    cfg.backbone.init_cfg = None  # offline
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(
            dict(type='LSQQuantizedModel', model=cfg, w_bits=8, a_bits=8))
    layers = quantized_layers(model)
    names = list(layers)
    assert names[0] == 'backbone.conv1' and names[-1] == 'head.final_layer'
    deconvs = [n for n in names if n.startswith('head.deconv_layers')]
    assert len(deconvs) == 3
    assert all(isinstance(layers[n], QConvTranspose2d) for n in deconvs)
    assert len(names) == 53 + 3 + 1  # ResNet-50 convs, deconvs, final


def test_build_time_errors_from_config():
    from mmengine.registry import MODELS
    net = dict(type='Sequential')  # never reached: arguments fail first
    with pytest.raises(ValueError, match='w_bits'):
        MODELS.build(dict(type='LSQQuantizedModel', model=net, w_bits=5))
    with pytest.raises(TypeError, match='a_bits'):
        MODELS.build(dict(type='LSQQuantizedModel', model=net, a_bits='4'))
    with pytest.raises(ValueError, match='unsupported layer type'):
        MODELS.build(
            dict(type='LSQQuantizedModel', model=net, layers=['Conv3d']))


# --------------------------------------------------------------------------
# SAM/ARSAM and the step sizes
# --------------------------------------------------------------------------
def _toy_quantized():
    from tests._toy import ToyModel
    torch.manual_seed(0)
    return quantize_model(ToyModel(noise=0.0), first_last_bits=None)


@pytest.mark.parametrize('wrapper', ['SAMOptimWrapper', 'ARSAMOptimWrapper'])
@pytest.mark.parametrize('exclude', [False, True])
def test_step_sizes_perturbed_unless_rho_zero(wrapper, exclude):
    from mmengine.optim import build_optim_wrapper
    model = _toy_quantized()
    cfg = dict(
        type=wrapper, rho=0.5, optimizer=dict(type='SGD', lr=0.1))
    if exclude:
        cfg['paramwise_cfg'] = dict(
            custom_keys={'.step_size': dict(rho=0.0)})
    optim_wrapper = build_optim_wrapper(model, cfg)
    named = dict(model.named_parameters())
    rho = {
        name: group['rho']
        for group in optim_wrapper.optimizer.param_groups
        for name, p in named.items() for q in group['params'] if q is p
    }
    steps = [n for n in named if n.endswith('.step_size')]
    assert len(steps) == 4
    assert {rho[n] for n in steps} == ({0.0} if exclude else {0.5})
    assert {rho[n] for n in named if n not in steps} == {0.5}

    x, y = torch.randn(8, 4), torch.randint(0, 3, (8, ))
    model(x, y)['loss'].backward()
    before = {n: p.detach().clone() for n, p in named.items()}
    optim_wrapper.sharpness.begin()
    optim_wrapper.sharpness.perturb()
    moved = {n for n, p in named.items() if not torch.equal(p, before[n])}
    optim_wrapper.sharpness.restore()
    weights = set(named) - set(steps)
    assert moved == (weights if exclude else set(named))


# --------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------
CONFIGS = REPO / 'configs' / 'quantization'


def _configs():
    return sorted(
        str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob('*.py')
        if '_base_' not in p.parts)


def test_config_set_is_complete():
    names = set(_configs())
    for ds in ('cifar10', 'cifar100'):
        for bits in ('w4a4', 'w2a2'):
            for opt in ('sgd', 'sam', 'arsam'):
                assert f'lsq-{bits}_resnet18_1xb128_{ds}_{opt}.py' in names
    for bits in ('w8a8', 'w4a4'):
        for opt in ('adam', 'sam', 'arsam'):
            assert (f'lsq-{bits}_td-hm_res50_8xb64-210e_coco-256x192_'
                    f'{opt}.py') in names
    for opt in ('sgd', 'sam', 'arsam'):
        assert f'quick/lsq-w4a4_resnet18-w16_1xb16_digits_{opt}.py' in names
    for opt in ('adam', 'sam', 'arsam'):
        assert (f'quick/lsq-w4a4_td-hm_res18_1xb4-20iter_coco-128x96_'
                f'{opt}.py') in names


# Parsing a config with mmpretrain::/mmpose:: bases reads every metafile of
# the toolbox (about 1 s): a representative subset runs by default.
REPRESENTATIVE = {
    'lsq-w4a4_resnet18_1xb128_cifar10_arsam.py',
    'lsq-w2a2_resnet18_1xb128_cifar100_sgd.py',
    'lsq-w8a8_td-hm_res50_8xb64-210e_coco-256x192_sam.py',
}


@pytest.mark.parametrize('name', [
    name if name.startswith('quick/') or name in REPRESENTATIVE else
    pytest.param(name, marks=pytest.mark.slow) for name in _configs()
])
def test_config_wraps_its_float_config(name):
    from mmengine.config import Config
    cfg = Config.fromfile(str(CONFIGS / name))
    base_path = re.search(r"'(\.\./[^']+\.py)'",
                          (CONFIGS / name).read_text()).group(1)
    base = Config.fromfile(str((CONFIGS / name).parent / base_path))
    nbits = int(re.search(r'lsq-w(\d)a\d', name).group(1))
    assert cfg.model.type == 'LSQQuantizedModel'
    assert (cfg.model.w_bits, cfg.model.a_bits) == (nbits, nbits)
    assert cfg.model.first_last_bits == 8
    # the float config, untouched apart from the model wrapper and the
    # step sizes' weight decay
    assert cfg.model.model.to_dict() == base.model.to_dict()
    assert 'arsam_mm.quantization' in cfg.custom_imports.imports
    assert set(base.custom_imports.imports) <= set(cfg.custom_imports.imports)
    ow, base_ow = cfg.optim_wrapper.to_dict(), base.optim_wrapper.to_dict()
    if base_ow['optimizer'].get('weight_decay'):
        assert ow.pop('paramwise_cfg') == dict(
            custom_keys={'.step_size': dict(decay_mult=0.0)})
    assert ow == base_ow
    opt = name.rsplit('_', 1)[1][:-3]
    expected = {'sam': 'SAMOptimWrapper', 'arsam': 'ARSAMOptimWrapper'}
    assert ow.get('type', 'OptimWrapper') == expected.get(
        opt, 'OptimWrapper')
    for key in ('train_dataloader', 'param_scheduler', 'train_cfg',
                'custom_hooks', 'default_scope'):
        assert cfg.get(key) == base.get(key), key

    # the model builds in the config's scope, as the Runner builds it
    from mmengine.registry import MODELS, DefaultScope
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(model_cfg)
    bits = {n: (m.w_bits, m.a_bits)
            for n, m in quantized_layers(model).items()}
    names = list(bits)
    assert bits.pop(names[0]) == bits.pop(names[-1]) == (8, 8)
    assert set(bits.values()) == {(nbits, nbits)}


# --------------------------------------------------------------------------
# end to end with mmengine's Runner
# --------------------------------------------------------------------------
QUICK = CONFIGS / 'quick'


@pytest.fixture(scope='module')
def digits_root(tmp_path_factory):
    from arsam_mm.data import write_digits
    root = tmp_path_factory.mktemp('digits')
    write_digits(str(root))
    return str(root)


def _quick_cfg(opt, digits_root, work_dir, max_iters=4, ckpt_interval=2,
               **overrides):
    from mmengine.config import Config
    cfg = Config.fromfile(
        str(QUICK / f'lsq-w4a4_resnet18-w16_1xb16_digits_{opt}.py'))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'lsq_{opt}_{uuid.uuid4().hex[:12]}'
    cfg.train_dataloader.dataset.data_root = digits_root
    cfg.val_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.val_dataloader.dataset.data_root = digits_root
    cfg.val_dataloader.dataset.indices = 64  # one validation batch
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    cfg.param_scheduler[0].T_max = max_iters
    cfg.default_hooks.checkpoint.interval = ckpt_interval
    cfg.default_hooks.logger.interval = 1
    cfg.randomness = dict(seed=0)
    if opt == 'arsam':
        cfg.optim_wrapper.update(warmup_iters=1, window=2, seed=0)
    cfg.merge_from_dict(overrides)
    return cfg


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class _Snapshot:
    """A hook recording the model state before training starts."""

    def __new__(cls):
        from mmengine.hooks import Hook

        class Snapshot(Hook):
            priority = 'LOWEST'

            def before_train(self, runner):
                self.state = _state(runner.model)
                self.initialized = [
                    q.is_initialized
                    for layer in quantized_layers(runner.model).values()
                    for q in layer.quantizers()
                ]

        return Snapshot()


def _run(cfg, resume_from=None, load_from=None):
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)
    if resume_from is not None:
        cfg.resume = True
        cfg.load_from = resume_from
    elif load_from is not None:
        cfg.load_from = load_from
    runner = Runner.from_cfg(cfg)
    snapshot = _Snapshot()
    runner.register_hook(snapshot)
    runner.train()
    return runner, snapshot


def _log(runner):
    files = glob.glob(osp.join(runner.log_dir, '*.log'))
    assert len(files) == 1, files
    with open(files[0]) as f:
        return f.read()


def _float_checkpoint(cfg, path):
    """A float checkpoint of the config's inner model, mmengine format."""
    from mmengine.registry import DefaultScope
    from mmengine.runner.checkpoint import save_checkpoint
    from mmpretrain.registry import MODELS
    inner = copy.deepcopy(cfg.model.model)
    inner.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(123)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(inner)
    model.init_weights()
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model.state_dict()


OPTIMIZERS = [
    pytest.param('sgd', marks=pytest.mark.slow),
    pytest.param('sam', marks=pytest.mark.slow), 'arsam'
]


@pytest.mark.parametrize('opt', OPTIMIZERS)
def test_quick_config_trains_evaluates_checkpoints_resumes(
        opt, digits_root, tmp_path):
    from mmengine.optim import OptimWrapper

    from arsam_mm import ARSAMOptimWrapper, SAMOptimWrapper
    float_ckpt = str(tmp_path / 'float.pth')
    cfg = _quick_cfg(opt, digits_root, tmp_path / 'work')
    float_state = _float_checkpoint(cfg, float_ckpt)

    # 1. uninterrupted run from a float checkpoint (load_from)
    runner, snap = _run(cfg, load_from=float_ckpt)
    wrapper = {'sgd': OptimWrapper, 'sam': SAMOptimWrapper,
               'arsam': ARSAMOptimWrapper}[opt]
    assert type(runner.optim_wrapper) is wrapper
    assert type(runner.model).__name__ == 'ImageClassifier'
    # the float weights were loaded, the quantizers left to LSQ's init
    for key, value in float_state.items():
        assert torch.equal(snap.state[key], value), key
    assert len(snap.initialized) == 2 * 21
    assert not any(snap.initialized)
    layers = quantized_layers(runner.model)
    assert len(layers) == 21
    assert all(q.is_initialized for layer in layers.values()
               for q in layer.quantizers())
    log = _log(runner)
    assert re.search(r'accuracy/top1: \d+\.\d+', log), log[-2000:]
    final = _state(runner.model)
    ckpt = osp.join(cfg.work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt) and osp.isfile(
        osp.join(cfg.work_dir, 'iter_4.pth'))
    saved = torch.load(ckpt, map_location='cpu', weights_only=False)
    steps = [k for k in saved['state_dict'] if k.endswith('.step_size')]
    assert len(steps) == 2 * 21
    if opt != 'sgd':
        from arsam_mm.engine.optim_wrappers.checkpoint import KEY
        assert KEY in saved['optimizer']

    # 2. resume from the middle: the quantizers come back initialised and
    # the run ends where the uninterrupted one ended
    cfg2 = copy.deepcopy(cfg)
    cfg2.experiment_name = cfg.experiment_name + '_resumed'
    runner2, snap2 = _run(cfg2, resume_from=ckpt)
    assert runner2.iter == 4
    for key, value in saved['state_dict'].items():
        assert torch.equal(snap2.state[key], value), key
    assert len(snap2.initialized) == 2 * 21 and all(snap2.initialized)
    assert re.search(r'accuracy/top1: \d+\.\d+', _log(runner2))
    resumed = _state(runner2.model)
    for key in final:
        torch.testing.assert_close(resumed[key], final[key], rtol=0, atol=0,
                                   msg=key)


@pytest.mark.slow
@pytest.mark.parametrize('opt', ['adam', 'sam', 'arsam'])
def test_quick_pose_config_trains_and_evaluates(opt, tmp_path):
    from mmengine.config import Config

    from arsam_mm.data import write_coco_keypoints
    root = str(tmp_path / 'coco') + '/'
    write_coco_keypoints(
        root, num_train=8, num_val=4, image_size=(96, 128), max_persons=1)
    cfg = Config.fromfile(
        str(QUICK / f'lsq-w4a4_td-hm_res18_1xb4-20iter_coco-128x96_{opt}.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'lsq_pose_{opt}_{uuid.uuid4().hex[:12]}'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = root + 'annotations/person_keypoints_val2017.json'
    cfg.train_cfg.max_iters = 3
    cfg.train_cfg.val_interval = 3
    cfg.default_hooks.checkpoint.interval = 3
    cfg.default_hooks.logger.interval = 1
    if opt == 'arsam':
        cfg.optim_wrapper.update(warmup_iters=1, window=2, seed=0)
    runner, snap = _run(cfg)
    assert type(runner.model).__name__ == 'TopdownPoseEstimator'
    layers = quantized_layers(runner.model)
    assert names_bits(layers)['head.final_layer'] == (8, 8)
    assert sum(isinstance(m, QConvTranspose2d) for m in layers.values()) == 3
    assert all(q.is_initialized for m in layers.values()
               for q in m.quantizers())
    assert re.search(r'coco/AP: -?\d+\.\d+', _log(runner))
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_3.pth'))


def names_bits(layers):
    return {n: (m.w_bits, m.a_bits) for n, m in layers.items()}
