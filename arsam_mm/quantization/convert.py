"""Convert a float model to LSQ quantization-aware training, in place.

:func:`quantize_model` turns every supported layer (``nn.Conv2d``,
``nn.ConvTranspose2d``, ``nn.Linear``) into its quantized twin of
:mod:`.qmodules`; the model object, its other modules, its methods
(``train_step``, ``data_preprocessor``, heads, ...) and its float state-dict
keys are unchanged, only ``*.weight_quantizer.*`` and ``*.input_quantizer.*``
keys are added.

Rules:

- **Which layers.** A module is converted when its class is one of the
  requested ``layers`` or a subclass that does not override ``forward``
  (mmcv's ``mmcv.cnn.bricks.wrappers`` layers, whose ``forward`` differs only
  for empty inputs on old torch, count as such). Subclasses with their own
  ``forward`` and the projections inside ``nn.MultiheadAttention`` (whose
  forward reads the weights directly) stay in full precision, with a
  warning. Requesting a layer type other than the supported ones is an
  error.
- **First and last layer.** The first and the last converted layer, in
  module registration order (``model.named_modules()``), use
  ``first_last_bits`` for weight and input, as in the LSQ paper (8 bits).
  For the models here this order is the execution order (ResNet stem
  ``conv1`` first, the classifier ``fc`` / pose ``final_layer`` last); pass
  ``first_last=[names]`` where it is not.
- **Sign of activations.** ``a_signed=None`` (default) decides per layer
  from the first batch: the input quantizer is unsigned (``0 .. 2**b-1``)
  when that batch has no negative value, signed otherwise. In a ResNet this
  makes the stem convolution (normalised image) signed and every later layer
  (inputs after a ReLU) unsigned. ``a_signed=True``/``False`` forces one
  mode for all layers.

Torch only.
"""
import fnmatch
import warnings
from collections import OrderedDict
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Type

from torch import nn

from .lsq import check_bits
from .qmodules import (QConv2d, QConvTranspose2d, QLinear, QuantLayerMixin,
                       check_layer_args)

__all__ = [
    'SUPPORTED_LAYERS', 'QuantizeArgs', 'check_quantize_args',
    'quantize_model', 'convert_checked', 'quantized_layers'
]

#: Layer type name -> quantized class.
SUPPORTED_LAYERS: Dict[str, Type[QuantLayerMixin]] = {
    'Conv2d': QConv2d,
    'ConvTranspose2d': QConvTranspose2d,
    'Linear': QLinear,
}
_EQUIVALENT_WRAPPER_MODULES = ('mmcv.cnn.bricks.wrappers', )


def _check_names(value: Any, name: str) -> Tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError(
            f'{name} must be a list or tuple of str, got {value!r}')
    for item in value:
        if not isinstance(item, str):
            raise TypeError(
                f'{name} must contain str only, got {item!r} in {value!r}')
    return tuple(value)


def _check_layers(layers: Any) -> Tuple[str, ...]:
    layers = _check_names(layers, 'layers')
    if not layers:
        raise ValueError('layers must name at least one layer type, got '
                         f'{layers!r}')
    for layer in layers:
        if layer not in SUPPORTED_LAYERS:
            raise ValueError(
                f'layers: unsupported layer type {layer!r} in {layers!r}; '
                f'supported: {tuple(SUPPORTED_LAYERS)}')
    return layers


def _is_equivalent(module: nn.Module, float_type: Type[nn.Module]) -> bool:
    """Whether ``module`` computes what ``float_type.forward`` computes."""
    cls = type(module)
    if cls is float_type:
        return True
    if getattr(module, 'weight', None) is None or isinstance(
            module.weight, nn.parameter.UninitializedParameter):
        return False
    return (cls.forward is float_type.forward
            or cls.__module__ in _EQUIVALENT_WRAPPER_MODULES)


def _candidates(
    model: nn.Module, layers: Tuple[str, ...]
) -> Tuple['OrderedDict[str, Type[QuantLayerMixin]]', List[str]]:
    """Convertible layers (name -> quantized class) and refused ones."""
    found: 'OrderedDict[str, Type[QuantLayerMixin]]' = OrderedDict()
    refused: List[str] = []
    inside_mha = set()
    for name, module in model.named_modules():
        if isinstance(module, nn.MultiheadAttention):
            inside_mha.update(f'{name}.{child}' if name else child
                              for child, _ in module.named_modules()
                              if child)
        for layer in layers:
            qcls = SUPPORTED_LAYERS[layer]
            if not isinstance(module, qcls.float_type):
                continue
            if name in inside_mha or not _is_equivalent(
                    module, qcls.float_type):
                refused.append(f'{name} ({type(module).__name__})')
            else:
                found[name] = qcls
            break
    return found, refused


def quantized_layers(model: nn.Module) -> 'OrderedDict[str, nn.Module]':
    """The quantized layers of ``model``, by name, in registration order.

    Args:
        model (nn.Module): Any model.

    Returns:
        OrderedDict[str, nn.Module]: Name -> layer.
    """
    return OrderedDict((name, module)
                       for name, module in model.named_modules()
                       if isinstance(module, QuantLayerMixin))


