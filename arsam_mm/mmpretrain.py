"""arsam_mm's registrations in mmpretrain, for the classification configs.

``import arsam_mm`` registers the optimizer wrappers and the hook only and
stays light; this module is imported explicitly where mmpretrain is used.
It registers, in mmpretrain's registries (``default_scope='mmpretrain'``):

- ``MODELS``: ``WideResNetCIFAR`` and ``PyramidNetCIFAR``, the CIFAR
  backbones of the SAM papers (:mod:`arsam_mm.models`);
- ``DATASETS``: ``LocalCIFAR10`` and ``LocalCIFAR100``, mmpretrain's CIFAR
  datasets reading generated or official files offline
  (:mod:`arsam_mm.data.local_cifar`).

In a config::

    custom_imports = dict(
        imports=['arsam_mm', 'arsam_mm.mmpretrain'],
        allow_failed_imports=False)

Importing it imports mmpretrain, and so torchvision.
"""
from .data.local_cifar import LocalCIFAR10, LocalCIFAR100
from .models import PyramidNetCIFAR, WideResNetCIFAR

__all__ = [
    'WideResNetCIFAR', 'PyramidNetCIFAR', 'LocalCIFAR10', 'LocalCIFAR100'
]
