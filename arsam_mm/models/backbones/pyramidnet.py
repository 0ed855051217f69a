"""Deep pyramidal residual network for 32x32 inputs (PyramidNet)."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .cifar_base import CIFARBackbone

__all__ = ['PyramidBasicBlock', 'PyramidBottleneck', 'PyramidNetCIFAR']


def _shortcut(x: torch.Tensor, stride: int, channels: int) -> torch.Tensor:
    """Parameter-free shortcut: 2x2 average pooling, then zero channels.

    Args:
        x (torch.Tensor): Block input, ``(N, C, H, W)``.
        stride (int): 1 (identity) or 2 (average pooling).
        channels (int): Output channels (``>= C``); the new ones are zero.

    Returns:
        torch.Tensor: ``(N, channels, H / stride, W / stride)``.
    """
    if stride != 1:
        x = F.avg_pool2d(x, 2, stride=2, ceil_mode=True)
    extra = channels - x.shape[1]
    if extra > 0:
        x = F.pad(x, (0, 0, 0, 0, 0, extra))
    return x


class PyramidBasicBlock(BaseModule):
    """Basic pyramidal block: ``BN-conv3x3-BN-ReLU-conv3x3-BN``.

    No ReLU after the addition and none before the first convolution (Han
    et al., Fig. 6(d)); the shortcut is :func:`_shortcut`.

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels (``>= in_channels``).
        stride (int): Stride of the first convolution. Defaults to 1.
        norm_cfg (dict): Config of the normalization layers. Defaults to
            ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None.
    """

    expansion = 1

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 stride: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.stride = stride
        self.out_channels = channels
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = nn.Conv2d(
            in_channels, channels, 3, stride, padding=1, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, padding=1, bias=False)
        self.norm3 = build_norm_layer(norm_cfg, channels)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward one block."""
        out = self.conv1(self.norm1(x))
        out = self.conv2(F.relu(self.norm2(out)))
        out = self.norm3(out)
        return out + _shortcut(x, self.stride, self.out_channels)


class PyramidBottleneck(BaseModule):
    """Bottleneck pyramidal block, ``BN-conv1x1-BN-ReLU-conv3x3-BN-ReLU-
    conv1x1-BN``, with ``4 * channels`` outputs.

    Args:
        in_channels (int): Input channels.
        channels (int): Channels of the 3x3 convolution; the block outputs
            ``4 * channels`` (``>= in_channels``).
        stride (int): Stride of the 3x3 convolution. Defaults to 1.
        norm_cfg (dict): Config of the normalization layers. Defaults to
            ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None.
    """

    expansion = 4

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 stride: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.stride = stride
        self.out_channels = channels * self.expansion
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, channels)[1]
        self.conv2 = nn.Conv2d(
            channels, channels, 3, stride, padding=1, bias=False)
        self.norm3 = build_norm_layer(norm_cfg, channels)[1]
        self.conv3 = nn.Conv2d(channels, self.out_channels, 1, bias=False)
        self.norm4 = build_norm_layer(norm_cfg, self.out_channels)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward one block."""
        out = self.conv1(self.norm1(x))
        out = self.conv2(F.relu(self.norm2(out)))
        out = self.conv3(F.relu(self.norm3(out)))
        out = self.norm4(out)
        return out + _shortcut(x, self.stride, self.out_channels)


@MODELS.register_module()
class PyramidNetCIFAR(CIFARBackbone):
    """PyramidNet for CIFAR (Han, Kim & Kim, 2017).

    `Deep Pyramidal Residual Networks <https://arxiv.org/abs/1610.02915>`_:
    a 3x3 stem with 16 channels and BN (no ReLU), then three groups of
    ``n`` blocks with strides 1, 2, 2 whose widths grow additively, by
    ``alpha / (3 n)`` per block (rounded), from 16 to ``16 + alpha``;
    shortcuts are parameter-free (average pooling where the block strides,
    zero-padded channels), and a final BN-ReLU follows. ``n = (depth - 2) /
    6`` with basic blocks, ``(depth - 2) / 9`` with bottlenecks.

    PyramidNet-110 with ``alpha=270`` and basic blocks (the defaults; the
    SAM papers' CIFAR model without ShakeDrop) has 28.5M parameters with a
    10-class head and outputs 286 channels at 1/4 of the input size, ready
    for ``GlobalAveragePooling`` and ``LinearClsHead(in_channels=286)``.

    Args:
        depth (int): Network depth. Defaults to 110.
        alpha (int | float): Total widening ``alpha > 0``. Defaults to 270.
        bottleneck (bool): Bottleneck blocks (outputs ``4 x`` wider) instead
            of basic ones. Defaults to False.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int]): Groups (0, 1, 2) whose outputs are
            returned; the last group's output is taken after the final
            BN-ReLU. Defaults to ``(2, )``.
        norm_cfg (dict): Config of the normalization layers. Defaults to
            ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to Kaiming normal (fan-out) convolutions and unit
            normalization weights, as in the authors' code.
    """

    def __init__(self,
                 depth: int = 110,
                 alpha: Union[int, float] = 270,
                 bottleneck: bool = False,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(out_indices, init_cfg)
        per_block = 9 if bottleneck else 6
        if isinstance(depth, bool) or not isinstance(depth, int) \
                or depth < 2 + per_block or (depth - 2) % per_block != 0:
            raise ValueError(f'depth must be {per_block}n + 2 with n >= 1 for '
                             f'bottleneck={bottleneck!r}, got {depth!r}')
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) \
                or not alpha > 0:
            raise ValueError(f'alpha must be a number > 0, got {alpha!r}')
        self.depth = depth
        self.alpha = alpha
        block = PyramidBottleneck if bottleneck else PyramidBasicBlock
        num_blocks = (depth - 2) // per_block
        add_rate = alpha / (3 * num_blocks)

        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, padding=1, bias=False)
        self.norm1 = build_norm_layer(norm_cfg, 16)[1]
        channels = 16  # input channels of the next block
        width = 16.0  # unrounded width of the last block
        for i, stride in enumerate((1, 2, 2)):
            blocks = []
            for j in range(num_blocks):
                width += add_rate
                blocks.append(
                    block(
                        channels,
                        int(round(width)),
                        stride=stride if j == 0 else 1,
                        norm_cfg=norm_cfg))
                channels = blocks[-1].out_channels
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*blocks))
            self.layer_names.append(name)
        self.norm_final = build_norm_layer(norm_cfg, channels)[1]
        self.out_channels = channels

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """The stem: ``conv1`` then ``norm1`` (no ReLU)."""
        return self.norm1(self.conv1(x))
