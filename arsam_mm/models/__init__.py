"""Models of the SAM papers' CIFAR experiments, registered in mmpretrain's
``MODELS`` registry (``default_scope='mmpretrain'``).

Importing this package imports mmpretrain (and so torchvision);
``import arsam_mm`` does not import it, :mod:`arsam_mm.mmpretrain` does.
"""
from .backbones import PyramidNetCIFAR, WideResNetCIFAR

__all__ = ['WideResNetCIFAR', 'PyramidNetCIFAR']
