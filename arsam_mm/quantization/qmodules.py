"""Layers that fake-quantize their weight and their input with LSQ.

:class:`QConv2d`, :class:`QConvTranspose2d` and :class:`QLinear` subclass
the float layers, so code that checks ``isinstance(m, nn.Conv2d)`` (weight
initialisers, mmengine's ``init_cfg`` matching by class name, parameter
counting) treats them as before. Each adds two children:

- ``weight_quantizer``: signed, per output channel (``per_channel=True``) or
  one step size per layer;
- ``input_quantizer``: one step size per layer, signed, unsigned or decided
  from the first batch (``a_signed=None``, see :mod:`.lsq`).

The bias stays in full precision (as in the LSQ paper, only the inputs of
matrix multiplications are quantized). The state dict is the float layer's
(``weight``, ``bias``) plus ``weight_quantizer.*`` and ``input_quantizer.*``
(``step_size``, ``initialized``, ``signed_mode``); a float layer's state
dict loads into a quantized layer, whose quantizers then initialise from the
loaded weights and the first batch.

:meth:`from_float` converts an existing layer *in place* (its class is
swapped, its parameters, hooks and other references are kept), so a model
can be converted after it was built and initialised.
"""
from typing import Any, List, Optional, Type

import torch.nn.functional as F
from torch import Tensor, nn

from .lsq import LSQQuantizer, check_bits

__all__ = [
    'check_layer_args', 'QuantLayerMixin', 'QConv2d', 'QConvTranspose2d',
    'QLinear'
]


def check_layer_args(w_bits: Any, a_bits: Any, per_channel: Any,
                     a_signed: Any) -> None:
    """Validate the quantization arguments of one layer.

    Args:
        w_bits (Any): Weight bit width, one of
            :data:`~.lsq.SUPPORTED_BITS`.
        a_bits (Any): Input bit width, likewise.
        per_channel (Any): A bool.
        a_signed (Any): A bool or None.

    Raises:
        TypeError: For arguments of the wrong type.
        ValueError: For unsupported bit widths.
    """
    check_bits(w_bits, 'w_bits')
    check_bits(a_bits, 'a_bits')
    if not isinstance(per_channel, bool):
        raise TypeError(f'per_channel must be a bool, got {per_channel!r}')
    if a_signed is not None and not isinstance(a_signed, bool):
        raise TypeError(f'a_signed must be a bool or None, got {a_signed!r}')


class QuantLayerMixin:
    """Shared parts of the quantized layers.

    Subclasses set :attr:`float_type` and :attr:`weight_channel_axis` (the
    output-channel axis of the weight).
    """

    float_type: Type[nn.Module] = nn.Module
    weight_channel_axis: int = 0
    weight: nn.Parameter

    def __init__(self,
                 *args,
                 w_bits: int = 4,
                 a_bits: int = 4,
                 per_channel: bool = True,
                 a_signed: Optional[bool] = None,
                 **kwargs) -> None:
        check_layer_args(w_bits, a_bits, per_channel, a_signed)
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self._init_quantizers(w_bits, a_bits, per_channel, a_signed)

    def _init_quantizers(self, w_bits: int, a_bits: int, per_channel: bool,
                         a_signed: Optional[bool]) -> None:
        """Add the two quantizers (arguments already checked)."""
        axis = self.weight_channel_axis if per_channel else None
        channels = self.weight.shape[axis] if per_channel else 1
        param = self.weight
        self.weight_quantizer = LSQQuantizer(
            w_bits, signed=True, channel_axis=axis,
            num_channels=channels).to(param.device, param.dtype)
        self.input_quantizer = LSQQuantizer(
            a_bits, signed=a_signed, batch_axis=0).to(param.device,
                                                      param.dtype)

    @property
    def w_bits(self) -> int:
        """Bit width of the weight."""
        return self.weight_quantizer.bits

    @property
    def a_bits(self) -> int:
        """Bit width of the input activation."""
        return self.input_quantizer.bits

    def quantizers(self) -> List[LSQQuantizer]:
        """The weight and the input quantizer."""
        return [self.weight_quantizer, self.input_quantizer]

    @classmethod
    def from_float(cls,
                   module: nn.Module,
                   w_bits: int = 4,
                   a_bits: int = 4,
                   per_channel: bool = True,
                   a_signed: Optional[bool] = None) -> nn.Module:
        """Convert a float layer in place and return it.

        Args:
            module (nn.Module): An instance of :attr:`float_type` (or of a
                subclass that does not change ``forward``).
            w_bits (int): Weight bit width. Defaults to 4.
            a_bits (int): Input bit width. Defaults to 4.
            per_channel (bool): Per-output-channel weight step sizes.
                Defaults to True.
            a_signed (bool, optional): Sign mode of the input quantizer;
                None decides from the first batch. Defaults to None.

        Returns:
            nn.Module: ``module``, now an instance of ``cls``.

        Raises:
            TypeError: For a module of another type, an already quantized
                one, or arguments of the wrong type.
            ValueError: For unsupported bit widths.
        """
        if not isinstance(module, cls.float_type):
            raise TypeError(
                f'module must be a {cls.float_type.__name__}, got '
                f'{type(module).__name__}')
        if isinstance(module, QuantLayerMixin):
            raise TypeError(f'module is already quantized: {module!r}')
        check_layer_args(w_bits, a_bits, per_channel, a_signed)
        return cls.swap_class(module, w_bits, a_bits, per_channel, a_signed)

    @classmethod
    def swap_class(cls, module: nn.Module, w_bits: int, a_bits: int,
                   per_channel: bool,
                   a_signed: Optional[bool]) -> nn.Module:
        """:meth:`from_float` without its checks, for arguments already
        checked (:func:`~.convert.quantize_model`)."""
        original = type(module)
        module.__class__ = cls
        try:
            module._init_quantizers(  # type: ignore[attr-defined]
                w_bits, a_bits, per_channel, a_signed)
        except Exception:
            module.__class__ = original
            raise
        return module


