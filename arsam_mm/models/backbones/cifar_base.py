"""What the CIFAR backbones share: a 3x3 stem, three groups of residual
blocks and a final BN-ReLU, with the groups' outputs picked by
``out_indices``."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.base_backbone import BaseBackbone

__all__ = ['CIFARBackbone']

#: Kaiming normal (fan-out) convolutions and unit normalization weights, as
#: in the authors' code of both networks.
DEFAULT_INIT = [
    dict(type='Kaiming', layer=['Conv2d']),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


class CIFARBackbone(BaseBackbone):
    """Base of :class:`~.WideResNetCIFAR` and :class:`~.PyramidNetCIFAR`.

    A subclass builds ``conv1`` (the stem), the groups ``layer1`` ..
    ``layer3`` (named in ``layer_names``) and ``norm_final``, and overrides
    :meth:`stem` when its stem is more than ``conv1``.

    Args:
        out_indices (Sequence[int]): Groups (0, 1, 2) whose outputs are
            returned; the last group's output is taken after the final
            BN-ReLU, the others are the raw residual sums.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to :data:`DEFAULT_INIT`.

    Raises:
        ValueError: For ``out_indices`` that name no group or another
            index.
    """

    def __init__(self,
                 out_indices: Sequence[int],
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(
            init_cfg=DEFAULT_INIT if init_cfg is None else init_cfg)
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in (0, 1, 2) for i in out_indices):
            raise ValueError('out_indices must name groups 0, 1 or 2, got '
                             f'{out_indices!r}')
        self.out_indices = out_indices
        self.layer_names: List[str] = []

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """The stem: ``conv1``."""
        return self.conv1(x)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Features of the groups in ``out_indices``.

        Args:
            x (torch.Tensor): Images, ``(N, C, H, W)``.

        Returns:
            tuple[torch.Tensor]: One feature map per entry of
            ``out_indices``.
        """
        x = self.stem(x)
        outs = []
        for i, name in enumerate(self.layer_names):
            x = getattr(self, name)(x)
            if i == len(self.layer_names) - 1:
                x = F.relu(self.norm_final(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
