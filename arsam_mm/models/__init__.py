"""Models of the SAM papers' CIFAR experiments, registered in mmpretrain's
``MODELS`` registry (``default_scope='mmpretrain'``).

Importing this package imports mmpretrain (and so torchvision);
``import arsam_mm`` imports it only when mmpretrain is installed.
"""
from .backbones import PyramidNetCIFAR, WideResNetCIFAR

__all__ = ['WideResNetCIFAR', 'PyramidNetCIFAR']