class QuantizeArgs(NamedTuple):
    """The arguments of :func:`quantize_model` (model aside), checked."""
    w_bits: int
    a_bits: int
    first_last_bits: Optional[int]
    per_channel: bool
    skip: Tuple[str, ...]
    layers: Tuple[str, ...]
    a_signed: Optional[bool]
    first_last: Optional[Tuple[str, ...]]


def check_quantize_args(w_bits: Any, a_bits: Any, first_last_bits: Any,
                        per_channel: Any, skip: Any, layers: Any,
                        a_signed: Any, first_last: Any) -> QuantizeArgs:
    """Validate the arguments of :func:`quantize_model` (model aside).

    Returns:
        QuantizeArgs: The arguments, ``skip``, ``layers`` and
        ``first_last`` as tuples.

    Raises:
        TypeError: For arguments of the wrong type.
        ValueError: For unsupported bit widths or layer types.
    """
    check_layer_args(w_bits, a_bits, per_channel, a_signed)
    if first_last_bits is not None:
        check_bits(first_last_bits, 'first_last_bits')
    skip = _check_names(skip, 'skip')
    layers = _check_layers(layers)
    if first_last is not None:
        first_last = _check_names(first_last, 'first_last')
    return QuantizeArgs(w_bits, a_bits, first_last_bits, per_channel, skip,
                        layers, a_signed, first_last)


def quantize_model(model: nn.Module,
                   w_bits: int = 4,
                   a_bits: int = 4,
                   first_last_bits: Optional[int] = 8,
                   per_channel: bool = True,
                   skip: Sequence[str] = (),
                   layers: Sequence[str] = ('Conv2d', 'ConvTranspose2d',
                                            'Linear'),
                   a_signed: Optional[bool] = None,
                   first_last: Optional[Sequence[str]] = None) -> nn.Module:
    """Convert ``model``'s layers to LSQ fake quantization, in place.

    Call it before the optimizer is built (the step sizes are new
    parameters). The step sizes initialise at the first forward.

    Args:
        model (nn.Module): A float model.
        w_bits (int): Weight bit width, one of 2, 3, 4, 8. Defaults to 4.
        a_bits (int): Input-activation bit width. Defaults to 4.
        first_last_bits (int, optional): Weight and activation bit width of
            the first and last converted layer; None: no exception.
            Defaults to 8.
        per_channel (bool): Per-output-channel weight step sizes. Defaults
            to True.
        skip (Sequence[str]): Module-name patterns (``fnmatch``, e.g.
            ``'head.*'``) of layers kept in full precision; each must match
            a convertible layer. Defaults to ().
        layers (Sequence[str]): Layer types to convert, from
            :data:`SUPPORTED_LAYERS`. Defaults to all of them.
        a_signed (bool, optional): Sign mode of every input quantizer; None
            decides per layer from the first batch. Defaults to None.
        first_last (Sequence[str], optional): Names of the layers that get
            ``first_last_bits`` instead of the first and last converted one.
            Defaults to None.

    Returns:
        nn.Module: ``model``.

    Raises:
        TypeError: For arguments of the wrong type.
        ValueError: For unsupported bit widths or layer types, ``skip`` or
            ``first_last`` entries that name no convertible layer, an
            already quantized model, or a model without convertible layers.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f'model must be an nn.Module, got {type(model).__name__}')
    args = check_quantize_args(
        w_bits=w_bits,
        a_bits=a_bits,
        first_last_bits=first_last_bits,
        per_channel=per_channel,
        skip=skip,
        layers=layers,
        a_signed=a_signed,
        first_last=first_last)
    return convert_checked(model, args)


def convert_checked(model: nn.Module, args: QuantizeArgs) -> nn.Module:
    """:func:`quantize_model` with arguments that
    :func:`check_quantize_args` returned.

    Raises:
        ValueError: For ``skip`` or ``first_last`` entries that name no
            convertible layer, an already quantized model, or a model
            without convertible layers.
    """
    done = quantized_layers(model)
    if done:
        raise ValueError('model is already quantized (e.g. '
                         f'{next(iter(done))!r}); convert a float model')

    found, refused = _candidates(model, args.layers)
    for pattern in args.skip:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in found):
            raise ValueError(f'skip: pattern {pattern!r} matches no '
                             f'convertible layer; layers: {list(found)}')
    names = [
        name for name in found
        if not any(fnmatch.fnmatchcase(name, p) for p in args.skip)
    ]
    if not names:
        raise ValueError(f'model has no layer of types {args.layers!r} to '
                         'quantize (after skip)')
    if args.first_last is None:
        high = {names[0], names[-1]}
    else:
        for name in args.first_last:
            if name not in names:
                raise ValueError(
                    f'first_last: {name!r} is not a converted layer; '
                    f'layers: {names}')
        high = set(args.first_last)
    if refused:
        warnings.warn(
            'quantize_model: kept in full precision (subclass with its own '
            'forward, or inside nn.MultiheadAttention): ' +
            ', '.join(refused),
            stacklevel=3)

    modules = dict(model.named_modules())
    for name in names:
        bits_w, bits_a = args.w_bits, args.a_bits
        if args.first_last_bits is not None and name in high:
            bits_w = bits_a = args.first_last_bits
        found[name].swap_class(modules[name], bits_w, bits_a,
                               args.per_channel, args.a_signed)
    return model
