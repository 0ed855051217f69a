"""``LSQQuantizedModel``: quantization-aware training from a config.

Wrap any model config of an mmengine-based toolbox; nothing else changes::

    custom_imports = dict(
        imports=['arsam_mm', 'arsam_mm.quantization'],
        allow_failed_imports=False)
    model = dict(
        _delete_=True,
        type='LSQQuantizedModel',
        model={{_base_.model}},          # the float model's config
        w_bits=4, a_bits=4)              # first/last layers: 8 bits

Design: ``LSQQuantizedModel`` is registered in mmengine's root ``MODELS``
registry (so the mmpretrain, mmpose, mmseg, ... child registries find it) as
a *builder function*, not a wrapper class. It builds the inner model through
the registry (in the Runner's default scope), converts it in place with
:func:`~.convert.quantize_model` and returns it. The Runner therefore trains
the task's own model object:

- ``train_step``/``val_step``/``test_step``, ``data_preprocessor``, heads and
  everything hooks look up stay the model's own, so the SAM/ARSAM optimizer
  wrappers (which need ``model.data_preprocessor`` and mmengine's
  ``BaseModel.train_step``), DDP, EMA and visualization hooks work unchanged;
- the state-dict keys are the float model's plus the step sizes: a float
  checkpoint loads through ``load_from`` (or an ``init_cfg`` ``Pretrained``)
  as it is, the quantizers then initialise by LSQ's rule from the loaded
  weights and the first batch, and ``resume`` restores the step sizes.

A delegating wrapper module was the alternative; it would prefix every key
with ``model.`` (breaking float checkpoints) and hide the task model's
attributes from hooks, for no gain.

The Runner merges a top-level ``data_preprocessor`` config into the model
config (mmpretrain configs keep it there); the builder passes it on to the
inner model config when that has none.

Step sizes and SAM/ARSAM: the perturbation covers every parameter of a
param group by that group's ``rho``, step sizes included (the default). To
exclude them, give them their own param groups with ``rho=0`` through
mmengine's ``DefaultOptimWrapperConstructor``, which copies every key of a
``custom_keys`` entry into the param group::

    optim_wrapper = dict(
        paramwise_cfg=dict(custom_keys={'.step_size': dict(rho=0.0)}))

(add ``decay_mult=0.0`` to exempt them from weight decay as well; the SGD
configs in ``configs/quantization`` set only that and keep ``rho``).
Their gradients still count in the norm that scales the perturbation of the
other parameters, and ``rho`` schedulers scale each group's own value, so
the group stays at 0. ARSAM's statistics read the trailing
``stat_tensors`` parameter tensors, which now include the last layers' step
sizes.

Why not mmrazor: ``mmrazor`` 1.0.0 (the last release, 2023-04) has an LSQ
(``LearnableFakeQuantize`` + ``LSQObserver``). Its package metadata would
let it install beside the pinned stack (it requires only ``ordered_set``;
mmcv and mmengine are an optional extra, and its import-time checks accept
mmcv 2.1.0 and mmengine 0.10.7), but it is not part of the pinned stack, and
its QAT path does not fit this use:
``MMArchitectureQuant`` traces the model with ``torch.fx`` once per forward
mode through private torch internals written for torch 1.13 and replaces the
forward with the traced graphs, nests the model under ``architecture.``/
``qmodels.`` keys (float checkpoints no longer match), wraps torch's private
affine ``_fake_quantize_learnable_*`` ops (with a zero point; ``N`` of the
gradient scale includes the batch). The compact implementation of the
paper (:mod:`.lsq`, :mod:`.qmodules`, :mod:`.convert`) keeps the model
untouched apart from its layers.
"""
from typing import Optional, Sequence, Union

from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.registry import MODELS
from torch import nn

from .convert import check_quantize_args, convert_checked, quantized_layers

__all__ = ['build_lsq_quantized_model']


def build_lsq_quantized_model(
        model: Union[dict, ConfigDict, nn.Module],
        w_bits: int = 4,
        a_bits: int = 4,
        first_last_bits: Optional[int] = 8,
        per_channel: bool = True,
        skip: Sequence[str] = (),
        layers: Sequence[str] = ('Conv2d', 'ConvTranspose2d', 'Linear'),
        a_signed: Optional[bool] = None,
        first_last: Optional[Sequence[str]] = None,
        data_preprocessor: Optional[Union[dict, ConfigDict]] = None
) -> nn.Module:
    """Build ``model`` and convert it for LSQ quantization-aware training.

    Registered as ``LSQQuantizedModel`` in mmengine's root ``MODELS``.

    Args:
        model (dict | nn.Module): The float model's config (built in the
            current default scope) or a built model.
        w_bits (int): Weight bit width, one of 2, 3, 4, 8. Defaults to 4.
        a_bits (int): Activation bit width. Defaults to 4.
        first_last_bits (int, optional): Bit width of the first and last
            quantized layer. Defaults to 8.
        per_channel (bool): Per-output-channel weight step sizes. Defaults
            to True.
        skip (Sequence[str]): Layer-name patterns kept in full precision.
            Defaults to ().
        layers (Sequence[str]): Layer types to quantize. Defaults to all
            supported ones.
        a_signed (bool, optional): Activation sign mode; None decides per
            layer from the first batch. Defaults to None.
        first_last (Sequence[str], optional): Layers that get
            ``first_last_bits`` (default: the first and last one).
        data_preprocessor (dict, optional): Passed on to the inner model
            config when that has none (the Runner fills it from the
            config's top-level ``data_preprocessor``). Defaults to None.

    Returns:
        nn.Module: The task model, converted in place.
    """
    # Fail on bad arguments before building anything.
    args = check_quantize_args(
        w_bits=w_bits,
        a_bits=a_bits,
        first_last_bits=first_last_bits,
        per_channel=per_channel,
        skip=skip,
        layers=layers,
        a_signed=a_signed,
        first_last=first_last)
    if isinstance(model, nn.Module):
        if data_preprocessor is not None:
            raise ValueError(
                'data_preprocessor can only be passed on to a model config, '
                f'got a built {type(model).__name__} and '
                f'data_preprocessor={data_preprocessor!r}')
    elif isinstance(model, dict):
        model = ConfigDict(model)
        if 'type' not in model:
            raise ValueError(f'model config needs a "type", got {model!r}')
        if data_preprocessor is not None:
            model.setdefault('data_preprocessor', data_preprocessor)
        model = MODELS.build(model)
    else:
        raise TypeError('model must be a config dict or an nn.Module, got '
                        f'{type(model).__name__}')
    convert_checked(model, args)
    layers_done = quantized_layers(model)
    summary = ', '.join(f'{name}: W{m.w_bits}A{m.a_bits}'
                        for name, m in layers_done.items()
                        if (m.w_bits, m.a_bits) != (w_bits, a_bits))
    print_log(
        f'LSQQuantizedModel: {len(layers_done)} layers quantized to '
        f'W{w_bits}A{a_bits}' + (f' ({summary})' if summary else ''),
        logger='current')
    return model


def _register() -> None:
    if MODELS.get('LSQQuantizedModel') is None:
        MODELS.register_module(
            'LSQQuantizedModel', module=build_lsq_quantized_model)


_register()