class QConv2d(QuantLayerMixin, nn.Conv2d):
    """``nn.Conv2d`` with LSQ-quantized weight and input.

    Args:
        *args: For ``nn.Conv2d``.
        w_bits (int): Weight bit width. Defaults to 4.
        a_bits (int): Input bit width. Defaults to 4.
        per_channel (bool): Per-output-channel weight step sizes. Defaults
            to True.
        a_signed (bool, optional): Input sign mode; None decides from the
            first batch. Defaults to None.
        **kwargs: For ``nn.Conv2d``.
    """

    float_type = nn.Conv2d
    weight_channel_axis = 0

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(
            self.input_quantizer(input), self.weight_quantizer(self.weight),
            self.bias)


class QConvTranspose2d(QuantLayerMixin, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` with LSQ-quantized weight and input.

    The weight has shape ``(in, out // groups, kh, kw)``: per-channel step
    sizes lie on axis 1 (shared by the groups when ``groups > 1``).

    Args:
        *args: For ``nn.ConvTranspose2d``.
        w_bits (int): Weight bit width. Defaults to 4.
        a_bits (int): Input bit width. Defaults to 4.
        per_channel (bool): Per-output-channel weight step sizes. Defaults
            to True.
        a_signed (bool, optional): Input sign mode; None decides from the
            first batch. Defaults to None.
        **kwargs: For ``nn.ConvTranspose2d``.
    """

    float_type = nn.ConvTranspose2d
    weight_channel_axis = 1

    def forward(self,
                input: Tensor,
                output_size: Optional[List[int]] = None) -> Tensor:
        output_padding = self._output_padding(
            input, output_size, self.stride, self.padding, self.kernel_size,
            2, self.dilation)
        return F.conv_transpose2d(
            self.input_quantizer(input), self.weight_quantizer(self.weight),
            self.bias, self.stride, self.padding, output_padding,
            self.groups, self.dilation)


class QLinear(QuantLayerMixin, nn.Linear):
    """``nn.Linear`` with LSQ-quantized weight and input.

    Args:
        *args: For ``nn.Linear``.
        w_bits (int): Weight bit width. Defaults to 4.
        a_bits (int): Input bit width. Defaults to 4.
        per_channel (bool): Per-output-feature weight step sizes. Defaults
            to True.
        a_signed (bool, optional): Input sign mode; None decides from the
            first batch. Defaults to None.
        **kwargs: For ``nn.Linear``.
    """

    float_type = nn.Linear
    weight_channel_axis = 0

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(
            self.input_quantizer(input), self.weight_quantizer(self.weight),
            self.bias)
