"""LSQ: learned step size quantization (Esser et al., arXiv 1902.08153).

A tensor ``v`` is fake-quantized with a learned step size ``s``::

    v_hat = round(clamp(v / s, -Qn, Qp)) * s

with ``Qn = 2**(b-1)``, ``Qp = 2**(b-1) - 1`` for signed data (weights,
activations that can be negative) and ``Qn = 0``, ``Qp = 2**b - 1`` for
unsigned data (activations after a ReLU). Rounding is to the nearest integer,
ties to even (``torch.round``), so ``v_hat`` takes at most ``2**b`` values
per step size.

Gradients (the paper's eq. 3 and 5), with ``r = v / s``::

    d v_hat / d v = 1                      if -Qn < r < Qp, else 0  (STE)
    d v_hat / d s = round(r) - r           if -Qn < r < Qp
                    -Qn                    if r <= -Qn
                    Qp                     if r >= Qp

and the step-size gradient is multiplied by ``g = 1 / sqrt(N * Qp)``, where
``N`` is the number of elements one step size covers: all weights of a layer
(per-layer step), the weights of one output channel (per-channel step) or,
for activations, the features of one example (the paper's ``N_F``; the batch
dimension is excluded so the scale does not depend on the batch size).

Initialisation (the paper's): ``s = 2 * mean(|v|) / sqrt(Qp)``, computed from
the first tensor the quantizer sees (for activations the first batch; for
weights the weights at the first forward, i.e. after ``init_weights`` and any
checkpoint load). With ``signed=None`` the sign mode is decided at the same
moment: unsigned when that first tensor has no negative element. Under
``torch.distributed`` data-dependent initial values (activations) are
averaged, and the sign decision is taken on the global minimum, so every rank
starts from the same step size. Whether a quantizer is initialised, and its
sign mode, are persistent buffers: a resumed run does not initialise again,
while a full-precision checkpoint (without the quantizer's keys) loads
cleanly and leaves the quantizer to initialise from the loaded weights.

Torch only.
"""
import math
from typing import Any, Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = [
    'SUPPORTED_BITS', 'check_bits', 'quant_range', 'lsq_quantize',
    'LSQQuantizer'
]

#: Bit widths the quantizer accepts.
SUPPORTED_BITS: Tuple[int, ...] = (2, 3, 4, 8)


def check_bits(bits: Any, name: str = 'bits') -> int:
    """Validate a bit width.

    Args:
        bits (Any): The value to check.
        name (str): The argument name used in error messages.

    Returns:
        int: ``bits``.

    Raises:
        TypeError: ``bits`` is not an int (bools and strings included).
        ValueError: ``bits`` is not one of :data:`SUPPORTED_BITS`.
    """
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise TypeError(f'{name} must be an int in {SUPPORTED_BITS}, got '
                        f'{bits!r} ({type(bits).__name__})')
    if bits not in SUPPORTED_BITS:
        raise ValueError(
            f'{name} must be one of {SUPPORTED_BITS}, got {bits!r}')
    return bits


def quant_range(bits: int, signed: bool) -> Tuple[int, int]:
    """The integer range ``(Qn, Qp)``: levels are ``-Qn .. Qp``.

    Args:
        bits (int): Bit width, one of :data:`SUPPORTED_BITS`.
        signed (bool): Signed (two's complement) or unsigned levels.

    Returns:
        tuple[int, int]: ``(Qn, Qp)``.
    """
    check_bits(bits)
    if signed:
        return 2**(bits - 1), 2**(bits - 1) - 1
    return 0, 2**bits - 1


