"""Backbones registered in mmpretrain's ``MODELS`` registry."""
from .pyramidnet import PyramidNetCIFAR
from .wide_resnet import WideResNetCIFAR

__all__ = ['WideResNetCIFAR', 'PyramidNetCIFAR']
