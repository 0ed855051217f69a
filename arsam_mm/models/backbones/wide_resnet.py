"""Wide residual network for 32x32 inputs (WRN-d-k)."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .cifar_base import CIFARBackbone

__all__ = ['WideBasicBlock', 'WideResNetCIFAR']


class WideBasicBlock(BaseModule):
    """Pre-activation basic block of a wide residual network.

    ``BN-ReLU-conv3x3(stride)-BN-ReLU-[dropout]-conv3x3`` plus a shortcut:
    the identity when the shape is kept, otherwise a 1x1 convolution (with
    the stride) applied to the pre-activated input, as in the authors' code.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first convolution. Defaults to 1.
        dropout (float): Dropout probability between the two convolutions.
            Defaults to 0.
        norm_cfg (dict): Config of the normalization layers. Defaults to
            ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 dropout: float = 0.0,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.dropout = dropout
        self.shortcut: Optional[nn.Conv2d] = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Forward one block."""
        pre = F.relu(self.norm1(x))
        out = F.relu(self.norm2(self.conv1(pre)))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        out = self.conv2(out)
        identity = x if self.shortcut is None else self.shortcut(pre)
        return out + identity


@MODELS.register_module()
class WideResNetCIFAR(CIFARBackbone):
    """Wide residual network for CIFAR (Zagoruyko & Komodakis, 2016).

    `Wide Residual Networks <https://arxiv.org/abs/1605.07146>`_: a 3x3
    stem with 16 channels, then three groups of ``(depth - 4) / 6``
    pre-activation basic blocks (:class:`WideBasicBlock`) with
    ``16k``, ``32k`` and ``64k`` channels and strides 1, 2, 2, and a final
    BN-ReLU. WRN-28-10 (the defaults) has 36.5M parameters with a
    10-class linear head; its output has 640 channels at 1/4 of the input
    size (8x8 for CIFAR), ready for ``GlobalAveragePooling`` and
    ``LinearClsHead(in_channels=640)``.

    Args:
        depth (int): Depth ``6n + 4``. Defaults to 28.
        widen_factor (int): Width multiplier ``k``. Defaults to 10.
        dropout (float): Dropout probability inside every block, in
            ``[0, 1)``. Defaults to 0 (the SAM papers' setting).
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int]): Groups (0, 1, 2) whose outputs are
            returned; the last group's output is taken after the final
            BN-ReLU, the others are the raw residual sums. Defaults to
            ``(2, )``.
        norm_cfg (dict): Config of the normalization layers. Defaults to
            ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to Kaiming normal (fan-out) convolutions and unit
            normalization weights, as in the authors' code.
    """

    def __init__(self,
                 depth: int = 28,
                 widen_factor: int = 10,
                 dropout: float = 0.0,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(out_indices, init_cfg)
        if isinstance(depth, bool) or not isinstance(depth, int) \
                or depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(
                f'depth must be 6n + 4 with n >= 1, got {depth!r}')
        if isinstance(widen_factor, bool) \
                or not isinstance(widen_factor, int) or widen_factor < 1:
            raise ValueError(
                f'widen_factor must be an int >= 1, got {widen_factor!r}')
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout < 1:
            raise ValueError(f'dropout must be in [0, 1), got {dropout!r}')
        self.depth = depth
        self.widen_factor = widen_factor
        num_blocks = (depth - 4) // 6
        widths = [16 * widen_factor * 2**i for i in range(3)]

        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, padding=1, bias=False)
        channels = 16
        for i, (width, stride) in enumerate(zip(widths, (1, 2, 2))):
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    WideBasicBlock(
                        channels,
                        width,
                        stride=stride if j == 0 else 1,
                        dropout=dropout,
                        norm_cfg=norm_cfg))
                channels = width
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*blocks))
            self.layer_names.append(name)
        self.norm_final = build_norm_layer(norm_cfg, channels)[1]
        self.out_channels = channels