class _LSQFunction(torch.autograd.Function):
    """Fake quantization with LSQ's straight-through gradients."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, step: Tensor, grad_scale: float,
                qn: int, qp: int) -> Tensor:
        ctx.save_for_backward(x, step)
        ctx.params = (grad_scale, qn, qp)
        q = torch.div(x, step).clamp_(-qn, qp).round_()
        return q.mul_(step).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tuple[Optional[Tensor], ...]:
        x, step = ctx.saved_tensors
        grad_scale, qn, qp = ctx.params
        r = torch.div(x, step)
        below = r <= -qn
        above = r >= qp
        inside = ~(below | above)
        grad_x = grad_step = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad * inside).to(x.dtype)
        if ctx.needs_input_grad[1]:
            # round(r) - r inside, -Qn below, Qp above
            local = r.round().sub_(r).masked_fill_(below, -qn)
            local.masked_fill_(above, qp)
            grad_step = local.mul_(grad).sum_to_size(step.shape)
            grad_step = (grad_step * grad_scale).to(step.dtype)
        return grad_x, grad_step, None, None, None


def lsq_quantize(x: Tensor, step: Tensor, grad_scale: float, qn: int,
                 qp: int) -> Tensor:
    """``round(clamp(x / step, -qn, qp)) * step`` with LSQ's gradients.

    Args:
        x (Tensor): The tensor to quantize.
        step (Tensor): Step size(s), > 0, broadcastable to ``x``.
        grad_scale (float): Factor ``g`` of the step-size gradient.
        qn (int): Magnitude of the lowest level (``-qn``).
        qp (int): The highest level.

    Returns:
        Tensor: The fake-quantized tensor, of ``x``'s dtype.
    """
    return _LSQFunction.apply(x, step, grad_scale, qn, qp)


def _dist_ready() -> bool:
    return (dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1)


class LSQQuantizer(nn.Module):
    """LSQ fake quantizer with a learned step size.

    Args:
        bits (int): Bit width, one of :data:`SUPPORTED_BITS`.
        signed (bool, optional): Signed levels (``-2**(b-1) .. 2**(b-1)-1``)
            or unsigned ones (``0 .. 2**b-1``). None decides at
            initialisation: unsigned when the first tensor has no negative
            element. Defaults to True.
        channel_axis (int, optional): Axis of per-channel step sizes; None
            for one step size. Defaults to None.
        num_channels (int): Length of ``channel_axis`` (number of step
            sizes); must be 1 without ``channel_axis``. Defaults to 1.
        batch_axis (int, optional): Axis excluded from ``N`` in the gradient
            scale (the batch axis of activations); None for weights. A
            quantizer with a batch axis is data dependent: its initial value
            is averaged over ranks. Defaults to None.
        eps (float): Lower bound of the step size in the forward pass and of
            its initial value. Defaults to 1e-8.

    Attributes:
        step_size (nn.Parameter): Shape ``(num_channels,)``.
        initialized (Tensor): uint8 buffer, 1 once initialised.
        signed_mode (Tensor): uint8 buffer, 1 signed, 0 unsigned (meaningful
            once initialised when ``signed`` is None).
    """

    def __init__(self,
                 bits: int,
                 signed: Optional[bool] = True,
                 channel_axis: Optional[int] = None,
                 num_channels: int = 1,
                 batch_axis: Optional[int] = None,
                 eps: float = 1e-8) -> None:
        super().__init__()
        check_bits(bits)
        if signed is not None and not isinstance(signed, bool):
            raise TypeError(
                f'signed must be a bool or None, got {signed!r}')
        axes = (('channel_axis', channel_axis), ('batch_axis', batch_axis))
        for name, axis in axes:
            if axis is not None and (isinstance(axis, bool)
                                     or not isinstance(axis, int)):
                raise TypeError(
                    f'{name} must be an int or None, got {axis!r}')
        if (isinstance(num_channels, bool) or not isinstance(num_channels, int)
                or num_channels < 1):
            raise ValueError(
                f'num_channels must be an int >= 1, got {num_channels!r}')
        if channel_axis is None and num_channels != 1:
            raise ValueError('num_channels must be 1 without channel_axis, '
                             f'got {num_channels!r}')
        if channel_axis is not None and channel_axis == batch_axis:
            raise ValueError('channel_axis and batch_axis must differ, got '
                             f'{channel_axis!r} for both')
        if not (isinstance(eps, float) and eps > 0):
            raise ValueError(f'eps must be a float > 0, got {eps!r}')
        self.bits = bits
        self.auto_sign = signed is None
        self.channel_axis = channel_axis
        self.num_channels = num_channels
        self.batch_axis = batch_axis
        self.eps = eps
        self.step_size = nn.Parameter(torch.ones(num_channels))
        self.register_buffer('initialized', torch.zeros((),
                                                        dtype=torch.uint8))
        self.register_buffer(
            'signed_mode',
            torch.tensor(1 if signed is None or signed else 0,
                         dtype=torch.uint8))
        # Host-side copies of the buffers: no device sync per forward.
        self._initialized = False
        self._signed = True if signed is None else signed

    # --- properties ---------------------------------------------------
    @property
    def is_initialized(self) -> bool:
        """Whether the step size has been initialised (or loaded)."""
        return self._initialized

    @property
    def signed(self) -> bool:
        """The sign mode in force (for ``signed=None``: decided at init)."""
        return self._signed

    @property
    def qn(self) -> int:
        """Magnitude of the lowest level."""
        return quant_range(self.bits, self._signed)[0]

    @property
    def qp(self) -> int:
        """The highest level."""
        return quant_range(self.bits, self._signed)[1]

    def set_bits(self, bits: int) -> None:
        """Change the bit width (before initialisation; the step size is
        kept otherwise).

        Args:
            bits (int): One of :data:`SUPPORTED_BITS`.
        """
        self.bits = check_bits(bits)

    def grad_scale(self, x: Tensor) -> float:
        """LSQ's ``g = 1 / sqrt(N * Qp)`` for tensor ``x``.

        Args:
            x (Tensor): The tensor being quantized.

        Returns:
            float: ``g``.
        """
        n = x.numel()
        if self.channel_axis is not None:
            n //= x.shape[self.channel_axis]
        if self.batch_axis is not None and x.dim() > 0:
            n //= max(x.shape[self.batch_axis], 1)
        return 1.0 / math.sqrt(max(n, 1) * self.qp)

    def _broadcast_shape(self, x: Tensor) -> Tuple[int, ...]:
        if self.channel_axis is None:
            return (1, ) * x.dim() if x.dim() else ()
        axis = self.channel_axis % x.dim()
        if x.shape[axis] != self.num_channels:
            raise ValueError(
                f'expected {self.num_channels} channels on axis '
                f'{self.channel_axis}, got a tensor of shape '
                f'{tuple(x.shape)}')
        shape = [1] * x.dim()
        shape[axis] = self.num_channels
        return tuple(shape)

    # --- initialisation -----------------------------------------------
    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """LSQ's initial step size from ``x``: ``2 * mean(|x|) / sqrt(Qp)``.

        Args:
            x (Tensor): The first tensor to quantize.
        """
        x = x.detach()
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        sync = self.batch_axis is not None and _dist_ready()
        if self.auto_sign:
            low = x.min() if x.numel() else x.new_zeros(())
            if sync:
                dist.all_reduce(low, op=dist.ReduceOp.MIN)
            self._signed = bool(low < 0)
            self.signed_mode.fill_(int(self._signed))
        if self.channel_axis is None:
            mean_abs = x.abs().mean().reshape(1)
        else:
            axis = self.channel_axis % x.dim()
            mean_abs = x.abs().transpose(0, axis).reshape(
                self.num_channels, -1).mean(dim=1)
        if sync:
            dist.all_reduce(mean_abs)
            mean_abs /= dist.get_world_size()
        step = (2 * mean_abs / math.sqrt(self.qp)).clamp_min(self.eps)
        step = torch.nan_to_num(step, nan=1.0, posinf=1.0)
        self.step_size.copy_(step.to(self.step_size))
        self.initialized.fill_(1)
        self._initialized = True

    def reset(self) -> None:
        """Forget the initialisation: the next forward initialises again."""
        self.initialized.fill_(0)
        self._initialized = False
        if self.auto_sign:
            self._signed = True
            self.signed_mode.fill_(1)

    # --- forward ------------------------------------------------------
    def quantize(self, x: Tensor) -> Tensor:
        """``round(clamp(x / s, -Qn, Qp)) * s`` (initialising first if
        needed), with LSQ's gradients.

        Args:
            x (Tensor): The tensor to quantize.

        Returns:
            Tensor: The fake-quantized tensor.
        """
        shape = self._broadcast_shape(x)
        if not self._initialized:
            self.initialize(x)
        step = self.step_size.clamp_min(self.eps).reshape(shape)
        return lsq_quantize(x, step, self.grad_scale(x), self.qn, self.qp)

    def forward(self, x: Tensor) -> Tensor:
        """See :meth:`quantize`."""
        return self.quantize(x)

    # --- state dict ---------------------------------------------------
    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list,
                              error_msgs: list) -> None:
        keys = [prefix + name for name in self._local_keys()]
        if not any(key in state_dict for key in keys):
            # A full-precision checkpoint: keep the shapes, initialise from
            # the next forward (the loaded weights / the first batch).
            self.reset()
            return
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        self._initialized = bool(self.initialized.item())
        if self.auto_sign:
            self._signed = bool(self.signed_mode.item())
        else:  # a fixed sign mode is the module's, not the checkpoint's
            self.signed_mode.fill_(int(self._signed))

    def _local_keys(self) -> Tuple[str, ...]:
        return tuple(self._parameters) + tuple(
            name for name in self._buffers
            if name not in self._non_persistent_buffers_set)

    def extra_repr(self) -> str:
        sign = 'auto' if self.auto_sign and not self._initialized else (
            'signed' if self._signed else 'unsigned')
        granularity = ('per-tensor' if self.channel_axis is None else
                       f'per-channel(axis={self.channel_axis}, '
                       f'n={self.num_channels})')
        return f'bits={self.bits}, {sign}, {granularity}'
